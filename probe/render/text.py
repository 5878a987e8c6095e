"""Edge: the human report. Pure: Report -> str. Colour only when asked; server text always escaped."""

from __future__ import annotations

from typing import Any

from ..health import HealthResult, tls_negotiated
from ..model import AddressResult, Context, DomainStatus, ExitCode, Finding, Report, Session, Severity, Step, Verdict
from .safe import printable

_RESET = "\x1b[0m"
_STYLES = {"green": "\x1b[32m", "yellow": "\x1b[33m", "red": "\x1b[31m", "bold": "\x1b[1m",
           "dim": "\x1b[2m", "cyan": "\x1b[36m"}

_VERDICT_STYLE = {Verdict.DELIVERABLE: "green", Verdict.RISKY: "yellow",
                  Verdict.UNDELIVERABLE: "red", Verdict.UNKNOWN: "yellow"}
_STATUS_STYLE = {DomainStatus.ACCEPTS_MAIL: "green", DomainStatus.DOES_NOT_ACCEPT_MAIL: "red",
                 DomainStatus.UNREACHABLE: "red", DomainStatus.NO_SUCH_DOMAIN: "red",
                 DomainStatus.DNS_ERROR: "yellow", DomainStatus.REFUSES_THIS_CLIENT: "yellow"}
_SEVERITY_STYLE = {Severity.OK: "green", Severity.INFO: "cyan", Severity.WARNING: "yellow",
                   Severity.CRITICAL: "red"}
_EXIT_NAMES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *styles: str) -> str:
        if not self.color or not styles:
            return text
        return "".join(_STYLES[s] for s in styles) + text + _RESET


def render_text(report: Report, *, color: bool = False, verbose: bool = False,
                health: HealthResult | None = None) -> str:
    """The report a person reads at a terminal; with `verbose` the annotated transcript too.

    With `health` (what decided the exit code) the last lines say why: the state and the
    health summary, each unmet expectation and each broken limit.
    """
    p = _Painter(color)
    out: list[str] = []
    if report.error is not None:  # bad usage or input: nothing was asked, there is nothing else to show
        out += [f"{p(printable(report.domain), 'bold')} — {p('COULD NOT RUN', 'bold', 'yellow')}",
                f"  {printable(report.error)}", "", p("UNKNOWN: nothing was sent (exit 3)", "dim")]
        return "\n".join(out) + "\n"
    status = str(report.status).replace("_", " ").upper()
    out.append(f"{p(report.domain, 'bold')} — {p(status, 'bold', _STATUS_STYLE[report.status])}"
               + (f"  ({report.reason})" if report.reason != "accepted" else ""))
    out.extend(_mx_table(report, p))
    if report.transport:
        out.append("")
        out.append(p("Transport security", "bold") + f"  {printable(report.transport['domain'])}")
        for host, line in report.transport["hosts"].items():
            out.append(f"  {host}: {printable(line)}")
    shown = [f for f in report.findings if verbose or f.severity is not Severity.INFO]
    if shown:
        out.append("")
        out.append(p("Findings", "bold"))
        for f in shown:
            mark = p(f"{f.severity:<8}", _SEVERITY_STYLE[f.severity])
            out.append(f"  {mark} {printable(f.message)}  {p('[' + f.id + ']', 'dim')}")
    hidden = len(report.findings) - len(shown)
    if hidden:
        out.append(p(f"  ({hidden} informational finding{'s' if hidden > 1 else ''}: -v shows them)", "dim"))
    for a in report.addresses:
        out.append("")
        out.extend(_address(a, p))
    if verbose:
        for s in report.sessions:
            out.append("")
            out.extend(_transcript(s, p))
    out.append("")
    elapsed = p(f"  ({report.elapsed_ms / 1000:.2f} s)", "dim")
    if health is None:
        name = _EXIT_NAMES.get(int(report.exit_code), "?")
        out.append(p(f"{name}: {printable(report.summary)}", "dim") + elapsed)
    else:
        out.extend(_why(health, p, elapsed))
    return "\n".join(out) + "\n"


_STATE_STYLE = {"OK": "green", "WARNING": "yellow", "CRITICAL": "red", "UNKNOWN": "yellow"}


def _why(health: HealthResult, p: _Painter, elapsed: str) -> list[str]:
    """The exit state and what decided it: the health summary, unmet expectations, broken limits."""
    out = [p(health.state, "bold", _STATE_STYLE.get(health.state, "dim")) + f": {printable(health.summary)}"
           + elapsed]
    for record in health.expectations:
        if not record.get("met"):
            out.append(f"  expectation not met: {printable(str(record.get('detail')))}")
    for check in health.checks:
        if check.name in ("time", "certificate") and check.status is not ExitCode.OK:
            where = f" ({check.mx})" if check.mx else ""
            out.append(f"  limit broken: {printable(check.message)}{where}")
    return out


def _mx_table(report: Report, p: _Painter) -> list[str]:
    out = ["", p("Mail servers", "bold") + p(f"  (source: {report.mx_source})", "dim")]
    if not report.mx:
        out.append("  none")
        return out
    tried: dict[str, list[Session]] = {}
    for s in report.sessions:
        tried.setdefault(s.host, []).append(s)
    for mx in report.mx:
        label = f"  {mx.preference:>3} {mx.host}" + (" (implicit MX)" if mx.implicit else "")
        out.append(label + (p(f"  {mx.error}", "yellow") if mx.error else ""))
        addresses = mx.addresses or ["-"]
        for ip in addresses:
            sessions = [s for s in tried.get(mx.host, []) if s.address == ip]
            if not sessions:
                out.append(f"        {ip:<24} {p('not tried', 'dim')}")
                continue
            for s in sessions:
                out.append(f"        {ip:<24} {_session_line(s, p)}")
    return out


def _session_line(s: Session, p: _Painter) -> str:
    style = "green" if s.outcome == "completed" else "red" if s.outcome in ("rejected", "refused") else "yellow"
    parts = [p(s.outcome, style)]
    if tls_negotiated(s.tls) and s.tls is not None:
        version = s.tls.get("version") or "TLS"
        cert = s.tls.get("certificate") or {}
        trusted = cert.get("trusted")
        parts.append(f"{version}" + ("" if trusted in (None, True) else p(" (untrusted certificate)", "yellow")))
    elif s.tls and s.tls.get("error"):
        parts.append(p(f"STARTTLS failed ({printable(str(s.tls['error']))})", "yellow"))
    elif "STARTTLS" in s.extensions:
        parts.append(p("STARTTLS offered, not used", "dim"))
    parts.append(f"{s.elapsed_ms:.0f} ms")
    ending = _ending_reply(s)
    if ending is not None:  # the host answered: its refusal or deferral, as it said it (e.g. a 521)
        parts.append(p(ending, "red" if s.outcome == "rejected" else "yellow"))
    elif s.error and s.outcome != "completed":
        parts.append(p(printable(s.error), "dim"))
    return "  ".join(parts)


def _ending_reply(s: Session) -> str | None:
    """'521 5.3.2 Service currently unavailable' for a session the server ended by refusing or deferring."""
    if s.outcome not in ("rejected", "deferred"):
        return None
    replies = [step for step in s.steps if step.code is not None and step.context is not Context.QUIT]
    if not replies:
        return None
    first = replies[-1].text.split("\n", 1)[0]
    return printable(first[:120])


def _address(a: AddressResult, p: _Painter) -> list[str]:
    verdict = p(str(a.verdict).upper(), "bold", _VERDICT_STYLE[a.verdict])
    head = f"{p(printable(a.address), 'bold')} — {verdict}  ({a.reason})"
    out = [head]
    if a.text:
        where = f"{a.command} " if a.command else ""
        via = f" from {a.host}" if a.host else ""
        out.append(f"  {where}reply{via}: {printable(a.text).replace(chr(10), ' / ')}")
    if a.catch_all is not None:
        out.append("  catch-all: " + ("yes — the domain accepts any address, so acceptance proves little"
                                      if a.catch_all else "no — a random address was refused"))
    if a.vrfy:
        out.append(f"  VRFY: {printable(str(a.vrfy.get('text', '')))}  ({a.vrfy.get('reason')})")
    if a.provider:
        out.append(f"  provider: {a.provider}")
    out.append(f"  {p('Meaning:', 'bold')} {printable(a.meaning)}")
    out.append(f"  {p('What to do:', 'bold')} {printable(a.remediation)}")
    if a.retry_after_s:
        out.append(f"  retry after: {a.retry_after_s:g} s")
    return out


def _transcript(s: Session, p: _Painter) -> list[str]:
    out = [p(f"Transcript {s.host} [{s.address}]:{s.port} — {s.outcome}, {s.elapsed_ms:.0f} ms", "bold")]
    for step in s.steps:
        out.extend(_step(step, p))
    return out


def _step(step: Step, p: _Painter) -> list[str]:
    out = []
    if step.command:
        out.append(f"  {p('C:', 'cyan')} {printable(step.command)}")
    tag = p(f"[{step.reason}]", _SEVERITY_STYLE[step.severity])
    time = p(f"{step.elapsed_ms:.0f} ms", "dim")
    if step.code is None and not step.lines:
        if step.severity is Severity.OK:  # e.g. QUIT whose 221 was not awaited: a note, not an alarm
            out.append(f"     {p('(' + printable(step.text) + ')', 'dim')}")
        else:
            out.append(f"  {p('!!', 'yellow')} {printable(step.text)}  {tag}  {time}")
        return out
    prefix = p("S:", "cyan") if not step.unsolicited else p("S (unsolicited):", "yellow")
    lines = step.text.split("\n") or [""]
    for i, line in enumerate(lines):
        suffix = f"  {tag}  {time}" if i == len(lines) - 1 else ""
        out.append(f"  {prefix} {printable(line)}{suffix}")
    if step.severity in (Severity.WARNING, Severity.CRITICAL):
        out.append(f"      {p(printable(step.meaning), 'dim')}")
    return out


def render_self_check(audit: dict[str, Any], findings: list[Finding], *, color: bool = False) -> str:
    """`smtp-probe self-check`: how receivers see this machine as a mail client."""
    p = _Painter(color)
    ip = audit.get("ip")
    helo_suffix = f"  (HELO {audit['helo']})" if audit.get("helo") else ""
    out = [p(f"Self-check of {ip or 'this machine'}", "bold") + helo_suffix]
    if ip:
        ptr = ", ".join(audit.get("ptr") or []) or p("none", "red")
        confirmed_labels: dict[bool | None, str] = {True: p("forward-confirmed", "green"),
                                                    False: p("NOT forward-confirmed", "red")}
        confirmed = confirmed_labels.get(audit.get("forward_confirmed"), "")
        out.append(f"  reverse DNS  {ptr}  {confirmed}".rstrip())
        helo_ok = audit.get("helo_matches_ptr") or audit.get("helo_resolves_to_ip")
        if audit.get("helo"):
            verdict = p("consistent", "green") if helo_ok else p("inconsistent", "yellow")
            out.append(f"  HELO name    {audit['helo']}  " + verdict)
        for entry in audit.get("dnsbl") or []:
            status = entry.get("status")
            style = {"listed": "red", "not_listed": "green", "refused": "yellow", "error": "yellow"}.get(status, "dim")
            detail = f"  {printable(entry.get('meaning') or '')}" if status == "listed" else ""
            out.append(f"  {entry.get('zone', ''):<28} {p(str(status).replace('_', ' '), style)}{detail}")
    if findings:
        out.append("")
        for f in findings:
            out.append(f"  {p(f'{f.severity:<8}', _SEVERITY_STYLE[f.severity])} {printable(f.message)}  "
                       f"{p('[' + f.id + ']', 'dim')}")
    return "\n".join(out) + "\n"
