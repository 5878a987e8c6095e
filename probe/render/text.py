"""Edge: the human report. Pure: Report -> str. Colour only when asked; server text always escaped."""

from __future__ import annotations

import re
from typing import Any

from probe.judge.health import HealthResult
from probe.judge.reportfacts import at_named_hosts, refusal_advice
from probe.model import (
    AddressResult,
    Context,
    DomainStatus,
    ExitCode,
    Finding,
    Report,
    Session,
    Severity,
    Step,
    Verdict,
    first_line,
    tls_negotiated,
)
from probe.render.safe import printable
from probe.render.wrap import DEFAULT_COLUMNS, wrap

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
_EVENT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+: ")  # the events.toml id before a session error's words


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *styles: str) -> str:
        if not self.color or not styles:
            return text
        return "".join(_STYLES[s] for s in styles) + text + _RESET


def _lines(p: _Painter, width: int, head: str, body: str, *, styles: tuple[str, ...] = (),
           indent: int | None = None, tag: str | None = None) -> list[str]:
    """`head` + `body` wrapped to `width`, continuation lines under the body (or `indent` blanks); the head
    painted with `styles`, a trailing [tag] dimmed. Body text must already be printable."""
    text = f"{body}  [{tag}]" if tag else body
    lines = wrap(text, width, " " * len(head), " " * (len(head) if indent is None else indent))
    lines[0] = (p(head, *styles) if styles else head) + lines[0][len(head):]
    if tag and lines[-1].endswith(f"[{tag}]"):
        lines[-1] = lines[-1][: -len(tag) - 2] + p(f"[{tag}]", "dim")
    return lines


def render_text(report: Report, *, color: bool = False, verbose: bool = False,
                health: HealthResult | None = None, width: int = DEFAULT_COLUMNS) -> str:
    """The report a person reads at a terminal, wrapped to `width` columns; with `verbose` the annotated
    transcript too (never wrapped: it is the dialogue, line by line).

    With `health` (what decided the exit code) the last lines say why: the state and the
    health summary, each unmet expectation and each broken limit.
    """
    p = _Painter(color)
    out: list[str] = []
    if report.error is not None:  # bad usage or input: nothing was asked, there is nothing else to show
        out += [f"{p(printable(report.domain), 'bold')} — {p('COULD NOT RUN', 'bold', 'yellow')}",
                *_lines(p, width, "  ", printable(report.error)), "", p("UNKNOWN: nothing was sent (exit 3)", "dim")]
        return "\n".join(out) + "\n"
    status = str(report.status).replace("_", " ").upper()
    out.append(f"{p(report.domain, 'bold')}{at_named_hosts(report)} — "
               f"{p(status, 'bold', _STATUS_STYLE[report.status])}"
               + (f"  ({report.reason})" if report.reason != "accepted" else ""))
    out.extend(_mx_table(report, p, width))
    if report.transport:
        out.append("")
        out += _lines(p, width, "Transport security  ", printable(report.transport["domain"]), styles=("bold",),
                      indent=2)
        for host, line in report.transport["hosts"].items():
            out += _lines(p, width, f"  {host}: ", printable(line), indent=4)
    shown = [f for f in report.findings if verbose or f.severity is not Severity.INFO]
    if shown:
        out.append("")
        out.append(p("Findings", "bold"))
        for f in shown:
            out += _lines(p, width, f"  {f.severity:<8} ", printable(f.message), styles=(_SEVERITY_STYLE[f.severity],),
                          tag=f.id)
    hidden = len(report.findings) - len(shown)
    if hidden:
        out.append(p(f"  ({hidden} informational finding{'s' if hidden > 1 else ''}: -v shows them)", "dim"))
    if report.postmaster is not None and not report.addresses:
        out.append("")
        out += _lines(p, width, "Postmaster  ", printable(_postmaster_line(report.postmaster)),
                      styles=("bold",), indent=2)
    refused = refusal_advice(report)
    if refused is not None:  # a domain-only probe that was refused: the advice no address result carries
        out.append("")
        out += _lines(p, width, "What to do  ", printable(refused), styles=("bold",), indent=2)
    out.extend(_address_facts(report.addresses, p, width))
    shared_vrfy = _shared_vrfy(report.addresses)
    shared = _shared_catch_all(report.addresses)
    on_rows = {(s.host, ending) for s in report.sessions if (ending := _ending_reply(s)) is not None}
    for a in report.addresses:
        out.append("")
        out.extend(_address(a, p, width, vrfy_shown=shared_vrfy is not None, on_rows=on_rows, shared=shared))
    if verbose:
        for s in report.sessions:
            out.append("")
            out.extend(_transcript(s, p, width))
    out.append("")
    elapsed = f"  ({report.elapsed_ms / 1000:.2f} s)"
    if health is None:
        name = _EXIT_NAMES.get(int(report.exit_code), "?")
        out += [p(line, "dim") for line in wrap(f"{name}: {printable(report.summary)}{elapsed}", width, "", "  ")]
    else:
        out.extend(_why(health, p, elapsed, width))
    return "\n".join(out) + "\n"


def _postmaster_line(pm: dict[str, Any]) -> str:
    """'RCPT TO:<postmaster@example.com> accepted by mx.example.com (250 2.1.5 Ok)'; when the probe's MAIL FROM
    was refused, the RCPT was not a question (not sent, or sent in a pipelined group only to be answered
    "need MAIL"), and the line says so: 'RCPT TO:<postmaster@example.com> not asked: mx.example.com deferred
    MAIL FROM:<> (450 ...)'."""
    code = pm.get("code")
    how = ("accepted" if pm.get("accepted") else "deferred" if isinstance(code, int) and 400 <= code < 500
           else "refused")
    said = first_line(str(pm.get("text") or code or ""))
    command = str(pm.get("command") or "")
    if command.upper().startswith("MAIL"):
        return f"RCPT TO:<{pm['address']}> not asked: {pm['host']} {how} {command}" + (f" ({said})" if said else "")
    return f"RCPT TO:<{pm['address']}> {how} by {pm['host']}" + (f" ({said})" if said else "")


_STATE_STYLE = {"OK": "green", "WARNING": "yellow", "CRITICAL": "red", "UNKNOWN": "yellow"}


def _why(health: HealthResult, p: _Painter, elapsed: str, width: int) -> list[str]:
    """The exit state and what decided it: the health summary, unmet expectations, broken limits
    (each said once: a line the summary already holds is not repeated)."""
    head = f"{health.state}: "
    out = _lines(p, width, head, printable(health.summary) + elapsed, indent=2)
    out[0] = p(health.state, "bold", _STATE_STYLE.get(health.state, "dim")) + out[0][len(health.state):]
    for record in health.expectations:
        detail = str(record.get("detail"))
        if not record.get("met") and detail not in health.summary:
            out += _lines(p, width, "  expectation not met: ", printable(detail), indent=4)
    limits = {"time"} | ({"certificate"} if health.cert_warning_days is not None
                         or health.cert_critical_days is not None else set())
    for check in health.checks:
        if check.name in limits and check.status is not ExitCode.OK \
                and check.message not in health.summary:  # only limits the user set
            where = f" ({check.mx})" if check.mx else ""
            out += _lines(p, width, "  limit broken: ", printable(check.message) + where, indent=4)
    return out


def _mx_table(report: Report, p: _Painter, width: int) -> list[str]:
    source = _MX_SOURCES.get(report.mx_source, report.mx_source)
    if report.mx_source == "override" and report.domain.startswith("["):
        source = "an address literal; no MX lookup"
    out = ["", p("Mail servers", "bold") + p(f"  (source: {source})", "dim")]
    if not report.mx:
        out.append("  none")
        return out
    tried: dict[str, list[Session]] = {}
    for s in report.sessions:
        tried.setdefault(s.host, []).append(s)
    for mx in report.mx:
        label = (f"  {mx.host}" if mx.named  # no MX preference: the header says where it came from
                 else f"  {mx.preference:>3} {mx.host}" + (" (implicit MX)" if mx.implicit else ""))
        if mx.error:
            out += _lines(p, width, label + "  ", printable(mx.error), indent=8)
        else:
            out.append(label)
        addresses = mx.addresses or ["-"]
        for ip in addresses:
            sessions = [s for s in tried.get(mx.host, []) if s.address == ip]
            if not sessions:
                checked = mx.checked.get(ip)
                head = f"        {ip:<24} "
                lines = _lines(p, width, head, printable(_checked_words(checked)) if checked else "not tried",
                               indent=len(head))
                out += [head + p(lines[0][len(head):], "dim"), *(p(x, "dim") for x in lines[1:])]
                continue
            for s in sessions:
                out += _session_lines(s, ip, p, width)
    return out


# report.mx_source -> the table's words for it
_MX_SOURCES = {"override": "named with --mx; MX records not looked up"}


def _checked_words(checked: str) -> str:
    """What a bare connection check (no session) saw at an address (MxHost.checked)."""
    if checked == "greeted":
        return "connection check only: greeted (2xx)"
    return f"connection check only: {checked} (see Findings)"


def _session_lines(s: Session, ip: str, p: _Painter, width: int) -> list[str]:
    """One session's row: outcome, TLS, time, and what went wrong (each said once)."""
    parts = [s.outcome]
    if tls_negotiated(s.tls) and s.tls is not None:
        cert = s.tls.get("certificate") or {}
        parts.append(f"{s.tls.get('version') or 'TLS'}"
                     + ("" if cert.get("trusted") in (None, True) else " (untrusted certificate)"))
    elif s.tls and s.tls.get("error"):
        parts.append(f"STARTTLS failed ({s.tls['error']})")
    elif "STARTTLS" in s.extensions:
        parts.append("STARTTLS offered (not used)")
    parts.append(f"{s.elapsed_ms:.0f} ms")
    error = str((s.tls or {}).get("error") or "")
    ending = _ending_reply(s)
    if ending is not None:  # the host answered: its refusal or deferral, as it said it (e.g. a 521)
        parts.append(ending)
    elif s.error and s.outcome != "completed" and not (error and error in s.error):
        parts.append(_EVENT_ID.sub("", s.error, count=1))  # "connect-refused: connection ... refused": the words
    head = f"        {ip:<24} "
    lines = [head]  # parts kept whole ("178 ms" never split), packed into the width
    for part in (printable(x) for x in parts):
        if len(lines[-1]) > len(head) and len(lines[-1]) + 2 + len(part) > width:
            lines.append(" " * len(head))
        if len(lines[-1]) > len(head):
            lines[-1] += "  "
        if len(lines[-1]) + len(part) > width and len(part) > width - len(head):
            wrapped = wrap(part, width, lines[-1], " " * len(head))
            lines[-1:] = wrapped
        else:
            lines[-1] += part
    style = "green" if s.outcome == "completed" else "red" if s.outcome in ("rejected", "refused") else "yellow"
    lines[0] = head + p(s.outcome, style) + lines[0][len(head) + len(s.outcome):]
    return lines


def _ending_reply(s: Session) -> str | None:
    """'521 5.3.2 Service currently unavailable' for a session the server ended by refusing or deferring."""
    if s.outcome not in ("rejected", "deferred"):
        return None
    replies = [step for step in s.steps if step.code is not None and step.context is not Context.QUIT]
    if not replies:
        return None
    step = replies[-1]  # its first line with the reply's code (postscreen: not the "220-" teaser before its 521)
    lines = step.text.split("\n")
    first = next((line for line in lines if line.startswith(str(step.code))), lines[0])
    return printable(first[:300])  # the row wraps; a line longer than that is cut


def _shared_vrfy(addresses: list[AddressResult]) -> dict[str, Any] | None:
    """The VRFY answer when it is the same for two or more addresses (said once, not per address)."""
    answers = [a.vrfy for a in addresses if a.vrfy]
    if len(answers) < 2 or len(answers) != len(addresses):
        return None
    texts = {(v.get("code"), v.get("reason"), str(v.get("text"))) for v in answers}
    return answers[0] if len(texts) == 1 else None


def _shared_catch_all(addresses: list[AddressResult]) -> tuple[str, str] | None:
    """The catch-all meaning and advice when two or more accepted addresses carry the same (said once)."""
    said = [(a.meaning, a.remediation) for a in addresses if a.catch_all and a.verdict is Verdict.RISKY]
    return said[0] if len(said) >= 2 and len(set(said)) == 1 else None


def _address_facts(addresses: list[AddressResult], p: _Painter, width: int) -> list[str]:
    """What holds for every address asked: the catch-all test, and VRFY when its answer is the same."""
    facts: list[str] = []
    asked = next((a for a in addresses if a.catch_all is not None), None)
    if asked is not None:
        where = f" by {asked.host}" if asked.host else ""
        facts += _lines(p, width, "  catch-all: ",
                        f"yes — {asked.host or 'the server'} accepted a random address too, so an acceptance "
                        "proves little" if asked.catch_all else f"no — a random address was refused{where}", indent=4)
        shared = _shared_catch_all(addresses)
        if shared is not None:
            facts += _lines(p, width, "    Meaning: ", printable(shared[0]), styles=("bold",), indent=6)
            facts += _lines(p, width, "    What to do: ", printable(shared[1]), styles=("bold",), indent=6)
    vrfy = _shared_vrfy(addresses)
    if vrfy is not None:
        facts += _lines(p, width, "  VRFY: ", f"{printable(str(vrfy.get('text', '')))}  ({vrfy.get('reason')}, "
                        "the same for every address)", indent=4)
    return ["", p("Addresses", "bold"), *facts] if facts else []


def _address(a: AddressResult, p: _Painter, width: int, *, vrfy_shown: bool,
             on_rows: set[tuple[str, str]], shared: tuple[str, str] | None = None) -> list[str]:
    verdict = p(str(a.verdict).upper(), "bold", _VERDICT_STYLE[a.verdict])
    out = [f"{p(printable(a.address), 'bold')} — {verdict}  ({a.reason})"]
    reply_text = printable(a.text).replace(chr(10), " / ") if a.text else ""
    if a.text and a.code is not None:
        via = f" from {a.host}" if a.host else ""
        retried = f", asked again after {a.attempts[-1].get('waited_s', 0):g} s" if a.attempts else ""
        said = "the one on its row above" if (a.host, reply_text) in on_rows else reply_text  # said once
        out += _lines(p, width, f"  {a.command + ' ' if a.command else ''}reply{via}{retried}: ", said, indent=4)
    elif a.host:  # no reply: the probe's own observation, which Meaning words; say only where it was made
        out.append(f"  seen by the probe at {a.command + ' with ' if a.command else ''}{a.host}")
    for answer in a.mx_verdicts:  # --all-mx: each host's own answer, so a disagreement shows
        said = printable(str(answer.get("text") or answer.get("code") or "")).replace(chr(10), " / ")
        out += _lines(p, width, f"  {answer['host']} [{answer['address']}]: ",
                      f"{answer['verdict']} ({answer['reason']}): {said}", indent=4)
    if a.vrfy and not vrfy_shown:
        vrfy_text = printable(str(a.vrfy.get("text", ""))).replace(chr(10), " / ")
        said = "the same reply" if vrfy_text == reply_text else vrfy_text
        out += _lines(p, width, "  VRFY: ", f"{said}  ({a.vrfy.get('reason')})", indent=4)
    if a.provider:
        out.append(f"  provider: {a.provider}")
    if shared is not None and (a.meaning, a.remediation) == shared:
        out.append("  Meaning, what to do: as for the catch-all domain above")
    else:
        out += _lines(p, width, "  Meaning: ", printable(a.meaning), styles=("bold",), indent=4)
        out += _lines(p, width, "  What to do: ", printable(a.remediation), styles=("bold",), indent=4)
    if a.retry_after_s and not a.attempts:
        out.append(f"  retry after: {a.retry_after_s:g} s")
    return out


def _transcript(s: Session, p: _Painter, width: int = DEFAULT_COLUMNS) -> list[str]:
    out = [p(f"Transcript {s.host} [{s.address}]:{s.port} — {s.outcome}, {s.elapsed_ms:.0f} ms", "bold")]
    for step in s.steps:
        out.extend(_step(step, p, width))
    return out


_GLUE = "\x00"  # stands for a blank that must not break a line (printable text never holds a NUL)


def _said(p: _Painter, width: int, head: str, style: str, text: str, tag: str | None, step: Step) -> list[str]:
    """One transcript line wrapped under its text; the last one ends with the reason and the time."""
    suffix = f"  [{tag}]  {step.elapsed_ms:.0f} ms" if tag is not None else ""
    glued = "  " + suffix.lstrip().replace(" ", _GLUE) if suffix else ""  # "[reason]  N ms" never split
    lines = [line.replace(_GLUE, " ") for line in _lines(p, width, head, text + glued, styles=(style,))]
    if tag is not None and lines[-1].endswith(suffix.lstrip()):
        coloured = f"{p(f'[{tag}]', _SEVERITY_STYLE[step.severity])}  {p(f'{step.elapsed_ms:.0f} ms', 'dim')}"
        lines[-1] = lines[-1][: -len(suffix.lstrip())] + coloured
    return lines


def _step(step: Step, p: _Painter, width: int = DEFAULT_COLUMNS) -> list[str]:
    """One exchange of the dialogue: what the probe sent, what came back, each wrapped to `width`."""
    out = []
    if step.command:
        out += _said(p, width, "  C: ", "cyan", printable(step.command), None, step)
    if step.code is None and not step.lines:
        if step.severity is Severity.OK:  # e.g. QUIT whose 221 did not come in time: a note, not an alarm
            out += [p(line, "dim") for line in wrap(f"({printable(step.text)})", width, "     ")]
        else:
            out += _said(p, width, "  !! ", "yellow", printable(step.text), str(step.reason), step)
        return out
    head, style = ("  S: ", "cyan") if not step.unsolicited else ("  S (unsolicited): ", "yellow")
    lines = step.text.split("\n") or [""]
    for i, line in enumerate(lines):
        out += _said(p, width, head, style, printable(line), str(step.reason) if i == len(lines) - 1 else None, step)
    if step.severity in (Severity.WARNING, Severity.CRITICAL):
        out += [p(line, "dim") for line in wrap(printable(step.meaning), width, "      ")]
    return out


def render_self_check(audit: dict[str, Any], findings: list[Finding], *, color: bool = False,
                      width: int = DEFAULT_COLUMNS) -> str:
    """`smtp-probe self-check`: how receivers see this machine as a mail client. Each fact once: a lookup
    that could not be made is one "not checked" line (blocklists failing alike share one), not a table
    row plus a finding."""
    p = _Painter(color)
    ip = audit.get("ip")
    helo_suffix = f"  (HELO {audit['helo']})" if audit.get("helo") else ""
    out = [p(f"Self-check of {ip or 'this machine'}", "bold") + helo_suffix]
    if ip:
        if audit.get("ptr_status") == "error":
            out += _lines(p, width, "  reverse DNS  ", f"not checked: {printable(str(audit.get('ptr_error')))}; "
                          "retry, or ask another resolver with --resolver", styles=("yellow",), indent=15)
        else:
            ptr = ", ".join(audit.get("ptr") or []) or p("none", "red")
            confirmed_labels: dict[bool | None, str] = {True: p("forward-confirmed", "green"),
                                                        False: p("NOT forward-confirmed", "red")}
            confirmed = confirmed_labels.get(audit.get("forward_confirmed"), "")
            out.append(f"  reverse DNS  {ptr}  {confirmed}".rstrip())
        helo_ok = audit.get("helo_matches_ptr") or audit.get("helo_resolves_to_ip")
        if audit.get("helo"):
            verdict = p("consistent", "green") if helo_ok else p("inconsistent", "yellow")
            out.append(f"  HELO name    {audit['helo']}  " + verdict)
        out.extend(_blocklist_lines(audit.get("dnsbl") or [], p, width))
    said = {"source-ptr-unchecked", "source-dnsbl-failed"}  # the lines above say them
    shown = [f for f in findings if f.id not in said]
    if shown:
        out.append("")
        for f in shown:
            out += _lines(p, width, f"  {f.severity:<8} ", printable(f.message),
                          styles=(_SEVERITY_STYLE[f.severity],), tag=f.id)
    return "\n".join(out) + "\n"


def _blocklist_lines(entries: list[dict[str, Any]], p: _Painter, width: int) -> list[str]:
    """One line per blocklist that answered; the ones that could not be asked, grouped by why."""
    out: list[str] = []
    failed: dict[str, list[str]] = {}
    for entry in entries:
        status = entry.get("status")
        if status == "error":
            failed.setdefault(str(entry.get("error") or "no answer"), []).append(str(entry.get("zone", "")))
            continue
        style = {"listed": "red", "not_listed": "green", "refused": "yellow"}.get(str(status), "dim")
        detail = f"  {printable(entry.get('meaning') or '')}" if status == "listed" else ""
        out.append(f"  {entry.get('zone', ''):<28} {p(str(status).replace('_', ' '), style)}{detail}")
    for error, zones in failed.items():
        head = f"  {zones[0]:<28} " if len(zones) == 1 else "  DNS blocklists  "
        which = "" if len(zones) == 1 else f" ({', '.join(zones)})"
        out += _lines(p, width, head, f"not checked{which}: {printable(error)}; retry, or ask another resolver "
                      "with --resolver", styles=("yellow",), indent=4)
    return out
