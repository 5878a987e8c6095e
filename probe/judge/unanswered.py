"""Conclusions when no host decided: no host gave a definitive answer (the summary says what each one did), or
every host that answered SMTP could not meet --starttls require (the domain accepts mail; the addresses were
not asked). No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from probe.diagnosis.classifier import diagnose_event
from probe.inputs import Address
from probe.judge import verdicts as assess
from probe.judge.walk import Walk, command_label, diagnose, last_exchange, to_command, to_result
from probe.model import (
    Context,
    DomainStatus,
    Reason,
    Verdict,
)
from probe.smtp.exchanges import Exchange, SessionRecord


def conclude_unanswered(walk: Walk, addresses: Sequence[Address]) -> None:
    """No host gave a definitive answer: unreachable, and the summary says what each host did."""
    report = walk.report
    ends = [(r, last_exchange(r)) for r in walk.records if any(x.context is not Context.QUIT for x in r.exchanges)]
    failures = [diagnose(e, r.host) for r, e in ends] or walk.no_address
    refusals = [d for d in failures if assess.refuses_client(d)]  # e.g. 421 4.7.0 too many connections from your IP
    reason = assess.worst_reason(refusals or failures) if failures else Reason.NETWORK_ERROR
    report.status = DomainStatus.REFUSES_THIS_CLIENT if refusals else DomainStatus.UNREACHABLE
    report.reason = reason
    last = (refusals or failures)[-1] if failures else diagnose_event("deadline-exceeded", Context.CONNECT)
    label = command_label(*ends[-1]) if ends else str(last.context or "")
    report.addresses = [to_result(a, last, Verdict.UNKNOWN, None, label) for a in addresses]
    blocked = next((f for f in report.findings if f.id == "port25-blocked"), None)
    if blocked is not None:
        report.summary = (f"{report.domain}: not tested — outbound port 25 looks blocked from this network "
                          "(every connection attempt timed out unanswered); this says nothing about the domain")
        return
    parts = [_what_happened(r) for r in walk.records]
    parts += [f"{s.host} has no address ({s.error or 'no address records'})"
              for s in report.sessions if not s.address]
    head = _unanswered_head(walk.records, refused=bool(refusals))
    report.summary = f"{report.domain}: {head}: " + "; ".join(dict.fromkeys(parts)) if parts else \
        f"{report.domain}: {head} ({reason})"


def _unanswered_head(records: list[SessionRecord], *, refused: bool) -> str:
    """Which it was (SPEC.md): answered and refused this client, answered but broke the protocol,
    answered but only deferred, or did not answer at all."""
    if refused:
        return "a mail server answered and refused this client"
    if any(r.outcome == "protocol_error" for r in records):
        return "a mail server answered but broke the SMTP protocol, and none gave a definitive answer"
    if any(e.reply is not None and e.context is not Context.QUIT for r in records for e in r.exchanges):
        return "no mail server gave a definitive answer"
    return "no mail server answered"


_EVENT_WORDS = {
    "connect-refused": "refused the connection", "connect-timeout": "did not answer the connection (timed out)",
    "connect-unreachable": "could not be reached (no route)", "proxy-failed": "could not be reached through the proxy",
    "deadline-exceeded": "was cut short by the --deadline",
}


def _what_happened(record: SessionRecord) -> str:
    """One host's session in a few words: 'mx1 deferred (421 4.3.2 busy)', 'mx2 timed out waiting for ...'."""
    last = [last_exchange(record)] if any(e.context is not Context.QUIT for e in record.exchanges) else []
    if not last:
        return f"{record.host} was not tried"
    e = last[0]
    if e.reply is not None:
        said = e.reply.headline
        verb = {2: "answered", 4: "deferred", 5: "refused"}.get(e.reply.code // 100, "answered oddly")
        where = " unasked" if e.unsolicited else "" if e.command is None else f" {to_command(e.command)}"
        return f"{record.host} {verb}{where} ({said})"
    event = e.event or "protocol-error"
    if event in _EVENT_WORDS:
        return f"{record.host} {_EVENT_WORDS[event]}"
    if event == "reply-timeout":
        return f"{record.host} timed out {e.detail.removeprefix('while ')}"
    return f"{record.host}: {event}" + (f" ({e.detail})" if e.detail else "")


def tls_refused(record: SessionRecord) -> bool:
    """A session that spoke SMTP (2xx banner and greeting) and stopped because TLS could not be had."""
    if record.outcome != "tls_failed":
        return False
    ok = {e.context for e in record.exchanges if e.reply is not None and 200 <= e.reply.code < 300}
    # greeted and answered EHLO: the host speaks SMTP, whatever then went wrong with TLS
    return Context.BANNER in ok and bool(ok & {Context.EHLO, Context.HELO})


def conclude_tls(walk: Walk, record: SessionRecord, addresses: Sequence[Address]) -> None:
    """--starttls require and no host met it: the domain accepts mail; the addresses were not asked."""
    report = walk.report
    report.status, report.reason = DomainStatus.ACCEPTS_MAIL, Reason.TLS_FAILURE
    d = diagnose(_tls_stop(record) or last_exchange(record), record.host)
    report.addresses = [to_result(a, d, Verdict.UNKNOWN, record.host, "STARTTLS") for a in addresses]
    failed = [r for r in walk.records if tls_refused(r)]
    why = "; ".join(dict.fromkeys(f"{r.host}: {_tls_words(r)}" for r in failed))
    report.summary = (f"{report.domain} accepts mail, but no MX host met --starttls require ({why}); "
                      "the addresses were not asked")


def _tls_stop(record: SessionRecord) -> Exchange | None:
    """Why TLS could not be had: the TLS event (untrusted, failed, not offered) or the refusal of STARTTLS.
    (A session may reconnect after it, e.g. to collect the certificate: that is not the reason.)"""
    tls = (Context.TLS, Context.STARTTLS)
    return (next((e for e in reversed(record.exchanges) if e.context in tls and e.event is not None), None)
            or next((e for e in reversed(record.exchanges) if e.context is Context.STARTTLS
                     and e.reply is not None and e.reply.code != 220), None))


def _tls_words(record: SessionRecord) -> str:
    e = _tls_stop(record)
    if e is None:
        return "TLS failed"
    if e.event == "tls-untrusted":
        return f"untrusted certificate ({e.detail})" if e.detail else "untrusted certificate"
    if e.event == "starttls-not-offered":
        return "STARTTLS not offered"
    if e.reply is not None:
        return f"STARTTLS refused ({e.reply.code})"
    return f"{e.event}: {e.detail}" if e.detail else str(e.event)
