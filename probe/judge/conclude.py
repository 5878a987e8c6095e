"""From what the MX walk saw to the report: each session classified, the domain status, one result per
address and the summary line. No I/O: probe.run.probe walks, this module concludes.

Honesty rules live here and in probe.judge.verdicts: a host that never answered decides nothing (the summary
says what each one did); a host that answered SMTP but could not meet --starttls require shows that the
domain accepts mail without asking about the addresses; an address in another domain than the one
whose MX was asked is a relay/backup question, not a deliverability answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from probe.diagnosis.classifier import classify_reply, detect_provider, diagnose_event, unlocated
from probe.inputs import Address
from probe.judge import advice, catchall, greylist, plaintext
from probe.judge import verdicts as assess
from probe.model import (
    AddressResult,
    Context,
    Diagnosis,
    DomainStatus,
    Finding,
    MxHost,
    ProbeOptions,
    Reason,
    Report,
    Session,
    Severity,
    Step,
    Verdict,
    first_line,
    tls_negotiated,
)
from probe.smtp.exchanges import Exchange, SessionRecord
from probe.tls import checks as security


def _last(record: SessionRecord) -> Exchange:
    """The exchange that ended the dialogue: the last one that is not the polite QUIT."""
    return [e for e in record.exchanges if e.context is not Context.QUIT][-1]


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
            what = f"its reply {_verb(exchange.command)}" if exchange.command else f"its {exchange.context}"
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


def conclude(walk: Walk, addresses: Sequence[Address], facts: advice.RunFacts | None = None) -> None:
    """Turn what the walk learned into the domain status and one result per address; with `facts`,
    each address's advice is worded from what this run settled (probe.judge.advice)."""
    report = walk.report
    if walk.dns_diagnosis is not None:
        d = walk.dns_diagnosis
        report.addresses = [_result(a, d, assess.address_verdict(d), None, "DNS") for a in addresses]
    elif walk.decided is not None:
        _conclude_answered(walk, walk.decided, addresses)
    elif (tls := next((r for r in walk.records if _tls_refused(r)), None)) is not None:
        _conclude_tls(walk, tls, addresses)
    else:
        _conclude_unanswered(walk, addresses)
    report.addresses = [assess.asked_elsewhere(r, report.domain, a.domain) if a.domain != report.domain else r
                        for a, r in zip(addresses, report.addresses, strict=True)]
    if facts is not None:
        report.addresses = [advice.address_advice(r, facts) for r in report.addresses]


def _conclude_unanswered(walk: Walk, addresses: Sequence[Address]) -> None:
    """No host gave a definitive answer: unreachable, and the summary says what each host did."""
    report = walk.report
    ends = [(r, _last(r)) for r in walk.records if any(x.context is not Context.QUIT for x in r.exchanges)]
    failures = [diagnose(e, r.host) for r, e in ends] or walk.no_address
    refusals = [d for d in failures if assess.refuses_client(d)]  # e.g. 421 4.7.0 too many connections
    reason = assess.worst_reason(refusals or failures) if failures else Reason.NETWORK_ERROR
    report.status = DomainStatus.REFUSES_THIS_CLIENT if refusals else DomainStatus.UNREACHABLE
    report.reason = reason
    last = (refusals or failures)[-1] if failures else diagnose_event("deadline-exceeded", Context.CONNECT)
    label = _command_label(*ends[-1]) if ends else str(last.context or "")
    report.addresses = [_result(a, last, Verdict.UNKNOWN, None, label) for a in addresses]
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
    last = [_last(record)] if any(e.context is not Context.QUIT for e in record.exchanges) else []
    if not last:
        return f"{record.host} was not tried"
    e = last[0]
    if e.reply is not None:
        said = e.reply.headline
        verb = {2: "answered", 4: "deferred", 5: "refused"}.get(e.reply.code // 100, "answered oddly")
        where = " unasked" if e.unsolicited else "" if e.command is None else f" {_verb(e.command)}"
        return f"{record.host} {verb}{where} ({said})"
    event = e.event or "protocol-error"
    if event in _EVENT_WORDS:
        return f"{record.host} {_EVENT_WORDS[event]}"
    if event == "reply-timeout":
        return f"{record.host} timed out {e.detail.removeprefix('while ')}"
    return f"{record.host}: {event}" + (f" ({e.detail})" if e.detail else "")


def _verb(command: str) -> str:
    """'RCPT TO:<a@b>' -> 'to RCPT TO', 'EHLO x' -> 'to EHLO'."""
    head = command.split(":", 1)[0] if ":" in command else command.split(" ", 1)[0]
    return f"to {head}"


def _tls_refused(record: SessionRecord) -> bool:
    """A session that spoke SMTP (2xx banner and greeting) and stopped because TLS could not be had."""
    if record.outcome != "tls_failed":
        return False
    ok = {e.context for e in record.exchanges if e.reply is not None and 200 <= e.reply.code < 300}
    # greeted and answered EHLO: the host speaks SMTP, whatever then went wrong with TLS
    return Context.BANNER in ok and bool(ok & {Context.EHLO, Context.HELO})


def _conclude_tls(walk: Walk, record: SessionRecord, addresses: Sequence[Address]) -> None:
    """--starttls require and no host met it: the domain accepts mail; the addresses were not asked."""
    report = walk.report
    report.status, report.reason = DomainStatus.ACCEPTS_MAIL, Reason.TLS_FAILURE
    d = diagnose(_tls_stop(record) or _last(record), record.host)
    report.addresses = [_result(a, d, Verdict.UNKNOWN, record.host, "STARTTLS") for a in addresses]
    failed = [r for r in walk.records if _tls_refused(r)]
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


def _conclude_answered(walk: Walk, record: SessionRecord, addresses: Sequence[Address]) -> None:
    report = walk.report
    refusal = _last(record) if record.outcome == "rejected" and record.exchanges else None
    if refusal is not None:  # 5xx to the greeting or to EHLO/HELO
        d = diagnose(refusal, record.host)
        report.status, report.reason = assess.domain_status_from_refusal(d), d.reason
    else:
        report.status, report.reason = DomainStatus.ACCEPTS_MAIL, Reason.ACCEPTED
    catch_all = _catch_all(walk.retry) if walk.retry is not None and walk.retry.catch_all else None
    if catch_all is None:
        catch_all = _catch_all(record)
    provider_id = detect_provider(record.host, " ".join(e.reply.text for e in record.exchanges[:2] if e.reply))
    service = catchall.unreliable(provider_id)
    for a in addresses:
        source = walk.retry if walk.retry is not None and a.smtp_form in walk.retry.rcpt else record
        d, result = _address_result(a, source, catch_all)
        if d.reason is Reason.TLS_REQUIRED and not tls_negotiated(source.tls):  # a demand for TLS met in plain text
            result.remediation = plaintext.tls_required_advice(source)
        if source is not record:
            first_d, _ = _address_result(a, record, catch_all)
            result.attempts = [_attempt(record, first_d, 0.0), _attempt(source, d, walk.waited_s)]
        if greylist.worth_retrying(d):
            result.retry_after_s = greylist.retry_delay_s(d.text)
        if service is not None:
            result, finding = catchall.rcpt_proves_nothing(result, service, d.provider, catch_all, record.host)
            walk.finding(finding)
        elif catch_all and result.verdict is Verdict.RISKY and d.reason is Reason.ACCEPTED:
            result = catchall.accepted_by_catch_all(result, a.domain)
        result.mx_verdicts = _mx_verdicts(walk, a)
        for finding in _disagreements(result.address, result.mx_verdicts):  # one per address and host
            if finding not in report.findings:
                report.findings.append(finding)
        report.addresses.append(result)
    if refusal is None:
        refusal = _refused_at_every_rcpt(record, walk.retry)
        if refusal is not None:
            report.status, report.reason = DomainStatus.REFUSES_THIS_CLIENT, diagnose(refusal, record.host).reason
    if report.status is DomainStatus.ACCEPTS_MAIL and _relay_denied_for_the_domain(record, report.domain):
        report.status, report.reason = DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.RELAY_DENIED
    postmaster = _postmaster(walk, record) if not addresses else None
    report.summary = _summary(report)
    if postmaster:
        report.summary = f"{report.summary}; {postmaster}"
    if report.status is DomainStatus.REFUSES_THIS_CLIENT and refusal is not None:
        tls = report.reason is Reason.TLS_REQUIRED
        why = f": it {plaintext.why_plain(record)[1]}" if tls else ""
        here = "not in plain text" if tls else "not from here"
        pm = record.postmaster_address
        asked = (f" ({pm} was not asked: the MAIL FROM was refused)" if record.postmaster is not None
                 and record.postmaster.context is Context.MAIL else
                 f" ({pm} was not accepted)" if record.postmaster is not None else "")
        report.summary = (f"{report.domain}: {record.host} answered and refused this client "
                          f"({_refusal_words(refusal)}){why}; the domain may accept mail from others, "
                          + ("and nothing was learned about the addresses" if addresses else f"but {here}{asked}"))


# a refusal of postmaster@DOMAIN that says the mailbox is missing, not the client or the domain
_NO_POSTMASTER = frozenset({Reason.USER_UNKNOWN, Reason.MAILBOX_DISABLED, Reason.HAS_MOVED})


def _postmaster(walk: Walk, record: SessionRecord) -> str:
    """A domain-only probe asked RCPT TO:<postmaster@DOMAIN> (RFC 5321 §4.5.1: every server that delivers for
    a domain must accept it): record its answer in the report, adjust the status and add the finding its
    refusal calls for; returns the clause the summary adds ('' when it was not asked). A refusal of this
    client (every recipient refused for it) was already made `refuses_this_client` by _refused_at_every_rcpt.

    - 250/251/252: the host takes mail for the domain from this client;
    - 4xx other than a refusal of this client (greylisting, a deferral): accepts mail, a WARNING, as a
      greylisted address is risky;
    - unknown user: accepts mail (the host takes the domain's mail), a WARNING that postmaster@ must exist;
    - relay denied: the host does not take mail for the domain at all: does_not_accept_mail, CRITICAL, with
      the relay advice; not_accepting_mail (556, 5.1.10): does_not_accept_mail;
    - any other refusal: accepts mail, a WARNING quoting it."""
    retried = walk.retry if walk.retry is not None and walk.retry.postmaster is not None else None
    first = record
    record = retried or record  # --retry-greylist asked it again: the last answer decides
    report, exchange, pm = walk.report, record.postmaster, record.postmaster_address
    if exchange is None or pm is None:
        return ""
    d = diagnose(exchange, record.host)
    accepted = d.code is not None and 200 <= d.code < 300
    report.postmaster = {"address": pm, "host": record.host, "code": d.code, "enhanced": d.enhanced,
                         "reason": str(d.reason), "text": d.text or None, "accepted": accepted,
                         "command": exchange.command}
    if retried is not None and first.postmaster is not None:
        report.postmaster["attempts"] = [_attempt(first, diagnose(first.postmaster, first.host), 0.0),
                                         _attempt(retried, d, walk.waited_s)]
    mx_verdicts = _mx_verdicts(walk, None)  # --all-mx: every host was asked, as for an address
    if mx_verdicts:
        report.postmaster["mx_verdicts"] = mx_verdicts
        for finding in _disagreements(pm, mx_verdicts):
            if finding not in report.findings:
                report.findings.append(finding)
    if report.status is DomainStatus.REFUSES_THIS_CLIENT or exchange.reply is None:
        return ""
    said = exchange.reply.headline
    # findings quote the codes only: the Postmaster line of the report and the step give the whole reply
    asked = (f"{record.host} answered {exchange.command or 'the postmaster RCPT'} with "
             + " ".join(str(c) for c in (d.code, d.enhanced) if c is not None))
    if accepted:
        return f"{record.host} accepted {pm} ({said})"
    if d.reason is Reason.RELAY_DENIED:  # a 4xx too: Postfix's default relay check, defer_unauth_destination
        report.status, report.reason = DomainStatus.DOES_NOT_ACCEPT_MAIL, d.reason
        mx_override = walk.facts.mx_override if walk.facts is not None else report.mx_source == "override"
        fix = advice.relay_denied_advice(record.host, report.domain, mx_override=mx_override)
        fate = ("bounces there" if d.code is None or d.code >= 500 else
                "is deferred there, and bounced when senders give up retrying, days later (Postfix's default relay "
                "check, defer_unauth_destination, says 'Relay access denied' with a 4xx; so does soft_bounce = yes)")
        walk.finding(Finding("postmaster-relay-denied", Severity.CRITICAL, (
            f"{asked} ({d.reason}): {record.host} does not take mail for {report.domain}, so mail to the "
            f"domain {fate}. {fix}"), record.host))
        return f"{record.host} does not take mail for {report.domain} ({said})"
    if d.code is not None and 400 <= d.code < 500:
        verifying = d.rule == advice.VERIFYING
        grey = not verifying and (d.reason is Reason.GREYLISTED or greylist.worth_retrying(d))
        again = (f", asked again {walk.waited_s:g} s later (--retry-greylist), and still deferred"
                 if retried is not None else "")
        walk.finding(Finding("postmaster-deferred", Severity.WARNING, (
            f"{asked} ({d.reason}){again}: "
            + ("the server is verifying the address with the server behind it, and answers for it once that "
               "check is done: an acceptance, or a refusal" if verifying else
               "greylisting; a sender that retries later, as every MTA does, is let through, so mail is "
               "delayed, not refused" if grey else "mail to the domain is deferred for now; a sender retries")
            + f". {d.remediation if retried is None else _retry_hint(d)}"), record.host))
        return f"{pm} deferred ({said})"
    if d.reason in _NO_POSTMASTER:
        walk.finding(Finding("postmaster-unknown", Severity.WARNING, (
            f"{asked} ({d.reason}): {report.domain} takes mail, but has no postmaster. RFC 5321 "
            f"§4.5.1 requires every domain that receives mail to accept mail to postmaster@, where reports of "
            f"mail problems go. Create it, or make it an alias of the mail administrator's mailbox (Postfix "
            f"and Exim: 'postmaster: root' in /etc/aliases, then newaliases; a virtual-domain table: a "
            f"{pm} entry)."), record.host))
        return f"{pm} refused ({said})"
    if d.reason is Reason.NOT_ACCEPTING_MAIL:
        report.status, report.reason = DomainStatus.DOES_NOT_ACCEPT_MAIL, d.reason
        return f"{pm} refused ({said})"
    if exchange.context is Context.MAIL:  # the probe's sender was refused, for no reason of this client's
        why = f"the probe's MAIL FROM was refused, so {pm} was not asked"
    else:
        why = "RFC 5321 §4.5.1 requires a server that takes mail for a domain to accept postmaster@ there"
    walk.finding(Finding("postmaster-refused", Severity.WARNING, (
        f"{asked} ({d.reason}): {why}. {d.remediation}"), record.host))
    return f"{pm} not accepted ({said})"


def _relay_denied_for_the_domain(record: SessionRecord, domain: str) -> bool:
    """Every recipient of `domain` this host answered (the addresses', the random one's) was refused as a relay:
    the host takes none of the domain's mail, as a domain-only probe's refused postmaster@ shows (_postmaster).
    Addresses of another domain are relay questions (assess.asked_elsewhere) and say nothing of this one."""
    answers = [e for key, e in (*record.rcpt.items(), (record.catch_all_address or "", record.catch_all))
               if e is not None and e.reply is not None and key.rpartition("@")[2].lower() == domain.lower()]
    return bool(answers) and all(diagnose(e, record.host).reason is Reason.RELAY_DENIED for e in answers)


def _retry_hint(d: Diagnosis) -> str:
    """After a --retry-greylist that was deferred again, the catalogue's "ask again (--retry-greylist)" is done."""
    if d.reason is Reason.GREYLISTED or greylist.worth_retrying(d):
        return "To see the answer, retry with a longer --retry-greylist (and --deadline)."
    return d.remediation


def _refused_at_every_rcpt(record: SessionRecord, retry: SessionRecord | None = None) -> Exchange | None:
    """The first refusal, when the server answered every recipient of the session (the addresses' and the
    random one) with a refusal of this client (SPEC.md: refuses_this_client), never with an acceptance:
    Postfix says its HELO, client and sender restrictions only at RCPT (smtpd_delay_reject = yes, the
    default), and postscreen's DNSBL "enforce" action too ("550 5.7.1 Service unavailable; client [...]
    blocked using ..." to each RCPT, postscreen_early.c). Such a host accepted no mail from this client:
    it refused this client, as when it says so at the greeting or to EHLO. A domain-only probe's RCPT
    TO:<postmaster@DOMAIN> is such a recipient too. After a --retry-greylist session (`retry`), its answers
    replace the first session's for what it asked again. None otherwise."""
    def last(first: Exchange | None, again: Exchange | None) -> Exchange | None:
        return again if again is not None and again.reply is not None else first

    answers = [e for e in (*(last(e, retry.rcpt.get(k) if retry else None) for k, e in record.rcpt.items()),
                           last(record.catch_all, retry.catch_all if retry else None),
                           last(record.postmaster, retry.postmaster if retry else None))
               if e is not None and e.reply is not None]
    plain = not tls_negotiated(record.tls)  # STARTTLS not offered, not used, refused, or its handshake failed
    if not answers or not all(e.reply.code >= 400 and _refuses_this_prober(diagnose(e, record.host), plain=plain)
                              for e in answers if e.reply is not None):
        return None
    return answers[0]


def _refuses_this_prober(d: Diagnosis, *, plain: bool) -> bool:
    """A refusal of this client (assess.refuses_client), or of the probe's own MAIL FROM (sender_rejected:
    Postfix's reject_unknown_sender_domain says it to each RCPT), or a demand for STARTTLS to a session in plain
    text (Postfix's smtpd_tls_security_level = encrypt: "530 5.7.0 Must issue a STARTTLS command first" to MAIL
    and each RCPT, smtpd.c): either way the host refused what this probe sent, not the recipients, and may
    take mail from others."""
    return (assess.refuses_client(d) or d.reason is Reason.SENDER_REJECTED
            or (plain and d.reason is Reason.TLS_REQUIRED))


def _mx_verdicts(walk: Walk, a: Address | None) -> list[dict[str, Any]]:
    """Each session (host and address, preference order) that answered `a`'s RCPT (None: a domain-only probe's
    RCPT TO:<postmaster@DOMAIN>); [] when fewer than two did. An answer is counted once: a session the server
    ended early holds the answers of the session that asked its unasked addresses again
    (probe.run.probe._ask_again), and that session is in the walk too."""
    answers = []
    seen: set[int] = set()
    for record in walk.records:
        exchange = record.rcpt.get(a.smtp_form) if a is not None else record.postmaster
        if record is walk.retry or exchange is None or exchange.context is not Context.RCPT or exchange.reply is None:
            continue
        if id(exchange) in seen:
            continue
        seen.add(id(exchange))
        d = diagnose(exchange, record.host)
        verdict = assess.address_verdict(d, catch_all=_catch_all(record) if a is not None else None)
        answers.append({"host": record.host, "address": record.address, "verdict": str(verdict),
                        "reason": str(d.reason), "code": d.code, "enhanced": d.enhanced, "text": d.text})
    return answers if len(answers) > 1 else []


# how bad it is when a host answers this while the deciding host answers something else
_DISAGREEMENT_SEVERITY = {Verdict.UNDELIVERABLE: Severity.CRITICAL, Verdict.RISKY: Severity.WARNING,
                          Verdict.UNKNOWN: Severity.WARNING, Verdict.DELIVERABLE: Severity.WARNING}


def _disagreements(address: str, mx_verdicts: list[dict[str, Any]]) -> list[Finding]:
    """mx-disagree, once per host whose verdict on `address` differs from the deciding (first) host's.

    A host that refuses what the first accepts bounces the mail that fails over to it (CRITICAL); one that
    accepts what the first refuses takes mail only to bounce it later (WARNING), as does one that defers.
    """
    if not mx_verdicts:
        return []
    first = mx_verdicts[0]
    findings: list[Finding] = []
    for other in mx_verdicts[1:]:
        if other["verdict"] == first["verdict"] or other["host"] == first["host"]:
            continue
        verdict = Verdict(other["verdict"])
        said = first_line(str(other["text"] or other["code"]))
        if verdict is Verdict.UNDELIVERABLE:
            consequence = (f"mail that fails over to {other['host']} will bounce: it does not accept "
                           f"{address} ({said})")
        elif first["verdict"] == Verdict.UNDELIVERABLE:
            consequence = (f"{other['host']} accepts {address} ({said}), which {first['host']} refuses: "
                           "mail that fails over to it is accepted, then bounced by the primary (backscatter)")
        else:
            consequence = (f"{other['host']} answers {address} {verdict} ({said}) where "
                           f"{first['host']} answers {first['verdict']}: mail that fails over to it may be "
                           "delayed or refused")
        findings.append(Finding("mx-disagree", _DISAGREEMENT_SEVERITY[verdict],
                                f"The MX hosts disagree about {address}: {consequence}.", other["host"]))
    return findings


def _refusal_words(exchange: Exchange) -> str:
    """'521 5.3.2 Service currently unavailable, at the greeting' (first line, bounded)."""
    reply = exchange.reply
    said = reply.headline if reply else ""
    where = "at the greeting" if exchange.command is None else f"to {exchange.command.split(' ', 1)[0]}"
    return f"{said}, {where}" if said else where


def _address_result(a: Address, record: SessionRecord, catch_all: bool | None) -> tuple[Diagnosis, AddressResult]:
    exchange = record.rcpt.get(a.smtp_form) or (_last(record) if record.exchanges else None)
    if exchange is None:
        d = diagnose_event("protocol-error", Context.RCPT, detail="no reply recorded")
    else:
        d = diagnose(exchange, record.host)
    result = _result(a, d, assess.address_verdict(d, catch_all=catch_all), record.host,
                     _command_label(record, exchange) if exchange is not None else str(d.context))
    result.catch_all = catch_all
    result.vrfy = _vrfy(record, a.smtp_form)
    return d, result


def _command_label(record: SessionRecord, exchange: Exchange) -> str:
    """The command whose reply decided ('RCPT'); for a reply nobody asked for, where it came."""
    if exchange.unsolicited:
        before = None
        for e in record.exchanges:
            if e is exchange:
                break
            before = e.command or before
        return f"unsolicited (after {before.split(' ', 1)[0] if before else 'the banner'})"
    return exchange.command.split(" ", 1)[0] if exchange.command else str(exchange.context)


def _attempt(record: SessionRecord, d: Diagnosis, waited_s: float) -> dict[str, Any]:
    return {"host": record.host, "address": record.address, "code": d.code, "enhanced": d.enhanced,
            "reason": str(d.reason), "rule": d.rule, "text": d.text, "waited_s": round(waited_s, 1)}


def _catch_all(record: SessionRecord) -> bool | None:
    """What the random address's RCPT proved (see probe.judge.catchall)."""
    e = record.catch_all
    if e is None:
        return None
    return catchall.catch_all_answer(diagnose(e, record.host), e.context is Context.RCPT and e.reply is not None)


def _vrfy(record: SessionRecord, recipient: str) -> dict[str, Any] | None:
    e = record.vrfy.get(recipient)
    if e is None:
        return None
    d = diagnose(e, record.host)
    return {"code": d.code, "enhanced": d.enhanced, "reason": str(d.reason),
            "text": e.reply.text if e.reply else e.detail}


def _result(address: Address, d: Diagnosis, verdict: Verdict, host: str | None,
            command: str | None) -> AddressResult:
    return AddressResult(
        address=address.original, verdict=verdict, reason=d.reason, code=d.code, enhanced=d.enhanced,
        meaning=d.meaning, remediation=unlocated(d), host=host, command=command, text=d.text or None,
        rule=d.rule, provider=d.provider, decided_by=d.decided_by,
    )


def _summary(report: Report) -> str:
    parts = [f"{report.domain} {str(report.status).replace('_', ' ')}"]
    for a in report.addresses:
        parts.append(f"{a.address} {a.verdict} ({a.reason})")
    return "; ".join(parts)
