"""Pure: what counts as healthy — expectations, thresholds, checks, exit code. No I/O, no formatting.

Every monitoring format (Nagios, Prometheus, JUnit) reads the same `HealthResult`,
so they always agree with each other and with the exit code.

The exit-code policy, in one place (each rule has a test in tests/unit/test_health.py):

* `report.error` set (the probe could not run: bad input, local resolver failure)
  → one UNKNOWN check, exit 3, nothing else is judged.
* SPEC.md defaults, when no expectation is given: the domain accepts mail and every
  address is deliverable → 0 OK; only transient or uncertain results (greylisting,
  ANY 4xx reply including a 4xx/421 banner, 252, catch-all/risky, unknown verdicts, a server
  that greeted and then went quiet past --timeout) → 1 WARNING; permanent failures
  (undeliverable, does not accept mail, no such domain, unreachable) → 2 CRITICAL. A failing
  MX host while the domain still accepts mail through another one is WARNING. With `--expect`, observations are
  reported but count as OK: the expectations alone decide.
* `refuses_this_client` (the MX hosts answered but refused this client by policy: postscreen,
  a blocklist, reputation, a rate limit at connect or EHLO) → 1 WARNING. The servers are up and
  speaking SMTP, so paging someone as for an outage (CRITICAL) would be wrong; but nothing could be
  checked from here, and a monitoring host refused by its own site's MX is worth a look. Each refusing
  host's reply counts WARNING, not CRITICAL; `--expect accepts-mail`/`no-mail` unmet by it → WARNING.
* `dns_error` is WARNING (SERVFAIL/REFUSED from the domain's servers is transient),
  except when our own resolver could not be reached at all (the MX lookup timed out
  or found no usable nameserver): 3 UNKNOWN "local resolver failure".
* `port25-blocked` (every MX connection attempt timed out from here): 3 UNKNOWN —
  the probe could not run from this network; it says nothing about the target.
* Findings: ONE rule in every mode and format — a finding counts at its own severity (INFO → 0,
  WARNING → 1, CRITICAL → 2), so no line marked critical stands under an OK exit and Prometheus and
  JUnit show a warning finding as failing. Findings that are only advice are INFO. A certificate
  problem (expired, untrusted, self-signed, wrong name, unreadable, expiring within --cert-warning
  days) is WARNING by default and CRITICAL where MTA-STS enforce or DANE covers that MX
  (probe.tls.checks.grade_certificate_findings); `--cert-critical DAYS` (and `--starttls require`,
  with 7) makes expiring within DAYS, and expired, CRITICAL. STARTTLS missing/refused/failed is
  advice (INFO) in auto mode, CRITICAL under `--starttls require`. Findings about this machine (source-*) are at most
  WARNING in a probe. MX hosts that disagree about an address (--all-mx, mx-disagree): CRITICAL
  when mail failing over would bounce, else WARNING.
* What the user asked for always counts: each `--expect`, `--warning/--critical`,
  certificate days left `<=` the cert thresholds (judged only when given: the CLI passes
  the effective values, 21/7 with `--starttls require`; the findings compare alike),
  `--starttls require` (missing or failed STARTTLS, and its findings, → CRITICAL).
* The exit code is the worst status among all checks (UNKNOWN, 3, outranks all).
* TLS counts only with a version and no error (`tls_negotiated`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from probe.judge.expect import VALID_FORMS, Expectation, ExpectKind, parse_expectation
from probe.judge.expectations import judge_expectation
from probe.judge.reportfacts import (
    TRANSIENT_REASONS,
    any_reply,
    is_4xx,
    local_resolver_failure,
    mx_origin,
    named_hosts,
    session_label,
    steps_of,
    transient_unreachable,
)
from probe.model import (
    AddressResult,
    Context,
    DomainStatus,
    ExitCode,
    Reason,
    Report,
    Session,
    Severity,
    Step,
    Verdict,
    exim_generated,
    tls_negotiated,
)

__all__ = [  # the --expect vocabulary lives in probe.judge.expect and is re-exported here
    "TRANSIENT_REASONS", "VALID_FORMS", "Check", "ExpectKind", "Expectation",
    "HealthResult", "evaluate", "finish_report", "local_resolver_failure", "parse_expectation", "session_label",
    "tls_negotiated",
]


@dataclass(frozen=True, slots=True)
class Check:
    """One thing a monitor cares about. `status` is its contribution to the exit code."""

    name: str  # "domain", "connect", "banner", "ehlo", "starttls", "rcpt user@x", "expect deliverable"
    status: ExitCode
    message: str  # one self-contained phrase, e.g. "certificate expires in 5 days"
    elapsed_ms: float | None = None
    mx: str | None = None  # the session label (MX host, plus its address when the host has several)
    detail: str | None = None  # server text behind the result, raw (renderers escape it)
    skipped: bool = False  # not applicable here (VRFY disabled, STARTTLS not offered, not attempted)


@dataclass(frozen=True, slots=True)
class HealthResult:
    """The verdict of `evaluate`: exit code, its name, one summary line and every check."""

    exit_code: ExitCode
    state: str  # "OK" | "WARNING" | "CRITICAL" | "UNKNOWN"
    summary: str
    checks: list[Check] = field(default_factory=list)
    expectations: list[dict[str, Any]] = field(default_factory=list)  # Report.expectations shape
    warning_s: float | None = None  # the thresholds judged against, for perfdata
    critical_s: float | None = None
    cert_warning_days: int | None = None
    cert_critical_days: int | None = None


def evaluate(
    report: Report,
    expectations: Sequence[Expectation] = (),
    *,
    warning_s: float | None = None,
    critical_s: float | None = None,
    cert_warning_days: int | None = None,
    cert_critical_days: int | None = None,
    starttls_required: bool = False,
) -> HealthResult:
    """Judge a report: one check per thing a monitor cares about, and the exit code they add up to."""
    if report.error:
        check = Check("probe", ExitCode.UNKNOWN, f"probe could not run: {report.error}")
        return HealthResult(ExitCode.UNKNOWN, "UNKNOWN", f"{report.domain}: {check.message}", [check])
    judge = _Judge(report, observing=not expectations)
    checks: list[Check] = [judge.domain()]
    for session in report.sessions:
        checks.extend(judge.session(session, starttls_required=starttls_required,
                                    cert_thresholds=(cert_warning_days, cert_critical_days)))
    for address in report.addresses:
        checks.extend(judge.address(address))
    checks.extend(judge.findings())
    results = [_expectation_check(report, e) for e in expectations]
    checks.extend(check for check, _ in results)
    checks.append(_time_check(report, warning_s, critical_s))
    exit_code = max((c.status for c in checks), default=ExitCode.OK)
    records = [{"expect": str(e), "met": met, "detail": c.message}
               for e, (c, met) in zip(expectations, results, strict=True)]
    return HealthResult(exit_code, exit_code.name, _summary(report, checks, exit_code, len(results)),
                        checks, records, warning_s, critical_s, cert_warning_days, cert_critical_days)


# --- observations -------------------------------------------------------------------------

_SEVERITY_STATUS = {Severity.OK: ExitCode.OK, Severity.INFO: ExitCode.OK,
                    Severity.WARNING: ExitCode.WARNING, Severity.CRITICAL: ExitCode.CRITICAL}
_VERDICT_STATUS = {Verdict.DELIVERABLE: ExitCode.OK, Verdict.RISKY: ExitCode.WARNING,
                   Verdict.UNKNOWN: ExitCode.WARNING, Verdict.UNDELIVERABLE: ExitCode.CRITICAL}
_NO_CONNECTION = frozenset({"refused", "timeout", "reset", "unreachable"})
def _reply_phrase(step: Step) -> str:
    """'550 5.1.1 user_unknown' — code, enhanced code and reason, never the server's own text."""
    parts = [str(p) for p in (step.code, step.enhanced) if p is not None]
    return " ".join([*parts, str(step.reason)])


def _mentions(step: Step, address: str) -> bool:
    return step.command is not None and address.lower() in step.command.lower()


class _Judge:
    """Builds the observation checks; in expectation mode they are reported with status OK."""

    def __init__(self, report: Report, *, observing: bool) -> None:
        self.report = report
        self.observing = observing
        self.domain_ok = report.status is DomainStatus.ACCEPTS_MAIL
        # a host's failure is at most a WARNING when another host took the mail, or when the hosts
        # answered and refused only this client (the refusal is the domain check's WARNING)
        self.capped = self.domain_ok or report.status is DomainStatus.REFUSES_THIS_CLIENT

    def _observed(self, status: ExitCode, *, capped: bool = False) -> ExitCode:
        if not self.observing:
            return ExitCode.OK
        return min(status, ExitCode.WARNING) if capped else status

    def domain(self) -> Check:
        r = self.report
        mx = ", ".join(f"{h.host} ({mx_origin(r, h)})" for h in r.mx)
        named = named_hosts(r)
        at = f" at {named} (named with --mx; the domain's MX records were not looked up)" if named else ""
        phrases = {
            DomainStatus.ACCEPTS_MAIL: f"accepts mail (MX: {mx})" if mx else "accepts mail",
            DomainStatus.DOES_NOT_ACCEPT_MAIL: f"does not accept mail{at} ({r.reason}"
                                               f"{', null MX' if r.mx_source == 'null' else ''})",
            DomainStatus.REFUSES_THIS_CLIENT: f"answered but refused this client{at} ({r.reason})",
            DomainStatus.UNREACHABLE: (f"answered but broke the SMTP protocol ({r.reason})"
                                       if r.reason is Reason.PROTOCOL_ERROR else
                                       f"no mail server gave a definitive answer ({r.reason})"
                                       if any_reply(r) else f"no mail server answered ({r.reason})"
                                       if any(s.address for s in r.sessions)
                                       else "no MX host has an address, so none was tried"),
            DomainStatus.NO_SUCH_DOMAIN: "no such domain (NXDOMAIN)",
            DomainStatus.DNS_ERROR: f"DNS lookup failed ({r.reason})",
        }
        status = ExitCode.OK if self.domain_ok else ExitCode.CRITICAL
        if transient_unreachable(r) or r.status in (DomainStatus.DNS_ERROR, DomainStatus.REFUSES_THIS_CLIENT):
            status = ExitCode.WARNING
        if local_resolver_failure(r):
            return Check("domain", ExitCode.UNKNOWN, f"local resolver failure: {phrases[r.status]}")
        return Check("domain", self._observed(status), phrases[r.status])  # detail quotes servers only

    def session(self, session: Session, *, starttls_required: bool,
                cert_thresholds: tuple[int | None, int | None]) -> list[Check]:
        label = session_label(self.report, session)
        capped = self.capped
        connect_steps = steps_of(session, Context.CONNECT)
        connect_ms = connect_steps[-1].elapsed_ms if connect_steps else None
        if session.outcome == "skipped":
            return [Check("connect", ExitCode.OK, f"not attempted ({session.error or 'deadline'})",
                          mx=label, skipped=True)]
        spoke = any(s.code is not None for s in session.steps)
        if not spoke and (session.outcome in _NO_CONNECTION or not session.steps):
            return [self._no_reply(session, label, connect_ms, capped)]
        checks = [Check("connect", ExitCode.OK, f"connected to {session.address}:{session.port}",
                        connect_ms, label)]
        for name, contexts in (("banner", (Context.BANNER,)), ("ehlo", (Context.EHLO, Context.HELO)),
                               ("mail", (Context.MAIL,))):
            steps = steps_of(session, *contexts)
            if steps:
                last = steps[-1]
                if session.outcome == "rejected":  # the refusal, not the lost connection a HELO found after it
                    last = next((s for s in reversed(steps) if s.code is not None), last)
                status = _SEVERITY_STATUS[last.severity]
                if is_4xx(last):  # a 4xx (421 banner included) is transient: never worse than WARNING
                    status = min(status, ExitCode.WARNING) if status is not ExitCode.OK else ExitCode.WARNING
                checks.append(Check(name, self._observed(status, capped=capped),
                                    f"{name if name != 'ehlo' else str(last.context)} {_reply_phrase(last)}",
                                    sum(s.elapsed_ms for s in steps), label,
                                    detail=last.text if last.code is not None else None))  # servers' words only
        checks.append(self._starttls(session, label, starttls_required, capped))
        checks.extend(_certificate_checks(session, label, *cert_thresholds, starttls_required,
                                          _worst_certificate_finding(self.report, session.host)))
        checks.extend(_dane_checks(session, label))
        return checks

    def _no_reply(self, session: Session, label: str, connect_ms: float | None, capped: bool) -> Check:
        """A session without a single reply: never tried (no address), no connection, or connected and then
        silence (a banner timeout is not "cannot connect"). The probe's own words; no server said anything."""
        status = self._observed(ExitCode.CRITICAL, capped=capped)
        if not session.address:
            return Check("connect", status, f"not tried: {session.host} has no address "
                         f"({session.error or 'no address records'})", mx=label)
        where = f"{session.address}:{session.port}"
        after = next((s for s in session.steps if s.context not in (Context.CONNECT, Context.DNS)), None)
        if after is None:
            return Check("connect", status, f"cannot connect to {where}: {session.outcome}", connect_ms, label)
        name = "banner" if after.context is Context.BANNER else str(after.context).lower()
        if session.outcome == "timeout":
            return Check(name, status, f"connected to {where}, then timed out {after.text}".rstrip(), connect_ms, label)
        return Check(name, status, f"connected to {where}, then {session.outcome}: {after.text}", connect_ms, label)

    def _starttls(self, session: Session, label: str, required: bool, capped: bool) -> Check:
        steps = steps_of(session, Context.STARTTLS, Context.TLS)
        elapsed = sum(s.elapsed_ms for s in steps) if steps else None
        detail = steps[-1].text if steps and steps[-1].code is not None else None
        if tls_negotiated(session.tls):
            tls = session.tls or {}
            return Check("starttls", ExitCode.OK, f"STARTTLS negotiated {tls.get('version', '')} "
                         f"{tls.get('cipher', '')}".rstrip(), elapsed, label, detail)
        worst = max((_SEVERITY_STATUS[s.severity] for s in steps), default=ExitCode.OK)
        failed = bool((session.tls or {}).get("error")) or session.outcome == "tls_failed"
        if steps and worst is ExitCode.OK and not failed:
            return Check("starttls", ExitCode.OK, "STARTTLS negotiated", elapsed, label, detail)
        if steps or failed:
            # advisory in auto mode (reported, status OK); CRITICAL only when the user required it.
            # Why: the step that went wrong (a 454, a TLS event), never the 220 that preceded it
            bad = next((s for s in reversed(steps) if s.severity in (Severity.WARNING, Severity.CRITICAL)), None)
            error = (session.tls or {}).get("error")
            why = (_reply_phrase(bad) if bad is not None and bad.code is not None
                   else str(error or (bad.text if bad is not None else session.outcome)))
            quoted = bad.text if bad is not None and bad.code is not None else None
            return Check("starttls", ExitCode.CRITICAL if required else ExitCode.OK, f"STARTTLS failed: {why}",
                         elapsed, label, quoted)
        spoke_ehlo = any(s.code is not None and 200 <= s.code < 300
                         for s in steps_of(session, Context.EHLO, Context.HELO))
        offered = "STARTTLS" in (x.upper() for x in session.extensions)
        if required and spoke_ehlo:
            return Check("starttls", ExitCode.CRITICAL,
                         "STARTTLS required but " + ("not used" if offered else "not offered"), mx=label)
        message = ("STARTTLS offered, not used" if offered else "STARTTLS not offered") if spoke_ehlo \
            else "STARTTLS not reached"
        return Check("starttls", ExitCode.OK, message, mx=label, skipped=True)

    def address(self, a: AddressResult) -> list[Check]:
        label = self._label_for_host(a.host)
        sessions = [s for s in self.report.sessions if s.host == a.host] if a.host else []
        rcpt = [s for session in sessions for s in steps_of(session, Context.RCPT) if _mentions(s, a.address)]
        code = " ".join(str(p) for p in (a.code, a.enhanced) if p is not None)
        extra = _CATCH_ALL if a.catch_all else ""
        message = f"{a.address} {a.verdict} ({a.reason}{', ' + code if code else ''}{extra})"
        checks = [Check(f"rcpt {a.address}", self._observed(_VERDICT_STATUS[a.verdict]), message,
                        rcpt[-1].elapsed_ms if rcpt else None, label,
                        detail=a.text if a.code is not None else None)]  # a server's reply, not a probe event
        if a.vrfy is not None:
            vrfy = [s for session in sessions for s in steps_of(session, Context.VRFY) if _mentions(s, a.address)]
            reason = str(a.vrfy.get("reason", Reason.UNKNOWN))
            code_text = " ".join(str(a.vrfy[k]) for k in ("code", "enhanced") if a.vrfy.get(k) is not None)
            disabled = reason == Reason.NOT_IMPLEMENTED
            checks.append(Check(
                f"vrfy {a.address}", ExitCode.OK,
                f"VRFY {a.address}: {code_text + ' ' if code_text else ''}{reason}"
                + (" (VRFY disabled; RCPT decides)" if disabled else ""),
                vrfy[-1].elapsed_ms if vrfy else None, label,
                detail=a.vrfy.get("text") if a.vrfy.get("code") is not None else None, skipped=disabled))
        return checks

    def _label_for_host(self, host: str | None) -> str | None:
        matching = [s for s in self.report.sessions if s.host == host]
        return session_label(self.report, matching[-1]) if matching else host

    def findings(self) -> list[Check]:
        """Each finding counts at its own severity (INFO: OK), in every mode and format; port25-blocked is
        UNKNOWN (the probe could not run from this network)."""
        checks: list[Check] = []
        for f in self.report.findings:
            status = ExitCode.UNKNOWN if f.id == "port25-blocked" else _SEVERITY_STATUS[f.severity]
            checks.append(Check(f"finding {f.id}", status, f.message, mx=f.subject))
        return checks


def _worst_certificate_finding(report: Report, host: str) -> ExitCode:
    """The certificate check agrees with the certificate findings about the same host (one rule)."""
    return max((_SEVERITY_STATUS[f.severity] for f in report.findings
                if f.id.startswith("cert-") and f.subject == host), default=ExitCode.OK)


def _certificate_checks(session: Session, label: str, warn_days: int | None, crit_days: int | None,
                        starttls_required: bool, from_findings: ExitCode = ExitCode.OK) -> list[Check]:
    """Days left against the thresholds (expired is CRITICAL when thresholds or `require` are set), and never
    better than the certificate findings about this host."""
    cert = (session.tls or {}).get("certificate")
    if not isinstance(cert, dict) or not isinstance(cert.get("days_left"), (int, float)):
        return []
    days = int(cert["days_left"])
    judged = warn_days is not None or crit_days is not None or starttls_required
    when = f"expired {-days} days ago" if days < 0 else f"expires in {days} days"
    if days >= 0 and exim_generated(cert):  # its dates are Exim's one or two hours, not a renewal to make
        return [Check("certificate", max(ExitCode.WARNING, from_findings),
                      "Exim's own temporary self-signed certificate (none configured)", mx=label)]
    problems = [p for p, key in (("untrusted", "trusted"), ("name mismatch", "hostname_match"))
                if cert.get(key) is False]
    by_days = ExitCode.OK
    if (days < 0 and judged) or (crit_days is not None and days <= crit_days):
        by_days = ExitCode.CRITICAL
    elif warn_days is not None and days <= warn_days:
        by_days = ExitCode.WARNING
    status = max(by_days, from_findings)
    if problems and status > by_days:  # the status is the trust problem's: the line leads with it, not the date
        message = f"certificate {', '.join(problems)}; {when}"
    else:
        message = f"certificate {when}" + (f" ({', '.join(problems)})" if problems else "")
    return [Check("certificate", status, message, mx=label)]  # detail holds servers' words only


def _dane_checks(session: Session, label: str) -> list[Check]:
    """A TLSA mismatch under DNSSEC is CRITICAL: DANE senders (RFC 7672) will not deliver."""
    dane = session.dane
    if not dane or not dane.get("records"):
        return []
    if dane.get("match") is False and dane.get("dnssec"):
        return [Check("dane", ExitCode.CRITICAL, "certificate does not match the DNSSEC-signed TLSA records",
                      mx=label)]
    if not dane.get("dnssec"):
        return [Check("dane", ExitCode.OK, "TLSA records are not DNSSEC-signed: DANE does not apply",
                      mx=label, skipped=True)]
    return [Check("dane", ExitCode.OK, "certificate matches the TLSA records", mx=label)]


# --- requirements ---------------------------------------------------------------------------

def _time_check(report: Report, warning_s: float | None, critical_s: float | None) -> Check:
    """Total time over --critical / --warning seconds (strictly greater, like check_smtp -c/-w)."""
    seconds = report.elapsed_ms / 1000
    message = f"probe took {seconds:.3f} s"
    for status, limit in ((ExitCode.CRITICAL, critical_s), (ExitCode.WARNING, warning_s)):
        if limit is not None and seconds > limit:
            return Check("time", status, f"{message} ({status.name.lower()} over {limit:g} s)", report.elapsed_ms)
    return Check("time", ExitCode.OK, message, report.elapsed_ms)


def _expectation_check(report: Report, e: Expectation) -> tuple[Check, bool]:
    """(check, met) for one expectation; an unmet one carries the state the mismatch deserves."""
    name = f"expect {e}"
    met, status, seen = judge_expectation(report, e)
    if met:
        return Check(name, ExitCode.OK, f"expected {e}: met ({seen})"), True
    return Check(name, status, f"expected {e}: {seen}"), False


# --- summary ----------------------------------------------------------------------------------

_CATCH_ALL = ", catch-all domain"  # an address check's note; a summary says it once for the domain


def _summary(report: Report, checks: list[Check], exit_code: ExitCode, expectations: int) -> str:
    """One line: what is wrong (the worst checks), or what is right."""
    def item(c: Check) -> str:
        message = c.message.rstrip(".")  # a sentence's full stop does not run into the "; " that follows
        return message + (f" ({c.mx})" if c.mx and c.mx not in message else "")

    if exit_code is ExitCode.OK:
        domain = next(c for c in checks if c.name == "domain")
        parts = [domain.message.split(" (")[0]]
        parts += [f"{a.address} {a.verdict}" + (f" ({a.host})" if a.host else "") for a in report.addresses]
        if report.postmaster is not None and report.postmaster.get("accepted") and not report.addresses:
            parts.append(f"{report.postmaster['address']} accepted ({report.postmaster['host']})")
        if expectations:
            parts.append(f"{expectations} expectation{'s' if expectations != 1 else ''} met")
        return f"{report.domain}: {', '.join(parts)}"
    worst = [item(c) for c in checks if c.status is exit_code and not _said_by_a_finding(c, checks)]
    if sum(_CATCH_ALL in w for w in worst) >= 2:  # a fact of the domain: said once, not per address
        worst = [f"{report.domain} is a catch-all domain"] + [w.replace(_CATCH_ALL, "") for w in worst]
    shown = worst[:3] + ([f"+{len(worst) - 3} more"] if len(worst) > 3 else [])
    return f"{report.domain}: {'; '.join(shown)}"


def _said_by_a_finding(check: Check, checks: list[Check]) -> bool:
    """A certificate check at the status of a certificate finding about the same host says the same thing
    less well ("expires in 89 days (untrusted)" beside "is not trusted"): a summary gives the finding only."""
    return check.name == "certificate" and any(
        o.name.startswith("finding cert-") and o.status is check.status and o.mx and o.mx in (check.mx or "")
        for o in checks)


def finish_report(report: Report, expectations: Sequence[Expectation] = (), **thresholds: Any) -> HealthResult:
    """Judge `report` (see evaluate) and record the verdict in it: exit_code and expectations."""
    health = evaluate(report, expectations, **thresholds)
    report.exit_code = health.exit_code
    report.expectations = health.expectations
    report.summary = _summary_with_why(report, health)
    return health


def _summary_with_why(report: Report, health: HealthResult) -> str:
    """The report's summary, and when the exit code is not OK for a reason it does not state (an unmet
    expectation, a broken limit, a counting finding), that reason: the summary of a CRITICAL run says why."""
    if health.exit_code is ExitCode.OK or report.error is not None:
        return report.summary
    said_by_summary = {"domain", "connect", "banner"}
    if report.reason is Reason.TLS_FAILURE:  # conclude's summary said why no host met --starttls require
        said_by_summary |= {"starttls", "finding starttls-failed", "finding starttls-missing"}
    missing = [c.message for c in health.checks if c.status is health.exit_code
               and c.name not in said_by_summary and not c.name.startswith("rcpt ")
               and c.message not in report.summary and not _said_by_a_finding(c, health.checks)]
    if not missing:
        return report.summary
    shown = missing[:2] + ([f"+{len(missing) - 2} more"] if len(missing) > 2 else [])
    return f"{report.summary}; {health.state}: {'; '.join(shown)}"

