"""What the probe says of real Postfix and Exim restrictions, checked against what the servers did and why.

The lab's daemons resolve through the lab's FakeDNS (lab.py: `_own_resolver`), so Postfix's HELO, sender and
DNSBL checks look names up in the lab zone: probe.lab.test (the probe's HELO) has no address there,
mx.postfix.lab.test has one, nowhere.lab.test does not exist, and bl.lab.test lists 127.0.0.1 (the probe's
source address on loopback).

Postfix says its HELO, client and sender restrictions only at RCPT (smtpd_delay_reject = yes, the default);
postscreen's DNSBL "enforce" action also refuses each RCPT. Either way the host answered and refused this
client, which is what the report must say (SPEC.md: refuses_this_client), as it does when the same refusal
comes to EHLO (smtpd_delay_reject = no).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket

from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Reason, Report, Verdict
from probe.render.nagios import render_nagios
from probe.render.text import render_text

from lab import Lab, LabProbe


def _flat_text(report: Report) -> str:
    return " ".join(render_text(report, health=finish_report(report)).split())


async def test_helo_refused_at_rcpt_is_a_refusal_of_this_client(lab_probe: LabProbe) -> None:
    """reject_unknown_helo_hostname with smtpd_delay_reject = yes: EHLO and MAIL get 250, every RCPT (the
    random one too) "450 4.7.1 <probe.lab.test>: Helo command rejected: Host not found" (smtpd_check.c).
    Nothing was accepted from this client: not "accepts mail"."""
    report = await lab_probe("alice@strict.lab.test", "nobody@strict.lab.test")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.HELO_REJECTED, ExitCode.WARNING)
    for result in report.addresses:
        assert (result.verdict, result.reason, result.code, result.command) == (
            Verdict.UNKNOWN, Reason.HELO_REJECTED, 450, "RCPT")
        assert result.text == "450 4.7.1 <probe.lab.test>: Helo command rejected: Host not found"
    assert "answered and refused this client (450 4.7.1 <probe.lab.test>: Helo command rejected" in report.summary
    text = _flat_text(report)
    assert "REFUSES THIS CLIENT" in text and "ACCEPTS MAIL" not in text


async def test_helo_refused_at_ehlo_without_delay_reject(lab_probe: LabProbe) -> None:
    """The same restriction with smtpd_delay_reject = no answers EHLO itself: the same status and reason. The
    advice says what was refused (the probe's EHLO name), by which setting (the words are reject_unknown_helo_
    hostname's, smtpd_check.c) and how to probe past it (--helo): a domain-only report showed no advice at all
    without -v (the address's said only 'Configure your MTA (or the probe's --helo)'); it now says it in the
    default report, the Nagios details and on the JSON step."""
    report = await lab_probe("alice@early.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.HELO_REJECTED)
    (alice,) = report.addresses
    assert (alice.verdict, alice.code, alice.text) == (
        Verdict.UNKNOWN, 450, "450 4.7.1 <probe.lab.test>: Helo command rejected: Host not found")
    advice = ("refused the EHLO name the probe gave, probe.lab.test, by Postfix's reject_unknown_helo_hostname (in "
              "smtpd_helo_restrictions or another restriction list): the name has no A, AAAA or MX record in DNS.")
    assert advice in alice.remediation and "Probe again with --helo NAME" in alice.remediation
    report = await lab_probe(domain="early.lab.test")
    health = finish_report(report)
    text = " ".join(render_text(report, health=health).split())
    assert f"What to do mx.postfix-early.lab.test {advice}" in text and "Probe again with --helo NAME" in text
    assert f"  fix: mx.postfix-early.lab.test {advice}" in render_nagios(report, health)
    assert [s.remediation for s in report.sessions[0].steps if s.command == "EHLO probe.lab.test"] == [
        text.split("What to do ", 1)[1].split(" WARNING:", 1)[0]]
    # with smtpd_delay_reject = yes the same words come to RCPT postmaster@ (a domain-only probe): the same advice
    report = await lab_probe(domain="strict.lab.test")
    assert f"What to do mx.postfix-strict.lab.test {advice}" in _flat_text(report)


async def test_a_helo_that_is_no_fqdn(lab_probe: LabProbe) -> None:
    """reject_non_fqdn_helo_hostname: "504 5.5.2 <probe>: Helo command rejected: need fully-qualified hostname"."""
    report = await lab_probe("alice@early.lab.test", helo="probe")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.HELO_REJECTED)
    assert report.addresses[0].verdict is Verdict.UNKNOWN
    assert report.addresses[0].text == "504 5.5.2 <probe>: Helo command rejected: need fully-qualified hostname"
    assert "the EHLO name the probe gave, probe, by Postfix's reject_non_fqdn_helo_hostname" in \
        report.addresses[0].remediation


async def test_a_resolvable_helo_passes_and_an_unknown_sender_domain_is_the_senders_fault(
        lab_probe: LabProbe) -> None:
    """reject_unknown_sender_domain: "450 4.1.8 <...>: Sender address rejected: Domain not found" to each RCPT.
    The probe's own MAIL FROM is refused, so nothing is learned about the mailboxes (unknown, not risky or
    undeliverable); VRFY, which that restriction does not apply to, still answers for them. Every RCPT refused
    for the probe's own sender: the host refused this client's envelope (refuses_this_client)."""
    report = await lab_probe("alice@strict.lab.test", "nobody@strict.lab.test", helo="mx.postfix.lab.test",
                             mail_from="someone@nowhere.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.SENDER_REJECTED)
    alice, nobody = report.addresses
    for result in (alice, nobody):
        assert (result.verdict, result.reason, result.code, result.enhanced) == (
            Verdict.UNKNOWN, Reason.SENDER_REJECTED, 450, "4.1.8")
        assert result.text == "450 4.1.8 <someone@nowhere.lab.test>: Sender address rejected: Domain not found"
    assert alice.vrfy is not None and alice.vrfy["code"] == 252
    assert nobody.vrfy is not None and nobody.vrfy["reason"] == Reason.USER_UNKNOWN


async def test_postscreen_dnsbl_enforce_refuses_this_client(lab_probe: LabProbe) -> None:
    """postscreen with postscreen_dnsbl_action = enforce lets the client talk, then answers every RCPT
    "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using bl.lab.test" (postscreen_early.c): the
    host refuses this client because of a named blocklist; the mailboxes were never asked."""
    report = await lab_probe("alice@listed.lab.test")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.BLOCKLISTED, ExitCode.WARNING)
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.code, alice.enhanced) == (
        Verdict.UNKNOWN, Reason.BLOCKLISTED, 550, "5.7.1")
    assert alice.text == "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using bl.lab.test"
    assert "bl.lab.test" in report.summary and "refused this client" in report.summary
    text = _flat_text(report)
    assert "REFUSES THIS CLIENT" in text and "ACCEPTS MAIL" not in text


async def _until_verified(lab_probe: LabProbe, address: str) -> Report:
    """Probe `address` until Postfix's verify service has its answer (its probe to Exim is done): bounded
    by the deadline, never by a guess of how long that takes."""
    for _ in range(100):
        report = await lab_probe(address, catch_all=False)
        if "Address verification in progress" not in (report.addresses[0].text or ""):
            return report
        await asyncio.sleep(0.1)
    raise AssertionError(f"Postfix's verify service never answered for {address}")


async def test_address_verification_in_progress_then_the_next_hops_answer(lab_probe: LabProbe) -> None:
    """reject_unverified_recipient: the first RCPT starts Postfix's verify probe to the next hop (the lab's
    Exim) and gets "450 4.1.1 ... unverified address: Address verification in progress" (verify.c); once the
    probe is done, Exim's "550 Unrouteable address" comes back as Postfix's 550 (unverified_recipient_reject_
    code = 550). The first answer is Postfix's own check in progress (no Proofpoint, no verdict on the
    mailbox yet); the second is the mailbox's."""
    local = f"nobody-{secrets.token_hex(4)}"  # Postfix caches verify results: a new address each run
    first = (await lab_probe(f"{local}@verify.lab.test")).addresses[0]
    assert (first.code, first.enhanced) == (450, "4.1.1")
    assert first.text == (f"450 4.1.1 <{local}@verify.lab.test>: Recipient address rejected: unverified address: "
                          "Address verification in progress")
    assert first.verdict is not Verdict.UNDELIVERABLE and first.verdict is not Verdict.DELIVERABLE
    assert "Proofpoint" not in first.meaning
    assert "verifies this address" in first.meaning and "not finished" in first.meaning
    assert "ask again in a few seconds" in first.remediation

    final = (await _until_verified(lab_probe, f"{local}@verify.lab.test")).addresses[0]
    assert (final.verdict, final.reason, final.code) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, 550)
    assert re.fullmatch(rf"550 5\.1\.1 <{local}@verify\.lab\.test>: Recipient address rejected: undeliverable "
                        r"address: host \S+ said: 550 Unrouteable address \(in reply to RCPT TO command\)",
                        final.text or ""), final.text
    alice = (await _until_verified(lab_probe, "alice@verify.lab.test")).addresses[0]
    assert (alice.verdict, alice.code) == (Verdict.DELIVERABLE, 250)


async def test_exim_callout_passes_on_the_next_hops_refusal(lab_probe: LabProbe) -> None:
    """Exim with `verify = recipient/callout` asks the next hop (the lab's Postfix) and passes its refusal on
    as "550-Callout verification failed:" and the next hop's reply (Exim's verify.c)."""
    report = await lab_probe("alice@callout.lab.test", "nobody@callout.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    alice, nobody = report.addresses
    assert (alice.verdict, alice.code) == (Verdict.DELIVERABLE, 250)
    assert (nobody.verdict, nobody.reason, nobody.code) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, 550)
    assert (nobody.text or "").startswith("550-Callout verification failed:\n550-550 5.1.1 <nobody@callout.lab.test>")
    assert "callout" in nobody.meaning


async def test_exim_acl_defer_is_not_greylisting(lab: Lab, lab_probe: LabProbe) -> None:
    """A bare `defer` in Exim's RCPT ACL answers "451 Temporary local problem - please try later" (smtp_in.c):
    nothing says greylisting, so the probe does not claim it; it learned nothing about the mailbox. Exim logs it as
    a temporary rejection of the RCPT, which the advice points the admin to."""
    report = await lab_probe("alice@deferred.lab.test")
    (alice,) = report.addresses
    assert (alice.verdict, alice.code, alice.text) == (
        Verdict.UNKNOWN, 451, "451 Temporary local problem - please try later")
    assert alice.reason is not Reason.GREYLISTED
    # Exim says the same words for a local fault (smtp_in.c): the probe said "an internal or configuration problem
    # of its own"; it now says either may be the cause, and where the admin finds which (Exim's logs)
    assert "an ACL statement of the administrator's said 'defer'" in alice.meaning
    assert "a check of its ACLs could not be completed" in alice.meaning
    assert "'temporarily rejected' line" in alice.remediation
    assert "temporarily rejected RCPT <alice@deferred.lab.test>" in lab.exim_log("exim-verify")  # as it says
    # the host talks (accepts_mail), but took no recipient: the random address got the same 451, and the summary
    # (the report's last line, Nagios, JSON) says so instead of a bare "accepts mail"
    assert report.status is DomainStatus.ACCEPTS_MAIL
    assert report.summary.startswith("deferred.lab.test accepts mail, but mx.exim-verify.lab.test deferred every "
                                     "recipient it was asked (451 Temporary local problem - please try later, to RCPT)")


async def test_too_many_recipients_are_asked_again(lab_probe: LabProbe) -> None:
    """smtpd_recipient_limit = 2: the third RCPT gets "452 4.5.3 Error: too many recipients"; that says
    nothing about the mailbox, and the probe asks it again in a new transaction."""
    report = await lab_probe("alice@limit.lab.test", "bob@limit.lab.test", "nobody@limit.lab.test",
                             "full@limit.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    verdicts = {a.address.split("@")[0]: (a.verdict, a.code) for a in report.addresses}
    assert verdicts == {"alice": (Verdict.DELIVERABLE, 250), "bob": (Verdict.DELIVERABLE, 250),
                        "nobody": (Verdict.UNDELIVERABLE, 550), "full": (Verdict.DELIVERABLE, 250)}
    assert report.addresses[0].catch_all is False
    steps = [s for s in report.sessions[0].steps if s.code == 452]
    assert steps and all(s.text == "452 4.5.3 Error: too many recipients" for s in steps)


async def test_connection_rate_limit_refuses_this_client(lab: Lab, lab_probe: LabProbe) -> None:
    """smtpd_client_connection_rate_limit = 1 (anvil, per 60 s anvil_rate_time_unit): a first connection uses
    this client's allowance (the lab's start-up check may have used it already), the probe's is answered
    "421 4.7.0 <host> Error: too many connections from 127.0.0.1" (smtpd.c). Should anvil's minute end
    between the two, the next pair falls in one minute: ask once more."""
    for _ in range(2):
        with socket.create_connection((lab.ip("postfix-rate"), lab.port), timeout=5) as first:
            first.recv(512)
        report = await lab_probe("alice@rate.lab.test")
        if report.addresses[0].code == 421:
            break
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.RATE_LIMITED, ExitCode.WARNING)
    (alice,) = report.addresses
    assert (alice.verdict, alice.code) == (Verdict.UNKNOWN, 421)
    assert alice.text == "421 4.7.0 mx.postfix.lab.test Error: too many connections from 127.0.0.1"


async def test_retry_after_address_verification_is_not_called_greylisting(lab_probe: LabProbe) -> None:
    """--retry-greylist asks again after Postfix's "Address verification in progress": the advice says the
    server was verifying the address with the server behind it (for any sender), not that a new sender was
    greylisted. (bob@verify.lab.test is asked by this test only: Postfix caches the verify result.)"""
    local = f"nobody-{secrets.token_hex(4)}"
    report = await lab_probe("bob@verify.lab.test", f"{local}@verify.lab.test", retry_greylist_s=1.0)
    for result in report.addresses:
        assert [a["code"] for a in result.attempts][:1] == [450]
        assert result.remediation.startswith(
            "Deferred at first while the server verified the address with the server behind it (450 4.1.1")
        assert "greylisting only delays" not in result.remediation and "Still greylisted" not in result.remediation
    bob, nobody = report.addresses
    if bob.code == 250:  # the verify probe was done within the second: the mailbox's own answer
        assert bob.verdict is Verdict.DELIVERABLE and "keeps that answer for a while" in bob.remediation
    if nobody.code == 550:
        assert nobody.verdict is Verdict.UNDELIVERABLE and nobody.reason is Reason.USER_UNKNOWN
    for result in (bob, nobody):
        if result.code == 450:  # not yet: said so, not "still greylisted"
            assert "had not finished verifying the address" in result.remediation


async def test_no_reverse_dns_for_the_probes_address_refuses_this_client(lab: Lab, lab_probe: LabProbe) -> None:
    """reject_unknown_client_hostname (smtpd_peername_lookup = yes) for a client address without a PTR in the
    lab's DNS (127.0.0.1 is "localhost" in /etc/hosts, so the probe connects from another lab address):
    "450 4.7.25 Client host rejected: cannot find your hostname, [IP]" to each RCPT (smtpd_check.c). That is
    the reverse DNS of the probe's own address, this client's: not the recipients', not the domain's. Here the
    lab's DNS answers REFUSED for the reverse zone, a lookup failure that Postfix always answers with 450
    (smtpd_check.c), so the meaning does not claim that the PTR is missing for sure."""
    source = f"{lab.block}.99"
    report = await lab_probe("alice@ptr.lab.test", "nobody@ptr.lab.test", source_ip=source)
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.REVERSE_DNS, ExitCode.WARNING)
    for result in report.addresses:
        assert (result.verdict, result.reason, result.code, result.enhanced) == (
            Verdict.UNKNOWN, Reason.REVERSE_DNS, 450, "4.7.25")
        assert result.text == f"450 4.7.25 Client host rejected: cannot find your hostname, [{source}]"
        assert "sending IP" in result.meaning
        assert "a 4xx may also mean that the receiver's own lookup of it failed for the moment" in result.meaning
        assert "a 4xx is the receiver's lookup failing for now: a retry gets through" in result.remediation
    assert f"answered and refused this client (450 4.7.25 Client host rejected: cannot find your hostname, " \
           f"[{source}], to RCPT)" in report.summary
    text = _flat_text(report)
    assert "REFUSES THIS CLIENT" in text and "UNDELIVERABLE" not in text


async def test_exim_smtp_accept_max_is_a_limit_on_everyone(lab: Lab, lab_probe: LabProbe) -> None:
    """Exim with smtp_accept_max = 1 and one connection open: "421 Too many concurrent SMTP connections; please
    try again later." (daemon.c), to any client. The probe said "The server limits how many connections ... it
    takes from you ... Send more slowly: fewer recipients per message, fewer parallel connections": it had one
    connection, and the limit is the server's total (Exim adds "from this IP address" for the per-client one).
    The holding connection waits for its own 220 (the start-up check's connection may still count for a moment:
    then it is answered 421 and tries again), so the probe's is the second."""
    for _ in range(100):
        holder = socket.create_connection((lab.ip("exim-max"), lab.port), timeout=5)
        if holder.recv(512).startswith(b"220"):
            break
        holder.close()
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("Exim never gave the holding connection its slot")
    with holder:
        report = await lab_probe("alice@eximmax.lab.test")
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.code) == (Verdict.UNKNOWN, Reason.RATE_LIMITED, 421)
    assert alice.text == "421 Too many concurrent SMTP connections; please try again later."
    assert "not on this client's" in alice.meaning and "from you" not in alice.meaning
    assert "fewer recipients" not in alice.remediation and "not of you" in alice.remediation
