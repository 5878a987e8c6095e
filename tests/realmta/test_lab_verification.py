"""Postfix address verification whose probe cannot reach the next hop, and sender address verification.

The lab's "vsender" host (lab.py) runs reject_unverified_sender and reject_unverified_recipient with the
defaults of a real site (unverified_*_reject_code = 450), and relays unreach.lab.test to an address of the
lab's block where nothing listens: its verify probes meet "Connection refused" at once (no waiting). The
replies are Postfix's own (smtpd_check.c: "<%s>: %s rejected: unverified address: %.250s" for any 4xx
answer of its verify service; verify.c: "Address verification in progress" until its probe is done).
"""

from __future__ import annotations

import asyncio
import secrets

from probe.model import DomainStatus, Reason, Report, Verdict

from lab import LabProbe

_IN_PROGRESS = "Address verification in progress"


async def _until_verified(lab_probe: LabProbe, *targets: str, **options: object) -> Report:
    """Probe until Postfix's verify service has its answer: bounded by attempts (each a real probe), never
    by a guess of how long the verify probe takes."""
    for _ in range(100):
        report = await lab_probe(*targets, catch_all=False, **options)
        if _IN_PROGRESS not in (report.addresses[0].text or ""):
            return report
        await asyncio.sleep(0.1)
    raise AssertionError(f"Postfix's verify service never answered for {targets}")


async def test_next_hop_unreachable_is_the_receiving_sites_fault(lab_probe: LabProbe) -> None:
    """reject_unverified_recipient when the server behind the MX cannot be reached: Postfix answers "450 4.1.1
    <a>: Recipient address rejected: unverified address: connect to <next hop>: Connection refused". The probe
    reached the MX; the connection that failed is the MX's own to the next hop, so the reply is not the
    probe's network problem (it said: "Postfix (the sending side) could not open a TCP connection ... many
    clouds and ISPs block outbound port 25 ... fix your network"), and says nothing of the mailbox."""
    address = f"someone-{secrets.token_hex(4)}@unreach.lab.test"  # Postfix caches verify results
    report = await _until_verified(lab_probe, address)
    (result,) = report.addresses
    assert (result.verdict, result.reason, result.code, result.enhanced) == (
        Verdict.UNKNOWN, Reason.NETWORK_ERROR, 450, "4.1.1")
    assert f"<{address}>: Recipient address rejected: unverified address: connect to " in (result.text or "")
    assert (result.text or "").endswith(": Connection refused")
    assert "inside the receiving site" in result.meaning and "this client reached the MX" in result.meaning
    assert "sending side" not in result.meaning
    assert "port 25" not in result.remediation and "smarthost" not in result.remediation
    assert "receiving site's admin" in result.remediation


async def test_sender_verification_in_progress_says_nothing_of_the_recipient(lab_probe: LabProbe) -> None:
    """reject_unverified_sender with the probe's --from: Postfix checks the sender at RCPT (smtpd_delay_reject)
    and answers "450 4.1.7 <sender>: Sender address rejected: unverified address: Address verification in
    progress". That is about the MAIL FROM address: the recipient (a mailbox that exists) was called RISKY
    (greylisted), as if its own delivery were in doubt."""
    sender = f"s-{secrets.token_hex(4)}@unreach.lab.test"
    first = await lab_probe("alice@vsender.lab.test", mail_from=sender, catch_all=False)
    (alice,) = first.addresses
    assert alice.text == (f"450 4.1.7 <{sender}>: Sender address rejected: unverified address: "
                          "Address verification in progress")
    assert (alice.verdict, alice.code) == (Verdict.UNKNOWN, 450)
    assert "about the sender, not the recipient" in alice.meaning


async def test_unverified_sender_is_not_said_to_be_refused(lab_probe: LabProbe) -> None:
    """Once Postfix's probe of the sender is done, "450 4.1.7 <sender>: Sender address rejected: unverified
    address: connect to ...: Connection refused": the sender's server could not be reached, it did not refuse
    the sender (the probe said "probed your MAIL FROM address and its own server refused it")."""
    sender = f"s-{secrets.token_hex(4)}@unreach.lab.test"
    report = await _until_verified(lab_probe, "alice@vsender.lab.test", mail_from=sender)
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.code, alice.enhanced) == (
        Verdict.UNKNOWN, Reason.SENDER_REJECTED, 450, "4.1.7")
    assert (alice.text or "").startswith(f"450 4.1.7 <{sender}>: Sender address rejected: unverified address: "
                                         "connect to ")
    assert "refused it" not in alice.meaning and "could not confirm your MAIL FROM address" in alice.meaning
    assert "Nothing was learned about the recipient" in alice.remediation


async def test_retried_sender_verification_says_what_was_verified(lab_probe: LabProbe) -> None:
    """--retry-greylist after the sender's verification in progress: the advice says the MAIL FROM address was
    being verified (it said "verified the address with the server behind it", the recipient's)."""
    sender = f"s-{secrets.token_hex(4)}@unreach.lab.test"
    report = await lab_probe("alice@vsender.lab.test", mail_from=sender, catch_all=False, retry_greylist_s=1.0)
    (alice,) = report.addresses
    assert [a["code"] for a in alice.attempts] == [450, 450]
    assert alice.remediation.startswith("Deferred at first while the server verified the MAIL FROM address")
    assert alice.verdict is Verdict.UNKNOWN
    if alice.reason is Reason.SENDER_REJECTED:  # the verify probe was done:
        # the host refused this client's sender at every RCPT; after the retry it was said to accept mail
        # (without a retry the status was refuses_this_client already)
        assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.SENDER_REJECTED)

