"""When an acceptance at RCPT proves nothing about the mailbox, and what the report then says: the server
contradicted itself (VRFY refused what RCPT accepted, an access table's DISCARD), stopped checking recipients
after one (it accepts the rest unchecked), is a backup MX that accepts for primaries that answered nothing, or
trusts this client (the probe ran on the server's own host); and a refusal the same server's VRFY contradicts.
Each gives the address its verdict, meaning and advice (probe.judge.conclude decides when), and its finding."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from probe.judge import advice
from probe.judge.walk import Walk, diagnose
from probe.model import AddressResult, Finding, MxHost, Severity, Verdict
from probe.smtp.exchanges import SessionRecord


def contradicted_by_vrfy(record: SessionRecord) -> dict[str, str]:
    """recipient -> '550 5.1.1 (user_unknown)' for each recipient whose RCPT the host accepted while its VRFY, in
    the same session, refused the mailbox itself. VRFY checks an address alone (Postfix: smtpd.c vrfy_cmd runs
    the recipient restrictions outside any transaction); RCPT does not always: once an access(5) DISCARD action
    has matched a recipient, Postfix answers 250 and checks no later recipient of the transaction
    (smtpd_check.c generic_checks, `if (state->discard != 0) break`, and the implicit reject_unlisted_recipient
    is skipped too); Sendmail likewise accepts the discarded recipient and every later one without looking the user
    up (srvrsmtp.c: "If discarding, don't bother to verify user"; real sendmail 8.17 in tests/realmta)."""
    out: dict[str, str] = {}
    for key, exchange in record.rcpt.items():
        said = advice.vrfy_refusal(vrfy_answer(record, key))
        if said and exchange.reply is not None and 200 <= exchange.reply.code < 300:
            out[key] = said
    return out


def contradiction_finding(record: SessionRecord, contradicted: dict[str, str], *, random_accepted: bool) -> Finding:
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


def vrfy_confirms(vrfy: dict[str, Any] | None) -> bool:
    """VRFY answered 250 for the address itself: "A server MUST NOT return a 250 code in response to a VRFY or
    EXPN command unless it has actually verified the address" (RFC 5321 §3.5.3); 252 promises nothing."""
    return vrfy is not None and vrfy.get("code") == 250


def refused_but_verified(result: AddressResult) -> AddressResult:
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


def contradicted_acceptance(result: AddressResult, said: str) -> AddressResult:
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


def accepted_beside_contradictions(result: AddressResult) -> AddressResult:
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


def stopped_checking_after(record: SessionRecord) -> str | None:
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


def recheck_finding(record: SessionRecord, trigger: str) -> Finding:
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


def stopped_checking(result: AddressResult, record: SessionRecord) -> AddressResult:
    host = result.host or "the server"
    return _unproven(
        result,
        meaning=(f"{host} accepted this address, and in the same transaction then accepted addresses it refuses "
                 "when each is asked alone: accepting this one made it stop checking recipients, as Postfix and "
                 "Sendmail do after an access table's DISCARD action, which accepts the message and drops it."),
        remediation=("Ask the domain's administrator whether mail to this address is discarded (a DISCARD "
                     "entry in an access table, or a similar rule); a 250 here does not show that mail to it is "
                     "kept."))


def unanswered_primaries(walk: Walk, record: SessionRecord) -> list[MxHost]:
    """The domain's MX hosts more preferred than `record`'s that the walk tried and that decided nothing (refused
    the connection, timed out): `record` answered as a backup MX. Only for MX records from DNS."""
    report = walk.report
    if report.mx_source != "mx":
        return []
    own = next((m.preference for m in report.mx if m.host == record.host), None)
    tried = {r.host for r in walk.records if r is not record and r.host != record.host}
    return [m for m in report.mx if own is not None and m.preference < own and m.host in tried]


def backup_finding(host: str, primaries: list[MxHost], domain: str) -> Finding:
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


def accepted_by_backup(result: AddressResult, primaries: list[MxHost]) -> AddressResult:
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


def own_host_finding(host: str, own: str, domain: str) -> Finding:
    return Finding("probe-on-server-host", Severity.WARNING, (
        f"The probe connected to {host} from {own}, the server's own address: it ran on the mail server itself. "
        f"Mail servers trust their own host ({_TRUSTED_LOCAL}) and relay for it any address of any domain, "
        f"so {host} accepting a random address may be relaying for this trusted client, not {domain} accepting "
        "any address: whether the domain is a catch-all, or served there at all, is unknown from here (a stranger "
        "may get 'Relay access denied', Sendmail's 'Relaying denied'). Probe from another host to see what senders "
        "see."), host)


def accepted_from_own_host(result: AddressResult, own: str) -> AddressResult:
    host = result.host or "the server"
    return _unproven(
        result,
        meaning=(f"{host} accepted this address and a random one alike, asked from {own}, its own address: a "
                 "server relays any address for a client on its own host, so this acceptance proves nothing "
                 "about the mailbox, nor that the server takes the domain's mail from others."),
        remediation=("Probe again from another host: a sender on the Internet is not trusted as the server's "
                     "own host is, and gets the server's real answer for the domain and the mailbox."))


def vrfy_answer(record: SessionRecord, recipient: str) -> dict[str, Any] | None:
    """The session's VRFY answer for a recipient, as an address result carries it (code, enhanced, reason, text)."""
    e = record.vrfy.get(recipient)
    if e is None:
        return None
    d = diagnose(e, record.host)
    return {"code": d.code, "enhanced": d.enhanced, "reason": str(d.reason),
            "text": e.reply.text if e.reply else e.detail}
