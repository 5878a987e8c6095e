"""The MX walk's state and its sessions as the report shows them: each exchange classified into a Step, each
session into a Session, and the small helpers every conclusion shares (the exchange that ended a dialogue, the
command that decided, one address's result). No I/O: probe.run.probe walks, probe.judge.conclude concludes.
"""

from __future__ import annotations

from typing import Any

from probe.diagnosis.classifier import classify_reply, diagnose_event, unlocated
from probe.inputs import Address
from probe.judge import advice, catchall
from probe.model import (
    AddressResult,
    Context,
    Diagnosis,
    Finding,
    MxHost,
    ProbeOptions,
    Report,
    Session,
    Severity,
    Step,
    Verdict,
)
from probe.smtp.exchanges import Exchange, SessionRecord
from probe.tls import checks as security


def last_exchange(record: SessionRecord) -> Exchange:
    """The exchange that ended the dialogue: the last one that is not the polite QUIT; for a session a reply
    refused (outcome "rejected"), that reply, even when an event follows it (the session's EHLO refusal, then
    the HELO it tried next found the connection closed)."""
    steps = [e for e in record.exchanges if e.context is not Context.QUIT]
    if record.outcome == "rejected":
        replies = [e for e in steps if e.reply is not None]
        if replies:
            return replies[-1]
    return steps[-1]


def diagnose(exchange: Exchange, host: str | None) -> Diagnosis:
    """The meaning of one exchange: a reply through the catalogue, an event through events.toml."""
    if exchange.reply is not None:
        return classify_reply(exchange.reply, exchange.context, host=host)
    return diagnose_event(exchange.event or "protocol-error", exchange.context,
                          detail=exchange.detail, host=host)


def to_step(exchange: Exchange, host: str | None) -> Step:
    d = diagnose(exchange, host)
    reply = exchange.reply
    return Step(
        command=exchange.command,
        context=exchange.context,
        code=reply.code if reply is not None and reply.code >= 0 else None,
        enhanced=d.enhanced,
        text=reply.text if reply is not None else exchange.detail,
        lines=list(reply.lines) if reply is not None else [],
        reason=d.reason,
        severity=d.severity,
        meaning=d.meaning,
        remediation=d.remediation,
        rule=d.rule,
        elapsed_ms=round(exchange.elapsed_ms, 1),
        unsolicited=exchange.unsolicited,
        decided_by=d.decided_by,
    )


def to_session(record: SessionRecord) -> Session:
    return Session(
        host=record.host,
        address=record.address,
        port=record.port,
        outcome=record.outcome,
        steps=[to_step(e, record.host) for e in record.exchanges],
        tls=security.session_tls(record),
        extensions=sorted(record.extensions),
        error=_session_error(record),
        elapsed_ms=round(record.elapsed_ms, 1),
    )


def _session_error(record: SessionRecord) -> str | None:
    if record.outcome == "completed":
        return None
    for e in reversed(record.exchanges):
        if e.event is not None and e.context is not Context.QUIT:  # the polite QUIT is not why it ended
            return f"{e.event}: {e.detail}" if e.detail else e.event
    return None


class Walk:
    """Mutable state of one probe, so a deadline can cut it short and keep what was learned."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.decided: SessionRecord | None = None
        self.records: list[SessionRecord] = []
        self.dns_diagnosis: Diagnosis | None = None  # set when DNS alone decided the outcome
        self.pairs: list[tuple[Session, SessionRecord]] = []  # each session with its raw record
        self.retry: SessionRecord | None = None  # --retry-greylist: the second session, same host and source
        self.waited_s = 0.0
        self.no_address: list[Diagnosis] = []  # one per MX host that had no address to try
        self.facts: advice.RunFacts | None = None  # what the run settled, once the walk is over
        self.ask_postmaster = False  # RCPT TO:<postmaster@DOMAIN> with the addresses too (a batch's domain line)

    def add(self, record: SessionRecord, options: ProbeOptions) -> None:
        """Keep a finished session: raw, as the report's Session, and its findings."""
        self.records.append(record)
        session = to_session(record)
        self.report.sessions.append(session)
        self.pairs.append((session, record))
        for finding in security.session_findings(session, options) + mixed_code_findings(record):
            self.finding(finding)  # a greylisting retry to the same host repeats its findings

    def settle_tls_findings(self, options: ProbeOptions, consequence: str | None) -> None:
        """Reword the sessions' STARTTLS and certificate findings with what a TLS problem costs this domain,
        now that its MTA-STS and DANE are known (they were looked up while the sessions ran)."""
        fresh = {(f.id, f.subject): f for session in self.report.sessions
                 for f in security.session_findings(session, options, consequence=consequence)}
        self.report.findings = [fresh.get((f.id, f.subject), f) for f in self.report.findings]

    def finding(self, finding: Finding) -> None:
        """Add a finding once (same id and subject)."""
        if all((f.id, f.subject) != (finding.id, finding.subject) for f in self.report.findings):
            self.report.findings.append(finding)


def mixed_code_findings(record: SessionRecord) -> list[Finding]:
    """A reply whose lines carry different codes is read as its final line's code (as Postfix's client does);
    say once per host that the server broke RFC 5321 §4.2.1's one-code rule (postscreen's 220- teaser then 521)."""
    for exchange in record.exchanges:
        reply = exchange.reply
        if reply is not None and reply.line_codes:
            codes = " then ".join(dict.fromkeys(str(c) for c in reply.line_codes))
            what = f"its reply {to_command(exchange.command)}" if exchange.command else f"its {exchange.context}"
            return [Finding("reply-mixed-codes", Severity.INFO, (
                f"{record.host} sent {what} with different codes on its lines ({codes}); RFC 5321 §4.2.1 "
                f"wants one code per reply. Read as its final line's {reply.code}, as Postfix's SMTP client "
                "does (Postfix postscreen sends its 220- greeting teaser, then 521 when it drops a client)."),
                record.host)]
    return []


def unreachable_session(host: MxHost, seen: list[Diagnosis]) -> Session:
    d = diagnose_event("no-mail-hosts", Context.DNS, detail=host.error or f"{host.host} has no address")
    seen.append(d)
    step = Step(None, Context.DNS, None, None, host.error or "no address records", [], d.reason,
                d.severity, d.meaning, d.remediation, d.rule, 0.0)
    return Session(host.host, "", host.port, "unreachable", steps=[step], error=host.error)


def to_command(command: str) -> str:
    """'RCPT TO:<a@b>' -> 'to RCPT TO', 'EHLO x' -> 'to EHLO'."""
    head = command.split(":", 1)[0] if ":" in command else command.split(" ", 1)[0]
    return f"to {head}"


def command_label(record: SessionRecord, exchange: Exchange) -> str:
    """The command whose reply decided ('RCPT'); for a reply nobody asked for, where it came."""
    if exchange.unsolicited:
        before = None
        for e in record.exchanges:
            if e is exchange:
                break
            before = e.command or before
        return f"unsolicited (after {before.split(' ', 1)[0] if before else 'the banner'})"
    return exchange.command.split(" ", 1)[0] if exchange.command else str(exchange.context)


def attempt(record: SessionRecord, d: Diagnosis, waited_s: float) -> dict[str, Any]:
    return {"host": record.host, "address": record.address, "code": d.code, "enhanced": d.enhanced,
            "reason": str(d.reason), "rule": d.rule, "text": d.text, "waited_s": round(waited_s, 1)}


def catch_all_of(record: SessionRecord) -> bool | None:
    """What the random address's RCPT proved (see probe.judge.catchall)."""
    e = record.catch_all
    if e is None:
        return None
    return catchall.catch_all_answer(diagnose(e, record.host), e.context is Context.RCPT and e.reply is not None)


def to_result(address: Address, d: Diagnosis, verdict: Verdict, host: str | None,
            command: str | None) -> AddressResult:
    return AddressResult(
        address=address.original, verdict=verdict, reason=d.reason, code=d.code, enhanced=d.enhanced,
        meaning=d.meaning, remediation=unlocated(d), host=host, command=command, text=d.text or None,
        rule=d.rule, provider=d.provider, decided_by=d.decided_by,
    )
