"""How the probe conducts a session with real servers' own limits and manners, and what it then says: Exim
without PIPELINING advertised (its synchronization check, smtp_enforce_sync = true by default), Postfix's
error limit (smtpd_hard_error_limit) ending a session in mid-transaction, SMTPUTF8 addresses to a Postfix with
and without smtputf8_enable."""

from __future__ import annotations

from probe.model import DomainStatus, Verdict

from lab import Lab, LabProbe


async def test_no_pipelining_where_exim_does_not_advertise_it(lab: Lab, lab_probe: LabProbe) -> None:
    """Exim with pipelining_advertise_hosts = : offers no PIPELINING; a client that sends MAIL and RCPT in one
    write gets "554 SMTP synchronization error" (written inside TLS, which no TLS client reads) and Exim logs
    "SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised)"
    (smtp_in.c). The probe waits for each reply, an address probe and a domain-only one (whose postmaster
    RCPT rides with MAIL where PIPELINING is offered) alike."""
    report = await lab_probe("alice@eximnopipe.lab.test", "nobody@eximnopipe.lab.test")
    (session,) = report.sessions
    assert "PIPELINING" not in session.extensions and session.outcome == "completed"
    assert [(a.verdict, a.code) for a in report.addresses] == [(Verdict.DELIVERABLE, 250),
                                                               (Verdict.UNDELIVERABLE, 550)]
    domain_only = await lab_probe(domain="eximnopipe.lab.test")
    assert domain_only.sessions[0].outcome == "completed" and domain_only.postmaster is not None
    assert domain_only.status is DomainStatus.ACCEPTS_MAIL
    assert "synchronization error" not in lab.exim_log("exim-nopipe")


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


async def test_smtputf8_addresses_with_and_without_smtputf8(lab_probe: LabProbe) -> None:
    """Postfix offers SMTPUTF8 (smtputf8_enable = yes, the default at compatibility_level 3.6): a non-ASCII local
    part goes out with MAIL FROM:<> SMTPUTF8 (RFC 6531 §3.4) and gets Postfix's own answer for the mailbox.
    With smtputf8_enable = no it is not offered, and the address is not sent (RFC 6531 §3.2: no downgrade
    for a non-ASCII local part); the ASCII address beside it is asked as usual."""
    offered = await lab_probe("jösé@pf.lab.test")
    (jose,) = offered.addresses
    assert (jose.verdict, jose.code, jose.text) == (
        Verdict.UNDELIVERABLE, 550,
        "550 5.1.1 <jösé@pf.lab.test>: Recipient address rejected: User unknown in local recipient table")
    assert any(s.command == "MAIL FROM:<> SMTPUTF8" and s.code == 250 for s in offered.sessions[0].steps)
    without = await lab_probe("jösé@noutf8.lab.test", "alice@noutf8.lab.test")
    assert "SMTPUTF8" not in without.sessions[0].extensions
    jose, alice = without.addresses
    assert (jose.verdict, jose.code) == (Verdict.UNDELIVERABLE, None)
    assert "does not advertise SMTPUTF8" in jose.meaning
    assert not any("jösé" in (s.command or "") for s in without.sessions[0].steps)
    assert (alice.verdict, alice.code) == (Verdict.DELIVERABLE, 250)
