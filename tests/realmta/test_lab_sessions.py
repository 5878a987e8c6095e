"""How the probe conducts a session with real servers' own limits and manners, and what it then says: Postfix's
error limit (smtpd_hard_error_limit) ending a session in mid-transaction."""

from __future__ import annotations

from probe.model import DomainStatus, Verdict

from lab import LabProbe


async def test_postfix_error_limit_ends_the_session_and_the_rest_is_asked_again(lab_probe: LabProbe) -> None:
    """smtpd_hard_error_limit = 2: two unknown recipients are two errors, and Postfix answers the next command
    "421 4.7.0 <host> Error: too many errors" and hangs up (smtpd.c). The answers before it stand, the address
    it cut off is asked in a new session, and its answer is reported once (one host, one answer), not as two
    MX hosts' answers."""
    report = await lab_probe("alice@errors.lab.test", "nobody@errors.lab.test", "nobody2@errors.lab.test",
                             "bob@errors.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    first, again = report.sessions
    assert first.outcome == "deferred"
    assert [s.text for s in first.steps if s.code == 421] == ["421 4.7.0 mx.postfix.lab.test Error: too many errors"]
    assert again.outcome == "completed"
    verdicts = {a.address.split("@")[0]: (a.verdict, a.code) for a in report.addresses}
    assert verdicts == {"alice": (Verdict.DELIVERABLE, 250), "nobody": (Verdict.UNDELIVERABLE, 550),
                        "nobody2": (Verdict.UNDELIVERABLE, 550), "bob": (Verdict.DELIVERABLE, 250)}
    assert all(a.mx_verdicts == [] for a in report.addresses)
    (ended,) = [f for f in report.findings if f.id == "session-ended-early"]
    assert "421 4.7.0 mx.postfix.lab.test Error: too many errors" in ended.message
    assert not any(f.id == "mx-disagree" for f in report.findings)
