"""From what the MX walk saw to the report: the domain status, one result per address and the summary line.
No I/O: probe.run.probe walks, this module concludes; the walk's sessions (probe.judge.walk), the hosts that
decided nothing (probe.judge.unanswered), the acceptances that prove nothing (probe.judge.unproven), postmaster@
(probe.judge.postmaster) and the MX hosts' comparison (probe.judge.mxcompare) each have their own module.

Honesty rules live here, in probe.judge.unanswered and in probe.judge.verdicts: a host that never answered
decides nothing (the summary says what each one did); a host that answered SMTP but could not meet --starttls
require shows that the domain accepts mail without asking about the addresses; an address in another domain
than the one whose MX was asked is a relay/backup question, not a deliverability answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from probe.diagnosis.classifier import detect_provider, diagnose_event
from probe.inputs import Address
from probe.judge import advice, catchall, greylist, plaintext
from probe.judge import verdicts as assess
from probe.judge.mxcompare import disagreements, mx_verdicts
from probe.judge.postmaster import postmaster_clause
from probe.judge.reportfacts import at_named_hosts
from probe.judge.unanswered import conclude_tls, conclude_unanswered, tls_refused
from probe.judge.unproven import (
    accepted_beside_contradictions,
    accepted_by_backup,
    accepted_from_own_host,
    backup_finding,
    contradicted_acceptance,
    contradicted_by_vrfy,
    contradiction_finding,
    own_host_finding,
    recheck_finding,
    refused_but_verified,
    stopped_checking,
    stopped_checking_after,
    unanswered_primaries,
    vrfy_answer,
    vrfy_confirms,
)
from probe.judge.walk import Walk, attempt, catch_all_of, command_label, diagnose, last_exchange, to_result
from probe.model import (
    AddressResult,
    Context,
    Diagnosis,
    DomainStatus,
    Finding,
    Reason,
    Report,
    Severity,
    Verdict,
    tls_negotiated,
)
from probe.smtp.exchanges import Exchange, SessionRecord
from probe.tls.certificates import server_side_tls_failure
from probe.tls.checks import handshake_error


def conclude(walk: Walk, addresses: Sequence[Address], facts: advice.RunFacts | None = None) -> None:
    """Turn what the walk learned into the domain status and one result per address; with `facts`,
    each address's advice is worded from what this run settled (probe.judge.advice)."""
    report = walk.report
    if walk.dns_diagnosis is not None:
        d = walk.dns_diagnosis
        report.addresses = [to_result(a, d, assess.address_verdict(d), None, "DNS") for a in addresses]
    elif walk.decided is not None:
        _conclude_answered(walk, walk.decided, addresses)
    elif (tls := next((r for r in walk.records if tls_refused(r)), None)) is not None:
        conclude_tls(walk, tls, addresses)
    else:
        conclude_unanswered(walk, addresses)
    report.addresses = [assess.asked_elsewhere(r, report.domain, a.domain) if a.domain != report.domain else r
                        for a, r in zip(addresses, report.addresses, strict=True)]
    if facts is not None:
        report.addresses = [advice.address_advice(r, facts) for r in report.addresses]
        for session in report.sessions:  # a refused EHLO name: the same advice on the reply (a domain-only report's)
            for step in session.steps:
                if step.reason is Reason.HELO_REJECTED and step.code is not None and step.code >= 400 and facts.helo:
                    step.remediation = advice.helo_refused(session.host, facts.helo, step.text or "", step.code)


def _conclude_answered(walk: Walk, record: SessionRecord, addresses: Sequence[Address]) -> None:
    report = walk.report
    refusal = last_exchange(record) if record.outcome == "rejected" and record.exchanges else None
    if refusal is not None:  # 5xx to the greeting or to EHLO/HELO
        d = diagnose(refusal, record.host)
        report.status, report.reason = assess.domain_status_from_refusal(d), d.reason
    else:
        report.status, report.reason = DomainStatus.ACCEPTS_MAIL, Reason.ACCEPTED
    catch_all = catch_all_of(walk.retry) if walk.retry is not None and walk.retry.catch_all else None
    if catch_all is None:
        catch_all = catch_all_of(record)
    contradicted = {**contradicted_by_vrfy(record), **(contradicted_by_vrfy(walk.retry) if walk.retry else {})}
    random_too = bool(contradicted) and bool(catch_all)  # the host accepted the random address too
    if contradicted:
        walk.finding(contradiction_finding(record, contradicted, random_accepted=bool(catch_all)))
        if catch_all:  # a host that contradicts itself: its acceptance of the random address proves nothing
            catch_all = None
    trigger = stopped_checking_after(record)
    if trigger is not None:
        walk.finding(recheck_finding(record, trigger))
    primaries = unanswered_primaries(walk, record) if catch_all else []
    if primaries:
        walk.finding(backup_finding(record.host, primaries, report.domain))
        catch_all = None
    own = record.address if catch_all and record.from_own_address() else None
    if own is not None:
        walk.finding(own_host_finding(record.host, own, report.domain))
        catch_all = None
    provider_id = detect_provider(record.host, " ".join(e.reply.text for e in record.exchanges[:2] if e.reply))
    service = catchall.unreliable(provider_id)
    for a in addresses:
        source = walk.retry if walk.retry is not None and a.smtp_form in walk.retry.rcpt else record
        d, result = _address_result(a, source, catch_all)
        if d.reason is Reason.TLS_REQUIRED and not tls_negotiated(source.tls):  # a demand for TLS met in plain text
            result.remediation = plaintext.tls_required_advice(source)
        if d.reason is Reason.POLICY_REJECTED and source.port == SUBMISSION_PORT and "AUTH" in source.extensions:
            result.remediation = advice.submission_refusal(source.host, source.port)
        if source is not record:
            first_d, _ = _address_result(a, record, catch_all)
            result.attempts = [attempt(record, first_d, 0.0), attempt(source, d, walk.waited_s)]
        if greylist.worth_retrying(d):
            result.retry_after_s = greylist.retry_delay_s(d.text)
        if service is not None:
            result, finding = catchall.rcpt_proves_nothing(result, service, d.provider, catch_all, record.host)
            walk.finding(finding)
        elif catch_all and result.verdict is Verdict.RISKY and d.reason is Reason.ACCEPTED:
            result = catchall.accepted_by_catch_all(result, a.domain)
        if d.reason is Reason.UNKNOWN and result.verdict is Verdict.UNDELIVERABLE and vrfy_confirms(result.vrfy):
            result = refused_but_verified(result)
        if d.reason is Reason.ACCEPTED and (said := contradicted.get(a.smtp_form)):
            result = contradicted_acceptance(result, said)
        elif d.reason is Reason.ACCEPTED and random_too and result.verdict is Verdict.DELIVERABLE:
            result = accepted_beside_contradictions(result)
        elif d.reason is Reason.ACCEPTED and a.smtp_form == trigger:
            result = stopped_checking(result, record)
        elif d.reason is Reason.ACCEPTED and primaries and result.verdict is Verdict.DELIVERABLE:
            result = accepted_by_backup(result, primaries)
        elif d.reason is Reason.ACCEPTED and own is not None and result.verdict is Verdict.DELIVERABLE:
            result = accepted_from_own_host(result, own)
        result.mx_verdicts = mx_verdicts(walk, a)
        for finding in disagreements(result.address, result.mx_verdicts):  # one per address and host
            if finding not in report.findings:
                report.findings.append(finding)
        report.addresses.append(result)
    keys = {a.smtp_form for a in addresses}  # a batch line's own: the session asked its unit's other lines' too
    if refusal is None:
        refusal = _refused_at_every_rcpt(record, walk.retry, keys=keys, postmaster=not addresses)
        if refusal is not None:
            report.status, report.reason = DomainStatus.REFUSES_THIS_CLIENT, diagnose(refusal, record.host).reason
    if report.status is DomainStatus.ACCEPTS_MAIL and (relayed := _relay_denied_for_the_domain(
            record, report.domain, keys)):
        report.status, report.reason = DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.RELAY_DENIED
        _relay_deferred_finding(walk, record, relayed)
    postmaster = postmaster_clause(walk, record) if not addresses else None
    report.summary = _summary(report)
    deferred = (_deferred_every_rcpt(record, walk.retry, keys=keys, postmaster=not addresses)
                if report.status is DomainStatus.ACCEPTS_MAIL else None)
    if deferred is not None:  # "accepts mail" says it talks; it took no recipient here, and the summary says so
        head, sep, rest = report.summary.partition("; ")
        report.summary = (f"{head}, but {record.host} deferred every recipient it was asked "
                          f"({_refusal_words(deferred)}){sep}{rest}")
    if postmaster:
        report.summary = f"{report.summary}; {postmaster}"
    if (report.status is DomainStatus.REFUSES_THIS_CLIENT and refusal is not None
            and report.reason is Reason.TLS_REQUIRED and server_side_tls_failure(handshake_error(record))):
        # it takes mail only over TLS, and its TLS fails on its own side (an internal_error alert): not this client
        report.status = DomainStatus.DOES_NOT_ACCEPT_MAIL
        report.summary = (f"{report.domain}: {record.host} answered and refused mail in plain text "
                          f"({_refusal_words(refusal)}): it {plaintext.why_plain(record)[1]}; that alert is a fault "
                          "on its own side, so no sender can deliver to it while that lasts (the probe saw one "
                          "handshake)")
    elif report.status is DomainStatus.REFUSES_THIS_CLIENT and refusal is not None:
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


# RFC 6409 §3.1: the port of message submission, where users log in (SMTP AUTH) to send their mail
SUBMISSION_PORT = 587


def _relay_denied_for_the_domain(record: SessionRecord, domain: str, keys: set[str]) -> list[Exchange]:
    """Every recipient of `domain` this host answered (the addresses in `keys`, the random one) was refused as a
    relay: the host takes none of the domain's mail, as a domain-only probe's refused postmaster@ shows
    (postmaster_clause); those answers, or [] when not. Addresses of another domain are relay questions
    (assess.asked_elsewhere) and say nothing of this one."""
    if not keys:  # the domain alone: its postmaster@ decides (postmaster_clause), not a unit's random RCPT
        return []
    answers = [e for key, e in (*((k, e) for k, e in record.rcpt.items() if k in keys),
                                (record.catch_all_address or "", record.catch_all))
               if e is not None and e.reply is not None and key.rpartition("@")[2].lower() == domain.lower()]
    relayed = bool(answers) and all(diagnose(e, record.host).reason is Reason.RELAY_DENIED for e in answers)
    return answers if relayed else []


def _relay_deferred_finding(walk: Walk, record: SessionRecord, answers: list[Exchange]) -> None:
    """A relay refusal with a 4xx (Postfix's default relay check, defer_unauth_destination: "454 4.7.1 <...>:
    Relay access denied") is deferred by senders and bounced days later: CRITICAL, as for postmaster@
    (probe.judge.postmaster). A 5xx already makes each address undeliverable and says so."""
    first = next((e for e in answers if e.reply is not None and 400 <= e.reply.code < 500), None)
    if first is None or first.reply is None:
        return
    report, d = walk.report, diagnose(first, record.host)
    mx_override = walk.facts.mx_override if walk.facts is not None else report.mx_source == "override"
    fix = advice.relay_denied_advice(record.host, report.domain, mx_override=mx_override)
    said = " ".join(str(c) for c in (d.code, d.enhanced) if c is not None)
    walk.finding(Finding("relay-denied", Severity.CRITICAL, (
        f"{record.host} answered {first.command or 'RCPT'} with {said} ({d.reason}): {record.host} does not take "
        f"mail for {report.domain}, so mail {'for the domain sent to it' if mx_override else 'to the domain'} is "
        "deferred there, and bounced when senders give up "
        "retrying, days later (Postfix's default relay check, defer_unauth_destination, says 'Relay access "
        f"denied' with a 4xx; so does soft_bounce = yes). {fix}"), record.host))


def _refused_at_every_rcpt(record: SessionRecord, retry: SessionRecord | None = None, *,
                           keys: set[str] | None = None, postmaster: bool = True) -> Exchange | None:
    """The first refusal, when the server answered every recipient of the session (the addresses' and the
    random one) with a refusal of this client (SPEC.md: refuses_this_client), never with an acceptance:
    Postfix says its HELO, client and sender restrictions only at RCPT (smtpd_delay_reject = yes, the
    default), and postscreen's DNSBL "enforce" action too ("550 5.7.1 Service unavailable; client [...]
    blocked using ..." to each RCPT, postscreen_early.c). Such a host accepted no mail from this client:
    it refused this client, as when it says so at the greeting or to EHLO. A domain-only probe's RCPT
    TO:<postmaster@DOMAIN> is such a recipient too. After a --retry-greylist session (`retry`), its answers
    replace the first session's for what it asked again. A batch line counts only its own addresses (`keys`, all
    when None) and postmaster@ only when it is the domain alone (`postmaster`): a line's result never depends on
    the other lines of its unit. None otherwise."""
    answers = _rcpt_answers(record, retry, keys=keys, postmaster=postmaster)
    plain = not tls_negotiated(record.tls)  # STARTTLS not offered, not used, refused, or its handshake failed
    if not answers or not all(e.reply.code >= 400 and _refuses_this_prober(diagnose(e, record.host), plain=plain)
                              for e in answers if e.reply is not None):
        return None
    return answers[0]


def _rcpt_answers(record: SessionRecord, retry: SessionRecord | None, *, keys: set[str] | None,
                  postmaster: bool) -> list[Exchange]:
    """The replies to the session's recipients (the addresses', the random one, postmaster@ when `postmaster`), the
    --retry-greylist session's where it asked again; a batch line's own addresses only (`keys`, all when None)."""
    def last(first: Exchange | None, again: Exchange | None) -> Exchange | None:
        return again if again is not None and again.reply is not None else first

    return [e for e in (*(last(e, retry.rcpt.get(k) if retry else None) for k, e in record.rcpt.items()
                          if keys is None or k in keys),
                        last(record.catch_all, retry.catch_all if retry else None) if keys is None or keys else None,
                        last(record.postmaster, retry.postmaster if retry else None) if postmaster else None)
            if e is not None and e.reply is not None]


def _deferred_every_rcpt(record: SessionRecord, retry: SessionRecord | None, *, keys: set[str],
                         postmaster: bool) -> Exchange | None:
    """The first reply, when the server answered every recipient it was asked with a 4xx (a bare ACL defer,
    greylisting, a lookup that failed for now): it talks, but took no recipient in this session. None otherwise."""
    answers = _rcpt_answers(record, retry, keys=keys, postmaster=postmaster)
    if answers and all(e.reply is not None and 400 <= e.reply.code < 500 for e in answers):
        return answers[0]
    return None


def _refuses_this_prober(d: Diagnosis, *, plain: bool) -> bool:
    """A refusal of this client (assess.refuses_client), or of the probe's own MAIL FROM (sender_rejected:
    Postfix's reject_unknown_sender_domain says it to each RCPT), or a demand for STARTTLS to a session in plain
    text (Postfix's smtpd_tls_security_level = encrypt: "530 5.7.0 Must issue a STARTTLS command first" to MAIL
    and each RCPT, smtpd.c): either way the host refused what this probe sent, not the recipients, and may
    take mail from others."""
    return (assess.refuses_client(d) or d.reason is Reason.SENDER_REJECTED
            or (plain and d.reason is Reason.TLS_REQUIRED))


def _refusal_words(exchange: Exchange) -> str:
    """'521 5.3.2 Service currently unavailable, at the greeting' (first line, bounded)."""
    reply = exchange.reply
    said = reply.headline if reply else ""
    where = "at the greeting" if exchange.command is None else f"to {exchange.command.split(' ', 1)[0]}"
    return f"{said}, {where}" if said else where


def _address_result(a: Address, record: SessionRecord, catch_all: bool | None) -> tuple[Diagnosis, AddressResult]:
    exchange = record.rcpt.get(a.smtp_form) or (last_exchange(record) if record.exchanges else None)
    if exchange is None:
        d = diagnose_event("protocol-error", Context.RCPT, detail="no reply recorded")
    else:
        d = diagnose(exchange, record.host)
    result = to_result(a, d, assess.address_verdict(d, catch_all=catch_all), record.host,
                     command_label(record, exchange) if exchange is not None else str(d.context))
    result.catch_all = catch_all
    result.vrfy = vrfy_answer(record, a.smtp_form)
    return d, result


def _summary(report: Report) -> str:
    parts = [f"{report.domain} {str(report.status).replace('_', ' ')}{at_named_hosts(report)}"]
    for a in report.addresses:
        parts.append(f"{a.address} {a.verdict} ({a.reason})")
    return "; ".join(parts)
