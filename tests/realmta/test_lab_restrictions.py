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
from probe.render.text import render_text

from lab import Lab, LabProbe


def _flat_text(report: Report) -> str:
    return " ".join(render_text(report, health=finish_report(report)).split())


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
