"""Pure: what the random-address RCPT proves, and where RCPT proves nothing at all. No I/O.

The random RCPT goes after the real ones in the same transaction (session.py), so a
server that counts or limits recipients (Outlook's 452 to the second RCPT) spoils only
the catch-all test, never the real answer. Its reply is read honestly: accepted → the
domain accepts any address; refused as an unknown user → it does not (a 4xx that says
"user unknown" too: Postfix's soft_bounce turns its 5xx into 4xx, the lookup still said no; a permanent 5.2.4,
OpenSMTPD's answer to an address missing from its virtual table, too); anything else
(452 too many recipients, 4xx greylisting, a policy refusal, a refused MAIL) → unknown.

Some services accept every RCPT and reject later (rcpt_unreliable.toml): there an
accepted address is `risky`, `catch_all` is unknown and a finding says why, unless the
random address was refused in the same session (then this server does check recipients).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from probe.judge.verdicts import EXPANSION_FAILED
from probe.model import (
    AddressResult,
    Diagnosis,
    Finding,
    Reason,
    ReplyClass,
    Severity,
    Verdict,
)

# A permanent refusal of the random address with one of these reasons means "no such mailbox here".
_REFUSED_AS_UNKNOWN = frozenset({Reason.USER_UNKNOWN, Reason.BAD_ADDRESS, Reason.MAILBOX_DISABLED,
                                 Reason.RELAY_DENIED, Reason.UNKNOWN})


@dataclass(frozen=True, slots=True)
class UnreliableRcpt:
    """A service whose RCPT answer proves nothing about the mailbox (rcpt_unreliable.toml)."""

    provider: str  # providers.toml id
    why: str
    source: str


@cache
def unreliable_services() -> dict[str, UnreliableRcpt]:
    """provider id -> why RCPT proves nothing there, from rcpt_unreliable.toml (read when first asked)."""
    import tomllib
    from importlib import resources

    text = resources.files(__package__ or "probe.judge").joinpath("rcpt_unreliable.toml").read_text("utf-8")
    entries = tomllib.loads(text).get("service", [])
    return {e["provider"]: UnreliableRcpt(e["provider"], e["why"], e["source"]) for e in entries}


def unreliable(provider_id: str | None) -> UnreliableRcpt | None:
    return unreliable_services().get(provider_id) if provider_id else None


def display_name(provider_id: str) -> str:
    """'microsoft' -> 'Microsoft 365': the provider's name from the catalogue (its id when unknown)."""
    from probe.diagnosis.catalogue import default

    return default().provider_name(provider_id) or provider_id


def accepted_by_catch_all(result: AddressResult, domain: str) -> AddressResult:
    """An accepted address on a domain that also accepted a random one: say what that acceptance is worth. Such a
    domain delivers every address somewhere (Sendmail's virtusertable '@domain user', cf/README), or accepts first
    and bounces the unknown ones later: Postfix with an empty local_recipient_maps accepts every address of its
    local domains and its local delivery agent bounces them (postconf(5) local_recipient_maps,
    LOCAL_RECIPIENT_README), and RCPT and VRFY cannot tell the two apart."""
    return replace(
        result,
        meaning=(f"The server accepted this address, but it also accepted a random address that cannot exist: "
                 f"{domain} accepts any address (catch-all), so this acceptance proves little about the mailbox."),
        remediation=("Confirm the address another way: ask its owner, or send a real message and watch for a "
                     "bounce; a catch-all domain may still drop or bounce mail for mailboxes that do not exist. "
                     "If the domain is yours and should not take every address: remove a catch-all entry that "
                     "delivers every local part to one mailbox (Sendmail: an '@domain' line in virtusertable; "
                     "Postfix: an '@domain' virtual alias), or, where the server accepts every address and bounces "
                     "the unknown ones later (Postfix: an empty local_recipient_maps), have it refuse unknown "
                     "recipients at RCPT: bouncing them later sends bounces to the forged senders of spam "
                     "(backscatter)."),
    )


def catch_all_answer(diagnosis: Diagnosis | None, answered_rcpt: bool) -> bool | None:
    """True / False / None (unknown) from the reply to the random address's RCPT.

    `answered_rcpt` is False when that reply was not to the RCPT itself (a refused MAIL,
    a dropped connection): nothing was learned about the random address then.
    """
    if diagnosis is None or not answered_rcpt:
        return None
    if diagnosis.reply_class is ReplyClass.POSITIVE:
        return True
    if diagnosis.reply_class is ReplyClass.PERMANENT and diagnosis.reason in _REFUSED_AS_UNKNOWN:
        return False
    if diagnosis.reply_class is ReplyClass.PERMANENT and diagnosis.enhanced == EXPANSION_FAILED:
        return False  # 5.2.4: nothing to deliver to (OpenSMTPD's answer to an address its virtual table lacks)
    if diagnosis.reply_class is ReplyClass.TRANSIENT and diagnosis.reason is Reason.USER_UNKNOWN:
        return False  # "450 4.1.1 ... User unknown" (Postfix soft_bounce, smtpd_chat.c): the lookup said no, with a 4xx
    return None  # 452 too many recipients, greylisting, rate limits, policy blocks: unknown


def rcpt_proves_nothing(result: AddressResult, service: UnreliableRcpt, provider_name: str | None,
                        catch_all: bool | None, host: str) -> tuple[AddressResult, Finding]:
    """Adjust an address result from a service where RCPT proves nothing; the finding says why."""
    name = provider_name or display_name(service.provider)
    if catch_all is False:
        return result, Finding(
            "rcpt-proves-nothing", Severity.INFO,
            f"{host} is {name}, where RCPT often proves nothing ({service.why}); here a random address "
            "was refused in the same session, so this server does check recipients.", host)
    finding = Finding(
        "rcpt-proves-nothing", Severity.WARNING,
        f"{host} is {name}: {service.why}. An accepted RCPT is reported as risky, not deliverable, "
        "and whether the domain accepts any address cannot be told.", host)
    if result.verdict is not Verdict.DELIVERABLE and not (result.verdict is Verdict.RISKY and result.catch_all):
        return replace(result, catch_all=None), finding
    return replace(
        result, verdict=Verdict.RISKY, catch_all=None,
        meaning=f"{result.meaning} But {name} accepts recipients at RCPT whether or not the mailbox "
                "exists, so this acceptance proves nothing.",
        remediation=f"RCPT cannot verify addresses at {name} ({service.why}). Confirm the address "
                    "another way: ask its owner, or watch for a bounce after a real message.",
    ), finding
