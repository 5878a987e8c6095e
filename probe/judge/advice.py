"""Pure: advice written from the facts of this run. No I/O.

The catalogue's remediation is written for a reply seen anywhere (a pasted bounce, `explain`), so it
hedges: "if the random control address was accepted too", "if you are probing the domain's MX",
"senders enforcing MTA-STS". A live probe has settled those conditions; this module words the advice
from what the run established: whether a random address was refused, whether the host was named
with --mx, whether the domain publishes MTA-STS or DANE, whether a greylisting retry happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from probe.judge.verdicts import ABOUT_THE_SENDER, VERIFYING
from probe.model import AddressResult, Reason, Verdict


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the run settled, as far as advice needs it."""

    domain: str
    catch_all_tested: bool = True  # False under --no-catch-all
    mx_override: bool = False  # the host was named with --mx (or an address literal), not found in DNS
    tls_policy: str | None = None  # tls_consequence(): what a TLS failure costs this domain; None: not known
    mail_from: str = ""  # the probe's MAIL FROM; "" is the null reverse-path <> (no --from)
    helo: str = ""  # the EHLO/HELO name the probe gave

    @property
    def null_sender(self) -> bool:
        return not self.mail_from


def tls_consequence(mta_sts: dict[str, Any] | None, dane: dict[str, Any] | None) -> str:
    """What a missing or failed STARTTLS / a bad certificate costs, given the domain's published policies."""
    enforce = bool(mta_sts) and mta_sts.get("status") in ("ok", None) and mta_sts.get("mode") == "enforce"  # type: ignore[union-attr]
    testing = bool(mta_sts) and mta_sts.get("status") in ("ok", None) and mta_sts.get("mode") == "testing"  # type: ignore[union-attr]
    signed_tlsa = bool(dane) and bool(dane.get("records")) and bool(dane.get("dnssec"))  # type: ignore[union-attr]
    if enforce or signed_tlsa:
        which = " and ".join(w for w, on in (("the domain's MTA-STS policy (enforce mode)", enforce),
                                             ("its DNSSEC-signed TLSA records (DANE)", signed_tlsa)) if on)
        return f"senders that honour {which} will not deliver to this host"
    if testing:
        return "the domain's MTA-STS policy is in testing mode, so senders still deliver and only report the failure"
    dane_known = dane is not None and not (dane.get("error") and not dane.get("records"))
    if mta_sts is not None and dane_known:
        return ("the domain publishes neither an enforced MTA-STS policy nor DANE, so senders still deliver to "
                "it (opportunistic TLS accepts clear text and unchecked certificates)")
    if mta_sts is not None:
        return ("the domain publishes no enforced MTA-STS policy, so senders still deliver to it unless it "
                "publishes DANE (not known: its TLSA lookup failed or was not made)")
    return ("senders still deliver unless the domain publishes MTA-STS in enforce mode or DANE "
            "(not checked in this run)")


def address_advice(result: AddressResult, facts: RunFacts) -> AddressResult:
    """The result with its remediation worded from this run's facts, where the catalogue's hedges."""
    if result.attempts:
        return replace(result, remediation=_after_retry(result))
    if result.command == "DNS" and result.reason is Reason.DNS_ERROR:  # the finding says the rest, once
        return replace(result, remediation="Nothing was asked about this address: the domain's MX lookup failed "
                                           "(the finding above says how and what to do); probe again once DNS "
                                           "answers.")
    if result.reason is Reason.ACCEPTED and result.command == "RCPT" and result.verdict is Verdict.DELIVERABLE:
        return replace(result, remediation=_accepted(result, facts))
    if result.reason is Reason.RELAY_DENIED and result.host and result.note is None:
        return replace(result, remediation=_relay_denied(result.host, facts))
    if result.reason is Reason.RELAY_DENIED and result.host and result.note is not None:
        return replace(result, remediation=_relay_refused_for_another_domain(result, facts))
    if result.reason is Reason.TLS_FAILURE and facts.tls_policy:
        return replace(result, remediation=f"{result.remediation.rstrip('.')}. Meanwhile {facts.tls_policy}.")
    if result.reason is Reason.HELO_REJECTED and facts.helo:
        return replace(result, remediation=helo_refused(result.host, facts.helo, result.text or "", result.code))
    if result.reason is Reason.SENDER_REJECTED and facts.null_sender and result.verdict is Verdict.UNKNOWN:
        return replace(result, remediation=_null_sender_refused(result.host))
    # a greylisting policy service (postgrey behind Postfix's check_policy_service) answers RCPT before the
    # server's own recipient check; VRFY passes the same restrictions, and once the greylist lets its triplet
    # through (postgrey sees VRFY with the null sender), the VRFY answer is the server's own word on the mailbox
    if result.reason is Reason.GREYLISTED and (refused := vrfy_refusal(result.vrfy)):
        return replace(result, remediation=(
            f"{result.remediation.rstrip('.')}. But {result.host or 'the server'} answered VRFY for this address "
            f"with {refused}: past the deferral, expect RCPT to be refused the same way."))
    if result.reason in _MAILBOX_REFUSED and result.code is not None and 400 <= result.code < 500:
        said = _DOMAIN_UNKNOWN_WITH_4XX if result.reason is Reason.DOMAIN_UNKNOWN else _REFUSED_WITH_4XX
        return replace(result, remediation=f"{result.remediation.rstrip('.')}. {said}")
    return result


# a refusal of the mailbox said with a 4xx: Postfix's soft_bounce = yes turns every 5xx of smtpd into 4xx
# (and X.Y.Z into 4.Y.Z: smtpd_chat.c, smtpd_chat_reply), unknown_local_recipient_reject_code = 450 does it
# for unknown local users, and unverified_recipient_reject_code = 450 (its default) for an address its verify
# probe found undeliverable
_REFUSED_WITH_4XX = (
    "It was said with a temporary code (4xx), as Postfix says such refusals under soft_bounce = yes or "
    "unknown_local_recipient_reject_code = 450 (settings for testing), or for an address it verified with the "
    "server behind it (unverified_recipient_reject_code = 450, the default): senders' servers keep the mail "
    "queued and retry until they give up, days later, then bounce it.")


# Postfix's reject_unknown_recipient_domain (smtpd_check.c, reject_unknown_mailhost): "<a>: Recipient address
# rejected: Domain not found" with unknown_address_reject_code (postconf(5): default 450) when the domain has no
# DNS records, with 450 (unknown_address_tempfail_action) when the lookup failed for now: no test setting
_DOMAIN_UNKNOWN_WITH_4XX = (
    "It was said with a temporary code (4xx), as Postfix's reject_unknown_recipient_domain says it for a domain "
    "its DNS lookup did not find (unknown_address_reject_code = 450, the default), and when that lookup failed "
    "for now: senders' servers keep the mail queued and retry until the domain resolves there or they "
    "give up, days later, then bounce it.")

# what a permanent VRFY refusal can say of the mailbox itself (RFC 5321 §3.5.3: 550 for no such user)
_MAILBOX_REFUSED = frozenset({Reason.USER_UNKNOWN, Reason.MAILBOX_DISABLED, Reason.HAS_MOVED, Reason.BAD_ADDRESS,
                              Reason.DOMAIN_UNKNOWN})


def vrfy_refusal(vrfy: dict[str, Any] | None) -> str:
    """'550 5.1.1 (user_unknown)' when a VRFY answer (AddressResult.vrfy's form) refused the mailbox itself with a
    5xx; '' otherwise."""
    vrfy = vrfy or {}
    code = vrfy.get("code")
    if not isinstance(code, int) or not 500 <= code < 600 or vrfy.get("reason") not in _MAILBOX_REFUSED:
        return ""
    said = " ".join(str(p) for p in (code, vrfy.get("enhanced")) if p is not None)
    return f"{said} ({vrfy.get('reason')})"


def submission_refusal(host: str, port: int) -> str:
    """A policy refusal from the submission port of a host that offers AUTH: the catalogue's advice reads the
    reply's words ("Recipient address rejected" is about the recipient, check the PTR and blocklists), but such a
    service refuses whoever did not log in, whatever the words (Postfix's submission service as master.cf ships
    it: smtpd_recipient_restrictions = permit_sasl_authenticated,reject, "554 5.7.1 <a>: Recipient address
    rejected: Access denied")."""
    return (f"Port {port} is the mail submission port (RFC 6409), where users who log in send their mail: "
            f"{host} offers AUTH there and refused this client, which did not log in (the probe never does), as "
            "Postfix's submission service does as shipped (master.cf: smtpd_recipient_restrictions = "
            "permit_sasl_authenticated,reject). That says nothing of the address: probe the domain's MX hosts on "
            "port 25 (without --port or a port in --mx) to see whether it takes mail.")


# the words of a HELO refusal -> the check that says them (the server's own, as its source writes them)
_HELO_CHECKS = (
    # Postfix smtpd_check.c: reject_unknown_helo_hostname (the name has no A, AAAA or MX record), reject_non_fqdn_
    # helo_hostname, reject_invalid_helo_hostname; "Helo command" is the reply class of each
    ("helo command rejected: host not found",
     "Postfix's reject_unknown_helo_hostname (in smtpd_helo_restrictions or another restriction list): the name "
     "has no A, AAAA or MX record in DNS"),
    ("helo command rejected: need fully-qualified hostname",
     "Postfix's reject_non_fqdn_helo_hostname: the name is not a fully qualified domain name"),
    ("helo command rejected: invalid name", "Postfix's reject_invalid_helo_hostname: the name is not valid syntax"),
    # Exim smtp_in.c: helo_verify_hosts (helo_verify_required) refuses a name whose address records do not hold the
    # client's IP address (nor is it the client's PTR name); 451 when a lookup failed for now, 550 otherwise
    ("argument does not match calling host",
     "Exim's helo_verify_hosts: the name does not resolve to this client's IP address, nor is it the name the "
     "IP address's PTR record gives"),
)


def helo_refused(host: str | None, name: str, said: str, code: int | None) -> str:
    """A refusal of the probe's EHLO/HELO name (at EHLO, or at RCPT when Postfix delays its HELO checks there,
    smtpd_delay_reject = yes): which check said it, where the words name one, and how to probe past it."""
    words = said.lower()
    check = next((what for key, what in _HELO_CHECKS if key in words),
                 "a HELO check of the server's (Postfix: smtpd_helo_restrictions; Exim: helo_verify_hosts or an "
                 "acl_smtp_helo statement); the reply's words say which")
    if code is not None and 400 <= code < 500 and "calling host" in words:
        check += " (said with a 451: a DNS lookup of the check failed for now)"
    return (f"{host or 'The server'} refused the EHLO name the probe gave, {name}, by {check}. That is about this "
            "client's greeting, not about mail to the domain: senders whose servers greet with a name that passes "
            "the check are not refused. Probe again with --helo NAME, a fully qualified name whose A (or AAAA) "
            "record is this machine's public address, ideally the name its PTR record gives; a sending MTA needs "
            "the same (Postfix: smtp_helo_name, Exim: helo_data).")


def _null_sender_refused(host: str | None) -> str:
    """A refusal of the probe's default MAIL FROM, the null reverse-path: the catalogue's advice ("or the null
    sender <> for probes") would name the very sender refused (Postfix check_sender_access "<> REJECT": "554 5.7.1
    <>: Sender address rejected: Access denied")."""
    return (f"{host or 'The server'} refused the null sender <>, the MAIL FROM this probe sends unless told "
            "otherwise, and the one of bounces and delivery reports (RFC 1123 §5.2.9: a server must accept it): "
            "nothing was learned about the mailbox. Probe again with --from set to an address of yours whose "
            "domain exists and accepts mail. Bounces from this client's address would be refused there the same "
            "way.")


def _accepted(result: AddressResult, facts: RunFacts) -> str:
    host = result.host or "the server"
    if result.catch_all is False:
        return (f"Nothing to fix: {host} accepted this address and refused a random one, so the acceptance is "
                "specific to this mailbox (a 250 promises delivery; it cannot show that someone reads it).")
    if not facts.catch_all_tested:
        return ("Nothing to fix at the SMTP level. The catch-all test was skipped (--no-catch-all), so this "
                f"acceptance alone does not show that the mailbox exists: {facts.domain} may accept any address.")
    return (f"Nothing to fix at the SMTP level. The random address got no clear answer, so whether "
            f"{facts.domain} accepts any address is unknown, and this acceptance proves less than it seems.")


def _relay_denied(host: str, facts: RunFacts) -> str:
    return relay_denied_advice(host, facts.domain, mx_override=facts.mx_override)


def relay_denied_advice(host: str, domain: str, *, mx_override: bool) -> str:
    """What to do when `host`, asked as `domain`'s mail server, refuses to relay for `domain` itself."""
    if mx_override:
        return (f"{host}, named with --mx, does not take mail for {domain}: it is not one of the "
                f"domain's mail servers, or not configured for it. Check the host name, or drop --mx to probe "
                "the domain's own MX hosts.")
    return (f"{domain}'s MX records point at {host}, which is not configured to take mail for the domain: "
            "its admin must fix the MX records or add the domain to the server (Postfix: relay_domains or "
            "mydestination; Exim: local_domains or relay_to_domains; Sendmail: local-host-names or relay-domains; "
            "Exchange: accepted domains; qmail and qpsmtpd: rcpthosts).")


def _relay_refused_for_another_domain(result: AddressResult, facts: RunFacts) -> str:
    """An address of another domain, refused by the probed domain's MX (`DOMAIN ADDRESS`: a relay or backup-MX
    check). Its own MX was not asked, so nothing is wrong with the MX records: the host just does not relay."""
    other = result.address.rsplit("@", 1)[-1]
    return (f"{result.host} does not take mail for {other} from this client: right for a host that is not a "
            f"backup MX of {other} (it is no open relay). If it should be one, add {other} to its relay domains "
            f"(Postfix relay_domains, Exim relay_to_domains, Sendmail relay-domains). To test the address itself, "
            f"probe {other}.")


def _after_retry(result: AddressResult) -> str:
    first, last = result.attempts[0], result.attempts[-1]
    verifying = first.get("rule") == VERIFYING
    said = " ".join(str(p) for p in (last.get("code"), last.get("enhanced")) if p is not None) or "no reply"
    if verifying:
        at_first = "Deferred at first while the server verified the address with the server behind it"
    elif first.get("rule") in ABOUT_THE_SENDER:
        at_first = "Deferred at first while the server verified the MAIL FROM address with its domain's mail server"
    else:
        at_first = "Greylisted at first"
    head = (f"{at_first} ({_reply_words(first)}); asked again {last.get('waited_s', 0):g} s later from "
            f"the same source address, {last.get('host')} answered {said} ({last.get('reason')}).")
    if result.verdict is Verdict.DELIVERABLE:
        if verifying:
            return (f"{head} Nothing to fix: the server behind it accepted the address, and the server keeps "
                    "that answer for a while (Postfix: address_verify_positive_expire_time).")
        return f"{head} Nothing to fix: greylisting only delays mail from a new sender."
    if result.reason is Reason.GREYLISTED:
        if verifying or last.get("rule") == VERIFYING or last.get("rule") in ABOUT_THE_SENDER:
            return (f"{head} The server had not finished verifying the address: retry with a longer "
                    "--retry-greylist (and --deadline).")
        return (f"{head} Still greylisted: a real MTA keeps retrying for hours and gets through; to see it, "
                "retry with a longer --retry-greylist (and --deadline).")
    return f"{head} {result.remediation}"


def _reply_words(attempt: dict[str, Any]) -> str:
    code = " ".join(str(p) for p in (attempt.get("code"), attempt.get("enhanced")) if p is not None)
    return f"{code} {attempt.get('reason')}".strip()
