"""Greylisting by the real postgrey (policy service of a real Postfix), with a short --delay."""

from __future__ import annotations

import asyncio
import secrets

from probe.model import Reason, Verdict

from lab import LabProbe
from lab_postfix import GREYLIST_DELAY_S


def _new_sender() -> str:
    """postgrey greylists a (client network, sender, recipient) triplet: a fresh sender is a first contact."""
    return f"greytest-{secrets.token_hex(4)}@probe.lab.test"


async def test_first_contact_is_greylisted(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@grey.lab.test", mail_from=_new_sender())
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.code, alice.enhanced) == (Verdict.RISKY, Reason.GREYLISTED, 450, "4.2.0")
    assert "Greylisted, see http://postgrey.schweikert.ch/help/grey.lab.test.html" in (alice.text or "")
    assert alice.retry_after_s is None  # postgrey's text states no delay: none is guessed


async def test_retry_greylist_gets_the_real_answer(lab_probe: LabProbe) -> None:
    """--retry-greylist waits (postgrey states no delay, so the whole allowance) and asks again from the same
    source address; past postgrey's --delay the triplet passes and Postfix answers for the mailbox."""
    allowance = GREYLIST_DELAY_S + 1.5
    report = await lab_probe("alice@grey.lab.test", "nobody@grey.lab.test", mail_from=_new_sender(),
                             retry_greylist_s=allowance)
    alice, nobody = report.addresses
    assert (alice.verdict, alice.reason, alice.code) == (Verdict.DELIVERABLE, Reason.ACCEPTED, 250)
    assert (nobody.verdict, nobody.reason) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN)
    assert [a["code"] for a in alice.attempts] == [450, 250]
    assert alice.attempts[1]["waited_s"] >= GREYLIST_DELAY_S
    assert alice.catch_all is False
    assert "greylist-retried" in {f.id for f in report.findings}


async def test_greylisting_does_not_promise_a_mailbox_that_vrfy_denies(lab_probe: LabProbe) -> None:
    """postgrey answers RCPT (Postfix's check_policy_service) before Postfix's own recipient check, so an
    unknown mailbox is greylisted like a real one; VRFY goes through the same restrictions, so postgrey
    greylists it too at first (its triplet has the null sender), and past the delay VRFY gets Postfix's
    "550 5.1.1 ... User unknown". The report then does not say a retry "is accepted" or "gets through" to
    that mailbox: it says what VRFY said, and that RCPT will refuse it past the greylist (the retry test
    shows it does). The probe is repeated, each time from a new sender (RCPT greylisted again), until
    postgrey lets the VRFY triplet through: a wait for postgrey's state, bounded, not a guess."""
    unknown = f"nobody-{secrets.token_hex(4)}@grey.lab.test"
    for _ in range(60):
        report = await lab_probe("alice@grey.lab.test", unknown, mail_from=_new_sender())
        if (report.addresses[1].vrfy or {}).get("code") == 550:
            break
        await asyncio.sleep(0.2)
    alice, nobody = report.addresses
    for result in (alice, nobody):
        assert (result.verdict, result.reason, result.code) == (Verdict.RISKY, Reason.GREYLISTED, 450)
        assert "is accepted" not in result.meaning and "gets through" not in result.remediation
    assert nobody.vrfy is not None and (nobody.vrfy["code"], nobody.vrfy["enhanced"]) == (550, "5.1.1")
    assert ("answered VRFY for this address with 550 5.1.1 (user_unknown): past the deferral, expect RCPT to be "
            "refused the same way") in nobody.remediation
    assert "answered VRFY" not in alice.remediation  # 252, or still greylisted: nothing said of the mailbox


async def test_a_retry_within_postgreys_delay_is_greylisted_again_and_said_so(lab_probe: LabProbe) -> None:
    """--retry-greylist shorter than postgrey's --delay (postgrey states no delay, so the probe waits its whole
    allowance): the retry is greylisted again, and the report says so and what to do (a longer --retry-greylist),
    never that the address is deliverable or refused."""
    report = await lab_probe("alice@grey.lab.test", mail_from=_new_sender(), retry_greylist_s=GREYLIST_DELAY_S / 10)
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, [a["code"] for a in alice.attempts]) == (
        Verdict.RISKY, Reason.GREYLISTED, [450, 450])
    assert alice.attempts[1]["waited_s"] < GREYLIST_DELAY_S
    assert "Still greylisted" in alice.remediation and "longer --retry-greylist" in alice.remediation
    assert report.exit_code == 1
