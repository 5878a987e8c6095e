"""Pure: each `--expect` judged against a report -> (met, the state a miss deserves, what was seen).
The vocabulary and parser are probe.judge.expect; probe.judge.health turns each answer into a check."""

from __future__ import annotations

from probe.judge.expect import Expectation, ExpectKind
from probe.judge.reportfacts import all_steps, steps_of, transient_unreachable
from probe.model import Context, DomainStatus, ExitCode, Report, Verdict, tls_negotiated


def _uncertain(report: Report) -> bool:
    """True when the evidence itself was transient: a mismatch then is a WARNING, not CRITICAL."""
    if transient_unreachable(report):
        return True
    return any(a.verdict in (Verdict.RISKY, Verdict.UNKNOWN) for a in report.addresses)


def judge_expectation(report: Report, e: Expectation) -> tuple[bool, ExitCode, str]:
    status_text = str(report.status).replace("_", " ")
    if e.kind is ExpectKind.ACCEPTS_MAIL:
        transient = transient_unreachable(report) or report.status in (DomainStatus.DNS_ERROR,
                                                                         DomainStatus.REFUSES_THIS_CLIENT)
        return (report.status is DomainStatus.ACCEPTS_MAIL,
                ExitCode.WARNING if transient else ExitCode.CRITICAL, f"domain {status_text} ({report.reason})")
    if e.kind is ExpectKind.NO_MAIL:
        refusing = any(s.context is Context.BANNER and s.code in (521, 556) for s in all_steps(report))
        met = report.status is DomainStatus.DOES_NOT_ACCEPT_MAIL or (
            refusing and report.status is DomainStatus.UNREACHABLE)
        # refused this client: whether the domain takes mail from others is unknown from here
        miss = ExitCode.WARNING if report.status is DomainStatus.REFUSES_THIS_CLIENT else ExitCode.CRITICAL
        return met, miss, f"domain {status_text} ({report.reason})"
    if e.kind in (ExpectKind.DELIVERABLE, ExpectKind.UNDELIVERABLE, ExpectKind.RISKY):
        return judge_verdicts(report, Verdict(str(e.kind)))
    if e.kind is ExpectKind.STARTTLS:
        talked = [s for s in report.sessions if any(st.code is not None and 200 <= st.code < 300
                                                     for st in steps_of(s, Context.EHLO, Context.HELO))]
        without = [s.host for s in talked if not tls_negotiated(s.tls)]
        if not talked:
            return False, ExitCode.CRITICAL, "no MX host got as far as EHLO"
        if without:
            return False, ExitCode.CRITICAL, f"no TLS with {', '.join(dict.fromkeys(without))}"
        return True, ExitCode.OK, ", ".join(f"{s.host} {(s.tls or {}).get('version', 'TLS')}" for s in talked)
    mismatch = ExitCode.WARNING if _uncertain(report) else ExitCode.CRITICAL
    if e.kind is ExpectKind.REASON:
        seen = list(dict.fromkeys([str(report.reason), *(str(a.reason) for a in report.addresses)]))
        return e.value in seen, mismatch, f"reasons seen: {', '.join(seen)}"
    codes = _codes_seen(report)
    return e.value in codes, mismatch, f"codes seen: {', '.join(codes) or 'none'}"


def judge_verdicts(report: Report, wanted: Verdict) -> tuple[bool, ExitCode, str]:
    """Every address must have the wanted verdict; the worst miss decides WARNING or CRITICAL."""
    if not report.addresses:
        return False, ExitCode.UNKNOWN, "no address was given to test"
    misses = [a for a in report.addresses if a.verdict is not wanted]
    seen = ", ".join(f"{a.address} {a.verdict} ({a.reason})" for a in (misses or report.addresses))
    if not misses:
        return True, ExitCode.OK, seen
    uncertain = (Verdict.UNKNOWN,) if wanted is Verdict.RISKY else (Verdict.UNKNOWN, Verdict.RISKY)
    status = max(ExitCode.WARNING if a.verdict in uncertain else ExitCode.CRITICAL for a in misses)
    return False, status, seen


def _codes_seen(report: Report) -> list[str]:
    """Every basic and enhanced code in the dialogue and the address results, in order, once."""
    seen: list[str] = []
    for step in all_steps(report):
        seen.extend(str(v) for v in (step.code, step.enhanced) if v is not None)
    for a in report.addresses:
        seen.extend(str(v) for v in (a.code, a.enhanced) if v is not None)
    return list(dict.fromkeys(seen))
