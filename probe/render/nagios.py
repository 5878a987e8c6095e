"""Edge, pure: Report + HealthResult -> monitoring-plugins output (Nagios, Icinga, Naemon). No I/O.

`SMTP STATE - summary | perfdata` on the first line, long output below: each check
that is not OK (with what the server said), then the transcript-free details.
Server text is escaped by probe.render.safe.printable and never carries a "|",
which would cut the perfdata off; numbers use the C locale.
"""

from __future__ import annotations

import re

from probe.judge.health import Check, HealthResult
from probe.judge.reportfacts import at_named_hosts, mx_origin, refusal_advice, session_label
from probe.model import Context, ExitCode, Report, Session
from probe.render.safe import printable

# Perfdata per phase, in dialogue order: (label suffix, contexts summed into it)
PHASES: tuple[tuple[str, tuple[Context, ...]], ...] = (
    ("connect", (Context.CONNECT,)),
    ("banner", (Context.BANNER,)),
    ("ehlo", (Context.EHLO, Context.HELO)),
    ("starttls", (Context.STARTTLS, Context.TLS)),
    ("vrfy", (Context.VRFY,)),
    ("mail", (Context.MAIL,)),
    ("rcpt", (Context.RCPT,)),
)
_PLAIN_LABEL = re.compile(r"[A-Za-z0-9_.:-]+")


def clean(text: str) -> str:
    """One line of untrusted text made safe for plugin output: escaped, single-line, no '|'."""
    lines = [printable(line) for line in text.splitlines()]
    return " / ".join(line for line in lines if line).replace("|", "/")


def _label(text: str) -> str:
    """A perfdata label: no '=' or quote inside, single-quoted unless plainly safe."""
    label = clean(text).replace("'", "_").replace("=", "_")
    return label if _PLAIN_LABEL.fullmatch(label) else f"'{label}'"


def _bound(value: float | int | None) -> str:
    return "" if value is None else f"{value:g}"


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}s"


def perfdata(report: Report, health: HealthResult) -> str:
    """`time=…;warn;crit;0`, then per MX its total and each phase, then certificate days left."""
    items = [f"time={_seconds(report.elapsed_ms)};{_bound(health.warning_s)};{_bound(health.critical_s)};0"]
    for session in report.sessions:
        mx = session_label(report, session)
        if not session.steps and session.elapsed_ms <= 0:
            continue
        items.append(f"{_label(mx)}={_seconds(session.elapsed_ms)};;;0")
        for name, contexts in PHASES:
            steps = [s for s in session.steps if s.context in contexts]
            if steps:
                items.append(f"{_label(f'{mx} {name}')}={_seconds(sum(s.elapsed_ms for s in steps))};;;0")
        days = _days_left(session)
        if days is not None:
            # "N:" alerts below N (monitoring-plugins range syntax)
            warn = f"{health.cert_warning_days}:" if health.cert_warning_days is not None else ""
            crit = f"{health.cert_critical_days}:" if health.cert_critical_days is not None else ""
            items.append(f"{_label(f'{mx} cert_days_left')}={days};{warn};{crit};")
    return " ".join(items)


def _days_left(session: Session) -> int | None:
    certificate = (session.tls or {}).get("certificate")
    if not isinstance(certificate, dict):
        return None
    days = certificate.get("days_left")
    return int(days) if isinstance(days, (int, float)) else None


def _problem_lines(checks: list[Check]) -> list[str]:
    """One line per check that is not OK (worst first), with the server's reply indented below."""
    lines: list[str] = []
    quoted: set[str] = set()  # a reply that decided several checks is quoted once
    for check in sorted((c for c in checks if c.status is not ExitCode.OK), key=lambda c: -c.status):
        where = f"{check.mx} " if check.mx else ""
        lines.append(f"{check.status.name}: {clean(where + check.name)}: {clean(check.message)}")
        if check.detail and check.detail not in quoted:
            quoted.add(check.detail)
            lines.append(f"  server said: {clean(check.detail)}")
    return lines


def _detail_lines(report: Report, health: HealthResult) -> list[str]:
    """What was found, without the transcript: MX hosts, sessions, addresses, findings, expectations."""
    shown = {c.name for c in health.checks if c.status is not ExitCode.OK and c.detail}  # already quoted
    lines = [f"domain {clean(report.domain)}{clean(at_named_hosts(report))}: "
             f"{str(report.status).replace('_', ' ')} ({report.reason})"]
    refused = refusal_advice(report)
    if refused is not None:  # a domain-only probe that was refused: no address line carries the advice
        lines.append(f"  fix: {clean(refused)}")
    for host in report.mx:
        addresses = ", ".join(host.addresses) or (host.error or "no address")
        lines.append(f"MX {clean(host.host)} ({mx_origin(report, host)}): {clean(addresses)}" if host.named
                     else f"MX {host.preference} {clean(host.host)} ({report.mx_source}): {clean(addresses)}")
        for ip, checked in host.checked.items():
            lines.append(f"  {clean(ip)}: connection check only: {clean(checked)}")
    for session in report.sessions:
        tls = (session.tls or {}).get("version")
        parts = [f"{session.outcome} in {_seconds(session.elapsed_ms)}"]
        if tls:
            parts.append(str(tls))
        days = _days_left(session)
        if days is not None:
            parts.append(f"certificate {days} days left")
        if session.error:
            parts.append(session.error)
        lines.append(f"session {clean(session_label(report, session))}:{session.port}: "
                     f"{clean(', '.join(parts))}")
    for a in report.addresses:
        code = " ".join(str(p) for p in (a.code, a.enhanced) if p is not None)
        via = f" via {a.host}" if a.host else ""
        lines.append(clean(f"address {a.address}: {a.verdict} ({a.reason}{', ' + code if code else ''}){via}"
                           f" - {a.meaning}"))
        if a.text and f"rcpt {a.address}" not in shown:  # a server's reply has a code; the rest is the probe's
            lines.append(f"  {'server said' if a.code is not None else 'probe saw'}: {clean(a.text)}")
        if a.verdict != "deliverable" and a.remediation:
            lines.append(f"  fix: {clean(a.remediation)}")
    for f in report.findings:
        lines.append(clean(f"finding {f.severity} {f.id}: {f.message}"))
    for record in health.expectations:
        met = "met" if record.get("met") else "NOT met"
        lines.append(clean(f"expect {record.get('expect')}: {met} - {record.get('detail')}"))
    return lines


def render_nagios(report: Report, health: HealthResult) -> str:
    """The complete plugin output; the caller exits with `health.exit_code`."""
    first = f"SMTP {health.state} - {clean(health.summary)} | {perfdata(report, health)}"
    return "\n".join([first, *_problem_lines(health.checks), *_detail_lines(report, health)]) + "\n"
