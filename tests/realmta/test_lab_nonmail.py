"""Exim's limit on non-mail commands (issue 11, defect 1): the probe stays within it, and when a server ends
the session early every answer already received is kept and the addresses never asked are asked again.

Exim counts VRFY, NOOP, a second RSET or EHLO ... and answers the (smtp_accept_max_nonmail + 1)th with
"554 Too many nonmail commands" before closing (github:Exim/exim src/src/smtp_in.c). The lab's `exim`
has the stock limit (10); `exim-strict` has smtp_accept_max_nonmail = 2.
"""

from __future__ import annotations

import pytest

from probe.model import DomainStatus, Reason, Verdict

from lab import Lab, LabProbe

KNOWN = ("alice", "bob")


def _addresses(domain: str, unknown: int) -> list[str]:
    return [f"{u}@{domain}" for u in KNOWN] + [f"nobody{i}@{domain}" for i in range(1, unknown + 1)]


def _assert_rcpt_verdicts(report: object, domain: str, count: int) -> None:
    results = {a.address: a for a in report.addresses}  # type: ignore[attr-defined]
    assert len(results) == count
    for address, result in results.items():
        if address.split("@")[0] in KNOWN:
            assert (result.verdict, result.code, result.command) == (Verdict.DELIVERABLE, 250, "RCPT"), address
        else:
            assert (result.verdict, result.text, result.command) == (
                Verdict.UNDELIVERABLE, "550 Unrouteable address", "RCPT"), address


async def test_twelve_addresses_at_stock_exim_stay_within_its_limit(lab: Lab, lab_probe: LabProbe) -> None:
    addresses = _addresses("exim.lab.test", 10)
    report = await lab_probe(*addresses)
    assert report.status is DomainStatus.ACCEPTS_MAIL
    (session,) = report.sessions
    assert session.outcome == "completed" and session.steps[-1].code == 221  # QUIT answered: never cut off
    _assert_rcpt_verdicts(report, "exim.lab.test", 12)
    asked = [a for a in report.addresses if a.vrfy and a.vrfy["code"] == 252]
    not_asked = [a for a in report.addresses if a.vrfy and a.vrfy["code"] is None]
    assert (len(asked), len(not_asked)) == (10, 2)
    assert all("not sent" in (a.vrfy or {})["text"] for a in not_asked)
    assert "too many nonmail commands" not in lab.exim_log()


@pytest.mark.parametrize("starttls", ["auto", "never"])
async def test_answers_kept_when_exim_closes_after_the_transaction(lab_probe: LabProbe, starttls: str) -> None:
    """PIPELINING: MAIL, every RCPT and RSET go first; the third VRFY ends the session (limit 2)."""
    report = await lab_probe(*_addresses("eximstrict.lab.test", 2), starttls=starttls)
    assert report.status is DomainStatus.ACCEPTS_MAIL
    (session,) = report.sessions
    assert session.outcome == "reset"
    _assert_rcpt_verdicts(report, "eximstrict.lab.test", 4)
    if starttls == "never":
        refusal = next(s for s in session.steps if s.code == 554)
        assert refusal.text == "554 Too many nonmail commands" and refusal.command.startswith("VRFY ")
    else:  # Exim 4.96 writes that reply in plain text inside the TLS session: the report says so
        assert "not TLS (wrong version number)" in (session.error or "")


async def test_addresses_never_asked_go_to_a_new_session(lab_probe: LabProbe) -> None:
    """Without PIPELINING the VRFYs come first: Exim closes before any RCPT; a second session (no VRFY) asks."""
    report = await lab_probe(*_addresses("eximstrict.lab.test", 2), pipelining=False, starttls="never")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    first, second = report.sessions
    assert (first.outcome, second.outcome) == ("reset", "completed")
    assert not any(s.command and s.command.startswith("RCPT") for s in first.steps)
    assert not any(s.command and s.command.startswith("VRFY") for s in second.steps)
    _assert_rcpt_verdicts(report, "eximstrict.lab.test", 4)
    (ended,) = [f for f in report.findings if f.id == "session-ended-early"]
    assert "554 Too many nonmail commands to VRFY" in ended.message
    assert report.addresses[0].vrfy is not None and report.addresses[0].vrfy["reason"] != Reason.UNKNOWN
