"""A domain-only probe's RCPT TO:<postmaster@DOMAIN>: its answer recorded in the report, the domain status it
settles, the finding its refusal calls for, and the clause the summary adds. No I/O.
"""

from __future__ import annotations

from probe.judge import advice, greylist
from probe.judge.mxcompare import disagreements, mx_verdicts
from probe.judge.verdicts import ABOUT_THE_SENDER, VERIFYING
from probe.judge.walk import Walk, attempt, diagnose
from probe.model import (
    Context,
    Diagnosis,
    DomainStatus,
    Finding,
    Reason,
    Severity,
)
from probe.smtp.exchanges import SessionRecord

# a refusal of postmaster@DOMAIN that says the mailbox is missing, not the client or the domain
_NO_POSTMASTER = frozenset({Reason.USER_UNKNOWN, Reason.MAILBOX_DISABLED, Reason.HAS_MOVED})

# OpenSMTPD's "550 Invalid recipient" (catalogue rule): an unknown user, a domain no `match ... for domain` rule serves
# (a relay attempt) or a `match ... reject` rule; the words do not say which
OPENSMTPD_INVALID_RECIPIENT = "opensmtpd-invalid-recipient"


def postmaster_clause(walk: Walk, record: SessionRecord) -> str:
    """A domain-only probe asked RCPT TO:<postmaster@DOMAIN> (RFC 5321 §4.5.1: every server that delivers for
    a domain must accept it): record its answer in the report, adjust the status and add the finding its
    refusal calls for; returns the clause the summary adds ('' when it was not asked). A refusal of this
    client (every recipient refused for it) was already made `refuses_this_client` by probe.judge.conclude.

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
        report.postmaster["attempts"] = [attempt(first, diagnose(first.postmaster, first.host), 0.0),
                                         attempt(retried, d, walk.waited_s)]
    verdicts = mx_verdicts(walk, None)  # --all-mx: every host was asked, as for an address
    if verdicts:
        report.postmaster["mx_verdicts"] = verdicts
        for finding in disagreements(pm, verdicts):
            if finding not in report.findings:
                report.findings.append(finding)
    if report.status is DomainStatus.REFUSES_THIS_CLIENT or exchange.reply is None:
        return ""
    said = exchange.reply.headline
    # findings quote the codes only: the Postmaster line of the report and the step give the whole reply
    asked = (f"{record.host} answered {exchange.command or 'the postmaster RCPT'} with "
             + " ".join(str(c) for c in (d.code, d.enhanced) if c is not None))
    if accepted:
        if any(f.id == "probe-on-server-host" and f.subject == record.host for f in report.findings):
            return (f"{record.host} accepted {pm} ({said}), and a random address too, asked from its own address: "
                    "it may only be relaying for its own host")
        return f"{record.host} accepted {pm} ({said})"
    if d.reason is Reason.RELAY_DENIED:  # a 4xx too: Postfix's default relay check, defer_unauth_destination
        report.status, report.reason = DomainStatus.DOES_NOT_ACCEPT_MAIL, d.reason
        mx_override = walk.facts.mx_override if walk.facts is not None else report.mx_source == "override"
        fix = advice.relay_denied_advice(record.host, report.domain, mx_override=mx_override)
        fate = ("bounces there" if d.code is None or d.code >= 500 else
                "is deferred there, and bounced when senders give up retrying, days later (Postfix's default relay "
                "check, defer_unauth_destination, says 'Relay access denied' with a 4xx; so does soft_bounce = yes)")
        mail = "mail for the domain sent to it" if mx_override else "mail to the domain"  # --mx: maybe no MX
        walk.finding(Finding("postmaster-relay-denied", Severity.CRITICAL, (
            f"{asked} ({d.reason}): {record.host} does not take mail for {report.domain}, so {mail} "
            f"{fate}. {fix}"), record.host))
        return f"{record.host} does not take mail for {report.domain} ({said})"
    if d.code is not None and 400 <= d.code < 500:
        verifying = d.rule == VERIFYING
        # Postfix's reject_unverified_sender: the deferral is about the probe's MAIL FROM, not postmaster@
        sender = d.rule in ABOUT_THE_SENDER
        grey = not verifying and not sender and (d.reason is Reason.GREYLISTED or greylist.worth_retrying(d))
        again = (f", asked again {walk.waited_s:g} s later (--retry-greylist), and still deferred"
                 if retried is not None else "")
        walk.finding(Finding("postmaster-deferred", Severity.WARNING, (
            f"{asked} ({d.reason}){again}: "
            + ("the server is verifying the address with the server behind it, and answers for it once that "
               "check is done: an acceptance, or a refusal" if verifying else
               "the server is verifying the probe's MAIL FROM with its domain's mail server; nothing is known of "
               f"{pm} yet" if sender else
               "greylisting; a sender that retries later, as every MTA does, is let through, so mail is "
               "delayed, not refused" if grey else "mail to the domain is deferred for now; a sender retries")
            + f". {d.remediation if retried is None else _retry_hint(d)}"), record.host))
        return f"{pm} deferred ({said})"
    if d.rule == OPENSMTPD_INVALID_RECIPIENT:
        walk.finding(Finding("postmaster-unknown", Severity.WARNING, (
            f"{asked} ({d.reason}): OpenSMTPD says '550 Invalid recipient' both for a user it does not know and "
            f"for a domain it does not serve (no 'match ... for domain' rule takes it, as for relaying, or a "
            f"'match ... reject' rule), so either {report.domain} has no postmaster there, or {record.host} does "
            f"not take mail for {report.domain} at all. RFC 5321 §4.5.1 requires every domain that receives mail "
            f"to accept mail to postmaster@. In smtpd.conf, check that a 'match from any for domain' rule names "
            f"{report.domain}, and that its table (virtual or aliases) has a {pm} entry."), record.host))
        return f"{pm} refused ({said}): no postmaster, or {report.domain} not served there"
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
        if d.reason is Reason.UNKNOWN:  # the words do not say it is postmaster@ that is refused
            why = f"the reply does not say what it refuses: if it is {pm} itself, {why}; " + _or_the_sender(walk.facts)
    walk.finding(Finding("postmaster-refused", Severity.WARNING, (
        f"{asked} ({d.reason}): {why}. {d.remediation}"), record.host))
    return f"{pm} not accepted ({said})"


def _or_the_sender(facts: advice.RunFacts | None) -> str:
    """What else a refusal that names no cause may refuse: this client, or the probe's own MAIL FROM when it is not
    the null sender (Sendmail's access database refuses a sender at each RCPT under FEATURE(`delay_checks'), in
    the admin's words: cf/README's 'From:cyberspammer.com ERROR:"550 We don't accept mail from spammers"')."""
    if facts is None or facts.null_sender:
        return "it may instead be this client that the server refuses by policy"
    return (f"it may instead be this client, or the probe's MAIL FROM <{facts.mail_from}>, that the server refuses "
            "by policy: ask again without --from (the null sender <>) to tell")


def _retry_hint(d: Diagnosis) -> str:
    """After a --retry-greylist that was deferred again, the catalogue's "ask again (--retry-greylist)" is done."""
    if d.reason is Reason.GREYLISTED or greylist.worth_retrying(d):
        return "To see the answer, retry with a longer --retry-greylist (and --deadline)."
    return d.remediation
