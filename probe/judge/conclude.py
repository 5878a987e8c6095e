"""From what the MX walk saw to the report: the domain status, one result per address and the summary line.
No I/O: probe.run.probe walks, this module concludes; the walk's sessions (probe.judge.walk), the hosts that
decided nothing (probe.judge.unanswered), postmaster@ (probe.judge.postmaster) and the MX hosts' comparison
(probe.judge.mxcompare) each have their own module.

Honesty rules live here, in probe.judge.unanswered and in probe.judge.verdicts: a host that never answered
decides nothing (the summary says what each one did); a host that answered SMTP but could not meet --starttls
require shows that the domain accepts mail without asking about the addresses; an address in another domain
than the one whose MX was asked is a relay/backup question, not a deliverability answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from probe.diagnosis.classifier import detect_provider, diagnose_event
from probe.inputs import Address
from probe.judge import advice, catchall, greylist, plaintext
from probe.judge import verdicts as assess
from probe.judge.mxcompare import disagreements, mx_verdicts
from probe.judge.postmaster import opensmtpd_invalid_recipient, postmaster_clause
from probe.judge.reportfacts import at_named_hosts
from probe.judge.unanswered import conclude_tls, conclude_unanswered, tls_refused
from probe.judge.walk import Walk, attempt, catch_all_of, command_label, diagnose, last_exchange, to_result
from probe.model import (
    AddressResult,
    Context,
    Diagnosis,
    DomainStatus,
    Finding,
    MxHost,
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
    contradicted = {**_contradicted_by_vrfy(record), **(_contradicted_by_vrfy(walk.retry) if walk.retry else {})}
    random_too = bool(contradicted) and bool(catch_all)  # the host accepted the random address too
    if contradicted:
        walk.finding(_contradiction_finding(record, contradicted, random_accepted=bool(catch_all)))
        if catch_all:  # a host that contradicts itself: its acceptance of the random address proves nothing
            catch_all = None
    trigger = _stopped_checking_after(record)
    if trigger is not None:
        walk.finding(_recheck_finding(record, trigger))
    primaries = _unanswered_primaries(walk, record) if catch_all else []
    if primaries:
        walk.finding(_backup_finding(record.host, primaries, report.domain))
        catch_all = None
    own = record.address if catch_all and record.from_own_address() else None
    if own is not None:
        walk.finding(_own_host_finding(record.host, own, report.domain))
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
        if d.reason is Reason.UNKNOWN and result.verdict is Verdict.UNDELIVERABLE and _vrfy_confirms(result.vrfy):
            result = _refused_but_verified(result)
        if d.reason is Reason.ACCEPTED and (said := contradicted.get(a.smtp_form)):
            result = _contradicted(result, said)
        elif d.reason is Reason.ACCEPTED and random_too and result.verdict is Verdict.DELIVERABLE:
            result = _accepted_beside_contradictions(result)
        elif d.reason is Reason.ACCEPTED and a.smtp_form == trigger:
            result = _stopped_checking(result, record)
        elif d.reason is Reason.ACCEPTED and primaries and result.verdict is Verdict.DELIVERABLE:
            result = _accepted_by_backup(result, primaries)
        elif d.reason is Reason.ACCEPTED and own is not None and result.verdict is Verdict.DELIVERABLE:
            result = _accepted_from_own_host(result, own)
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


def _contradicted_by_vrfy(record: SessionRecord) -> dict[str, str]:
    """recipient -> '550 5.1.1 (user_unknown)' for each recipient whose RCPT the host accepted while its VRFY, in
    the same session, refused the mailbox itself. VRFY checks an address alone (Postfix: smtpd.c vrfy_cmd runs
    the recipient restrictions outside any transaction); RCPT does not always: once an access(5) DISCARD action
    has matched a recipient, Postfix answers 250 and checks no later recipient of the transaction
    (smtpd_check.c generic_checks, `if (state->discard != 0) break`, and the implicit reject_unlisted_recipient
    is skipped too); Sendmail likewise accepts the discarded recipient and every later one without looking the user
    up (srvrsmtp.c: "If discarding, don't bother to verify user"; real sendmail 8.17 in tests/realmta)."""
    out: dict[str, str] = {}
    for key, exchange in record.rcpt.items():
        said = advice.vrfy_refusal(_vrfy(record, key))
        if said and exchange.reply is not None and 200 <= exchange.reply.code < 300:
            out[key] = said
    return out


def _contradiction_finding(record: SessionRecord, contradicted: dict[str, str], *, random_accepted: bool) -> Finding:
    host = record.host
    said = "; ".join(f"{address}: {words}" for address, words in contradicted.items())
    alone = record.catch_all_address in record.rechecked
    random = ("" if not random_accepted else
              " The random address was accepted too, asked in a transaction of its own as well, so whether the "
              "domain accepts any address is unknown, and no acceptance of this host proves a mailbox: Postfix and "
              "Sendmail answer every recipient so when a DISCARD action has matched this client or its sender."
              if alone else " The random address, asked after them in the same transaction, was accepted too, so "
              "whether the domain accepts any address is unknown.")
    return Finding("rcpt-contradicts-vrfy", Severity.WARNING, (
        f"{host} accepted at RCPT what it refused to VRFY ({said}): those acceptances are not its word on the "
        "mailboxes. Postfix and Sendmail answer so once an access table's DISCARD action has matched a "
        "recipient: they answer 250 to it and check no later recipient of the transaction (Postfix access(5): "
        "DISCARD affects all recipients of the message; Sendmail's srvrsmtp.c: \"If discarding, don't bother to "
        f"verify user\").{random}"), host)


def _vrfy_confirms(vrfy: dict[str, Any] | None) -> bool:
    """VRFY answered 250 for the address itself: "A server MUST NOT return a 250 code in response to a VRFY or
    EXPN command unless it has actually verified the address" (RFC 5321 §3.5.3); 252 promises nothing."""
    return vrfy is not None and vrfy.get("code") == 250


def _refused_but_verified(result: AddressResult) -> AddressResult:
    """A permanent RCPT refusal whose words say nothing of the mailbox (reason unknown), from a host whose VRFY
    verified that very address: by the host's own word the mailbox exists, so the refusal is of something else
    (the sender, this client, a policy), not an undeliverable address. Sendmail says so with FEATURE(`delay_checks')
    (in Debian's sendmail.mc): its refusals of the client and the sender (access database From:/Connect: entries,
    "ERROR:"550 We don't accept mail from spammers"", cf/README's example) come as the reply to each RCPT (cf/README:
    "check_mail and check_relay ... will be called by the check_rcpt ruleset"), while VRFY still answers
    "250 2.1.5 <user@host>" for a local user."""
    host = result.host or "the server"
    said = " ".join(str(p) for p in (result.code, result.enhanced) if p is not None)
    return replace(
        result, verdict=Verdict.UNKNOWN,
        meaning=(f"{host} refused this address at RCPT ({said}) without saying that the mailbox does not exist, "
                 "and its VRFY verified the same address with 250 (RFC 5321 §3.5.3: a server answers VRFY with "
                 "250 only for an address it has verified): the refusal is of something else, the sender, this "
                 "client or a policy of the server (Sendmail with FEATURE(`delay_checks') says its refusals of the "
                 "client and the sender to each RCPT), not of the mailbox."),
        remediation=("Do not remove the address on this answer: read the refusal's words for what the server "
                     "refuses (the MAIL FROM, this client's IP or name), and ask the domain's postmaster, quoting "
                     "the time and the probe's IP, if they do not say."))


def _unproven(result: AddressResult, *, meaning: str, remediation: str) -> AddressResult:
    """An acceptance that proves nothing about the mailbox (the server contradicted itself, stopped checking, is a
    backup or trusts this client): risky, no word on catch-all, with what makes it so."""
    return replace(result, verdict=Verdict.RISKY, catch_all=None, meaning=meaning, remediation=remediation)


def _contradicted(result: AddressResult, said: str) -> AddressResult:
    host = result.host or "the server"
    return _unproven(
        result,
        meaning=(f"{host} accepted this address at RCPT, but answered VRFY for this address with {said}: the "
                 "server contradicts itself, so the acceptance proves nothing about the mailbox."),
        remediation=("VRFY checked the address alone; RCPT may not have: Postfix and Sendmail accept every "
                     "recipient of a transaction without checking it once an access table's DISCARD action has "
                     "matched it, an earlier one, the client or the sender (and then discard the message), and "
                     "some servers "
                     "accept first and bounce later. Expect the mailbox not to exist; confirm with the domain's "
                     "administrator or the owner of the address."))


def _accepted_beside_contradictions(result: AddressResult) -> AddressResult:
    """An acceptance from a host that accepted the random address too and refused at VRFY an address it accepted
    at RCPT: Postfix after an access(5) DISCARD that matched the client or the sender (smtpd_client_restrictions,
    smtpd_sender_restrictions) answers 250 to every recipient of every transaction, checking none."""
    host = result.host or "the server"
    return _unproven(
        result,
        meaning=(f"{host} accepted this address, but it also accepted a random address that cannot exist, and "
                 "accepted at RCPT an address that its VRFY refused: its acceptances are not its word on the "
                 "mailboxes, so this one proves nothing about this mailbox."),
        remediation=("Postfix and Sendmail answer every RCPT with 250 without checking it once an access "
                     "table's DISCARD action has matched the client or the sender (and then discard the message); "
                     "or the "
                     "domain accepts any address. Confirm the mailbox with the domain's administrator or the "
                     "owner of the address."))


def _refused_alone(record: SessionRecord) -> list[str]:
    """The addresses (the random one included) the first transaction accepted and a transaction of their own
    refused (probe.smtp.session Dialogue._recheck)."""
    alone = {**record.rcpt, **({record.catch_all_address: record.catch_all}
                               if record.catch_all_address and record.catch_all else {})}
    return [key for key in record.rechecked
            if (ex := alone.get(key)) is not None and ex.reply is not None and ex.reply.code >= 400]


def _stopped_checking_after(record: SessionRecord) -> str | None:
    """The recipient after which the host accepted, in one transaction, addresses it refuses alone: the last one
    before the first such address that it accepted alone too (None when the answers agreed)."""
    refused = _refused_alone(record)
    if not refused:
        return None
    trigger = None
    for key in record.rcpt:
        if key in refused:
            break
        ex = record.rcpt[key]
        if key in record.rechecked and ex.reply is not None and 200 <= ex.reply.code < 300:
            trigger = key
    return trigger


def _recheck_finding(record: SessionRecord, trigger: str) -> Finding:
    keys = sorted(_refused_alone(record), key=lambda k: k == record.catch_all_address)
    refused = ", ".join(key if key != record.catch_all_address else f"the random address {key}" for key in keys)
    return Finding("rcpt-accepts-after", Severity.WARNING, (
        f"{record.host} accepted every recipient after {trigger} in one transaction, and refused {refused} when "
        "each was asked alone: accepting one recipient made it stop checking the others. Postfix and Sendmail do "
        "so once an access table's DISCARD action has matched a recipient (Postfix access(5): DISCARD affects all "
        "recipients of the message, which is accepted and then dropped; Sendmail's cf/README: DISCARD discards "
        "the message completely, and its srvrsmtp.c verifies no later recipient: \"If discarding, don't bother to "
        f"verify user\"), so mail to {trigger} may be discarded unread. The "
        "answers shown are each address's own, asked alone."), record.host)


def _stopped_checking(result: AddressResult, record: SessionRecord) -> AddressResult:
    host = result.host or "the server"
    return _unproven(
        result,
        meaning=(f"{host} accepted this address, and in the same transaction then accepted addresses it refuses "
                 "when each is asked alone: accepting this one made it stop checking recipients, as Postfix and "
                 "Sendmail do after an access table's DISCARD action, which accepts the message and drops it."),
        remediation=("Ask the domain's administrator whether mail to this address is discarded (a DISCARD "
                     "entry in an access table, or a similar rule); a 250 here does not show that mail to it is "
                     "kept."))


def _unanswered_primaries(walk: Walk, record: SessionRecord) -> list[MxHost]:
    """The domain's MX hosts more preferred than `record`'s that the walk tried and that decided nothing (refused
    the connection, timed out): `record` answered as a backup MX. Only for MX records from DNS."""
    report = walk.report
    if report.mx_source != "mx":
        return []
    own = next((m.preference for m in report.mx if m.host == record.host), None)
    tried = {r.host for r in walk.records if r is not record and r.host != record.host}
    return [m for m in report.mx if own is not None and m.preference < own and m.host in tried]


def _backup_finding(host: str, primaries: list[MxHost], domain: str) -> Finding:
    names = ", ".join(f"{m.host} (preference {m.preference})" for m in primaries)
    return Finding("backup-mx-accepts-any", Severity.WARNING, (
        f"The addresses were answered by {host}, a backup MX: {names} "
        f"{'was' if len(primaries) == 1 else 'were'} tried first and answered nothing about them (no connection, "
        f"a timeout, or a refused greeting). {host} accepted a random "
        f"address too; a backup MX commonly accepts every address of the domain and queues the mail for the "
        "primary, which bounces unknown ones later (Postfix with relay_domains and no relay_recipient_maps, "
        f"Exim relay_to_domains without a recipient callout), so whether {domain} accepts any address is unknown. "
        f"Probe again when {primaries[0].host} answers; a backup should know the valid recipients "
        "(relay_recipient_maps) to refuse the others at once."), host)


def _accepted_by_backup(result: AddressResult, primaries: list[MxHost]) -> AddressResult:
    host = result.host or "the server"
    return _unproven(
        result,
        meaning=(f"{host}, a backup MX ({primaries[0].host}, tried first, answered nothing about it), accepted "
                 "this address and a random "
                 "one alike: it takes mail for any address of the domain to pass it on, so this acceptance "
                 "proves nothing about the mailbox."),
        remediation=(f"Probe again when {primaries[0].host} answers: the primary decides whether the mailbox "
                     "exists."))


# What trusts a client on the server's own host, by default: Postfix's mynetworks (Debian's postinst sets
# 127.0.0.0/8; without it, mynetworks_style = host: every address of the host) with permit_mynetworks first in
# smtpd_relay_restrictions; Exim's relay_from_hosts (Debian's exim4-config: 127.0.0.1 : ::::1).
_TRUSTED_LOCAL = ("Postfix's mynetworks with permit_mynetworks, Debian's 127.0.0.0/8 or the host's own addresses "
                  "by default; Exim's relay_from_hosts; Sendmail relays for 127.0.0.1 and its own addresses, "
                  "\"originated locally\" in its cf/m4/proto.m4")


def _own_host_finding(host: str, own: str, domain: str) -> Finding:
    return Finding("probe-on-server-host", Severity.WARNING, (
        f"The probe connected to {host} from {own}, the server's own address: it ran on the mail server itself. "
        f"Mail servers trust their own host ({_TRUSTED_LOCAL}) and relay for it any address of any domain, "
        f"so {host} accepting a random address may be relaying for this trusted client, not {domain} accepting "
        "any address: whether the domain is a catch-all, or served there at all, is unknown from here (a stranger "
        "may get 'Relay access denied', Sendmail's 'Relaying denied'). Probe from another host to see what senders "
        "see."), host)


def _accepted_from_own_host(result: AddressResult, own: str) -> AddressResult:
    host = result.host or "the server"
    return _unproven(
        result,
        meaning=(f"{host} accepted this address and a random one alike, asked from {own}, its own address: a "
                 "server relays any address for a client on its own host, so this acceptance proves nothing "
                 "about the mailbox, nor that the server takes the domain's mail from others."),
        remediation=("Probe again from another host: a sender on the Internet is not trusted as the server's "
                     "own host is, and gets the server's real answer for the domain and the mailbox."))


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
    result.vrfy = _vrfy(record, a.smtp_form)
    if exchange is not None and exchange.reply is not None and opensmtpd_invalid_recipient(d, exchange.reply.headline):
        result.meaning = ("OpenSMTPD refused the address with '550 Invalid recipient', its answer to a user it does "
                          "not know, but also to a domain it does not serve (no 'match ... for domain' rule takes "
                          "it, as for relaying) and to a 'match ... reject' rule, which may be about the sender or "
                          "the client rather than the address; mail to it from this sender bounces either way.")
        result.remediation = (f"Check the local part with the address's owner. If every address of {a.domain} gets "
                              f"this answer, {record.host} does not serve the domain: its smtpd.conf needs a "
                              f"'match from any for domain' rule naming {a.domain}, or the domain's MX records "
                              f"point at the wrong host. With --from, try the null sender <> (the default) too: a "
                              f"reject rule may name the sender ('mail-from').")
    return d, result


def _vrfy(record: SessionRecord, recipient: str) -> dict[str, Any] | None:
    e = record.vrfy.get(recipient)
    if e is None:
        return None
    d = diagnose(e, record.host)
    return {"code": d.code, "enhanced": d.enhanced, "reason": str(d.reason),
            "text": e.reply.text if e.reply else e.detail}


def _summary(report: Report) -> str:
    parts = [f"{report.domain} {str(report.status).replace('_', ' ')}{at_named_hosts(report)}"]
    for a in report.addresses:
        parts.append(f"{a.address} {a.verdict} ({a.reason})")
    return "; ".join(parts)
