"""Pure: from classified replies to verdicts and a domain status. No I/O.

The probe's honesty lives here (STYLE.md lesson 3): a probe that was blocked,
timed out or rate limited learned nothing about the mailbox, so its verdict is
`unknown` with the cause as reason, never `undeliverable`.
"""

from __future__ import annotations

from dataclasses import replace

from probe.diagnosis.catalogue import default as catalogue
from probe.model import AddressResult, Diagnosis, DomainStatus, Reason, ReplyClass, Verdict

# Reasons that speak about the address or the domain itself: a permanent reply with one
# of these is a real "no". (relay_denied from the domain's own MX means it does not take
# mail for that domain either.)
_ADDRESS_REFUSED = frozenset({
    Reason.USER_UNKNOWN, Reason.MAILBOX_DISABLED, Reason.HAS_MOVED, Reason.BAD_ADDRESS,
    Reason.DOMAIN_UNKNOWN, Reason.NOT_ACCEPTING_MAIL, Reason.RELAY_DENIED,
})

# Reasons that say the recipient exists but delivery is uncertain right now.
_RISKY = frozenset({Reason.MAILBOX_FULL, Reason.GREYLISTED, Reason.CANNOT_VERIFY})

# Catalogue rules of a deferral of the RCPT that speaks of the probe's MAIL FROM, not of the recipient: Postfix
# checks the sender at RCPT (smtpd_delay_reject), and "<sender>: Sender address rejected: unverified address:
# Address verification in progress" is its reject_unverified_sender still asking the sender's server.
ABOUT_THE_SENDER = frozenset({"postfix-sender-verification-in-progress"})

# The catalogue rule of Postfix's "Address verification in progress" (verify.c): a deferral while the server
# asks the server behind it about the address, for every sender; not greylisting of a new sender.
VERIFYING = "postfix-address-verification-in-progress"


# RFC 3463 X.2.4 "Mailing list expansion problem", permanent: see address_verdict
EXPANSION_FAILED = "5.2.4"


def address_verdict(diagnosis: Diagnosis, *, catch_all: bool | None = None) -> Verdict:
    """The verdict for an address from the reply (or event) that decided it.

    >>> from probe.model import Severity
    >>> d = Diagnosis("250 OK", 250, None, ReplyClass.POSITIVE, None, Reason.ACCEPTED,
    ...               Severity.OK, "", "", "")
    >>> address_verdict(d), address_verdict(d, catch_all=True)
    (<Verdict.DELIVERABLE: 'deliverable'>, <Verdict.RISKY: 'risky'>)
    """
    reason, klass = diagnosis.reason, diagnosis.reply_class
    if klass is ReplyClass.POSITIVE:
        if reason is Reason.CANNOT_VERIFY:
            return Verdict.RISKY
        return Verdict.RISKY if catch_all else Verdict.DELIVERABLE
    if diagnosis.rule in ABOUT_THE_SENDER:
        return Verdict.UNKNOWN  # nothing was said about the recipient
    if reason in _RISKY:
        return Verdict.RISKY
    if reason is Reason.RELAY_DENIED:
        # the domain's own MX does not take its mail: Postfix's default relay check (defer_unauth_destination)
        # says so with 454, and senders retry it until they bounce it days later; not a risk, a "no"
        return Verdict.UNDELIVERABLE
    if reason in _ADDRESS_REFUSED:
        # a temporary "unknown user" (Postfix 450 4.1.1 unverified) may still resolve itself
        return Verdict.UNDELIVERABLE if klass is ReplyClass.PERMANENT or klass is None else Verdict.RISKY
    if reason is Reason.UNKNOWN and klass is ReplyClass.PERMANENT:
        return Verdict.UNDELIVERABLE
    if klass is ReplyClass.PERMANENT and diagnosis.enhanced == EXPANSION_FAILED:
        # X.2.4 is a status of the mailbox (RFC 3463 §3.3): the address expands to nothing deliverable, and mail
        # to it bounces. OpenSMTPD answers it to every address its virtual table has no entry for (lka_session.c,
        # "no aliases for virtual": 524 5.2.4 Mailing list expansion problem), i.e. an unknown user
        return Verdict.UNDELIVERABLE
    return Verdict.UNKNOWN


# Reasons by which a server that answered refuses *this client* (its address, name or manners), not the
# domain's mail: postscreen, blocklists, reputation, rate limits (SPEC.md: refuses_this_client).
CLIENT_REFUSALS = frozenset({
    Reason.POLICY_REJECTED, Reason.BLOCKLISTED, Reason.BAD_REPUTATION, Reason.RATE_LIMITED,
    Reason.REVERSE_DNS, Reason.HELO_REJECTED,
})


def domain_status_from_refusal(diagnosis: Diagnosis) -> DomainStatus:
    """What a permanent refusal at the greeting or EHLO/HELO says about the domain (only used when no
    host accepted): "no mail here" (521/556 dummy servers, RFC 7504) or a refusal of this client.

    A host that answered is never `unreachable`: whatever else it refused (policy, blocklist, our
    EHLO name, a syntax quibble), it refused this session, not the domain's mail.
    """
    if diagnosis.reason is Reason.NOT_ACCEPTING_MAIL:
        return DomainStatus.DOES_NOT_ACCEPT_MAIL
    return DomainStatus.REFUSES_THIS_CLIENT


# What decided a reason from the reply code alone (probe.model.Decision.by), not from its words.
_BY_CODE = frozenset({"code", "class"})


def refuses_client(diagnosis: Diagnosis) -> bool:
    """A reply (any class) that refuses this client by policy: postscreen, a blocklist, a rate limit.

    A rate limit that only the code says (a bare "452 Requested action not taken": RFC 5321 §4.5.3.1.10's
    "too many recipients") speaks of the transaction, not of this client: a server must take at least 100
    recipients (§4.5.3.1.8), so it is no refusal of the client; worded ("too many connections from your IP"),
    it is. Nor is a limit the server puts on every client at once (a rule marked `server_wide`: Exim's
    smtp_accept_max)."""
    if diagnosis.code is None or diagnosis.reason not in CLIENT_REFUSALS:
        return False
    if catalogue().server_wide(diagnosis.rule):
        return False
    return not (diagnosis.reason is Reason.RATE_LIMITED and diagnosis.decided_by is not None
                and diagnosis.decided_by.by in _BY_CODE)


def worst_reason(diagnoses: list[Diagnosis]) -> Reason:
    """The most telling reason among several failures: permanent before transient, then order."""
    if not diagnoses:
        return Reason.UNKNOWN
    rank = {ReplyClass.PERMANENT: 0, ReplyClass.TRANSIENT: 1, None: 2,
            ReplyClass.INTERMEDIATE: 3, ReplyClass.POSITIVE: 4}
    return min(diagnoses, key=lambda d: rank[d.reply_class]).reason


def asked_elsewhere(result: AddressResult, asked: str, own: str) -> AddressResult:
    """An address of `own` answered by `asked`'s MX: a relay or backup-MX question, not deliverability.

    Only a permanent refusal keeps its verdict; anything else (an acceptance above all) proves
    nothing about the mailbox and is `unknown`, with a note saying why.
    """
    note = (f"asked {asked}'s MX, which is not {own}'s MX: acceptance means relaying/backup, "
            "not deliverability")
    permanent = result.code is not None and 500 <= result.code < 600
    verdict = result.verdict if permanent else Verdict.UNKNOWN
    return replace(result, verdict=verdict, note=note, meaning=f"{note[:1].upper()}{note[1:]}. {result.meaning}",
                   remediation=f"To test {own}'s deliverability, probe {own} itself. {result.remediation}")
