"""Real Postfix and real Exim: the verdict for each kind of mailbox, as a mail administrator expects it."""

from __future__ import annotations

from probe.model import DomainStatus, Reason, Verdict

from lab import LabProbe


async def test_postfix_known_unknown_full_disabled_and_relay(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@pf.lab.test", "nobody@pf.lab.test", "full@pf.lab.test",
                             "disabled@pf.lab.test", "someone@elsewhere.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    alice, nobody, full, disabled, stranger = report.addresses
    assert (alice.verdict, alice.reason, alice.code) == (Verdict.DELIVERABLE, Reason.ACCEPTED, 250)
    assert (nobody.verdict, nobody.reason, nobody.code) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, 550)
    assert "User unknown in local recipient table" in (nobody.text or "")
    assert (full.verdict, full.reason, full.code, full.enhanced) == (Verdict.RISKY, Reason.MAILBOX_FULL, 452, "4.2.2")
    assert (disabled.verdict, disabled.reason, disabled.enhanced) == (
        Verdict.UNDELIVERABLE, Reason.MAILBOX_DISABLED, "5.2.1")
    assert (stranger.reason, stranger.code) == (Reason.RELAY_DENIED, 554)
    assert "Relay access denied" in (stranger.text or "")
    # elsewhere.test's own MX was not asked: Postfix refusing to relay for it is no fault of any MX record
    assert "MX records point at" not in stranger.remediation and "fix the MX records" not in stranger.remediation
    assert stranger.remediation.startswith("mx.postfix.lab.test does not take mail for elsewhere.test from this "
                                           "client: right for a host that is not a backup MX of elsewhere.test")
    assert alice.catch_all is False  # the random address got Postfix's "User unknown"


async def test_exim_known_and_unknown(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@exim.lab.test", "nobody@exim.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    alice, nobody = report.addresses
    assert (alice.verdict, alice.reason, alice.code) == (Verdict.DELIVERABLE, Reason.ACCEPTED, 250)
    assert (nobody.verdict, nobody.code, nobody.text) == (Verdict.UNDELIVERABLE, 550, "550 Unrouteable address")
    assert alice.catch_all is False


async def test_exim_vrfy_252_is_cannot_verify(lab_probe: LabProbe) -> None:
    """Exim without acl_smtp_vrfy answers every VRFY "252 Administrative prohibition" (smtp_in.c): a 2xx that
    neither confirms nor denies. The address's verdict still comes from RCPT."""
    report = await lab_probe("alice@exim.lab.test")
    (alice,) = report.addresses
    assert alice.vrfy is not None
    assert (alice.vrfy["code"], alice.vrfy["text"]) == (252, "252 Administrative prohibition")
    assert alice.vrfy["reason"] == Reason.CANNOT_VERIFY
    assert alice.verdict is Verdict.DELIVERABLE


async def test_postfix_vrfy_enabled_and_disabled(lab_probe: LabProbe) -> None:
    on = (await lab_probe("alice@pf.lab.test")).addresses[0]
    assert on.vrfy is not None and on.vrfy["code"] == 252  # Postfix: "252 2.0.0 alice@pf.lab.test"
    off = (await lab_probe("alice@novrfy.lab.test")).addresses[0]
    assert off.vrfy is not None
    assert (off.vrfy["code"], off.vrfy["text"]) == (502, "502 5.5.1 VRFY command is disabled")
    assert off.vrfy["reason"] == Reason.NOT_IMPLEMENTED
    assert off.verdict is Verdict.DELIVERABLE  # RCPT decides


async def test_postfix_vrfy_252_is_not_said_to_hide_users(lab_probe: LabProbe) -> None:
    """Postfix with VRFY enabled runs the recipient checks before it says "252 2.0.0 <address>" (smtpd.c
    vrfy_cmd), and refuses an unknown user with 550: the report does not say of its 252 that the server hides
    its users (that is Exim's "252 Administrative prohibition"), nor that disable_vrfy_command gives 252."""
    report = await lab_probe("alice@pf.lab.test", "nobody@pf.lab.test")
    vrfy = {s.command: s for s in report.sessions[0].steps if s.command and s.command.startswith("VRFY ")}
    ok, unknown = vrfy["VRFY alice@pf.lab.test"], vrfy["VRFY nobody@pf.lab.test"]
    assert (ok.code, ok.text, ok.reason) == (252, "252 2.0.0 alice@pf.lab.test", Reason.CANNOT_VERIFY)
    assert (unknown.code, unknown.reason) == (550, Reason.USER_UNKNOWN)  # it does not hide its users
    said = f"{ok.meaning} {ok.remediation}"
    assert "hides its users" not in ok.remediation and not ok.meaning.startswith("The server hides its users")
    assert "Postfix with disable_vrfy_command" not in said
    assert "Postfix with VRFY enabled says '252 2.0.0 <address>' only for an address that passed" in ok.meaning


async def test_catch_all_domain_is_detected(lab_probe: LabProbe) -> None:
    report = await lab_probe("anyone@catchall.lab.test")
    (anyone,) = report.addresses
    assert anyone.catch_all is True
    assert (anyone.verdict, anyone.code) == (Verdict.RISKY, 250)


async def test_soft_bounce_refusal_of_the_random_address_still_says_no_catch_all(lab_probe: LabProbe) -> None:
    """Postfix with soft_bounce = yes says every 5xx of smtpd as 4xx (smtpd_chat.c): "450 4.1.1 <a>: Recipient
    address rejected: User unknown in local recipient table". The lookup said the mailbox does not exist, so
    the random address's 450 is a no, not "no clear answer" (the probe said so, and left alice's acceptance
    in doubt); and the 450 for nobody is said to be retried by senders, not to bounce at once."""
    report = await lab_probe("alice@soft.lab.test", "nobody@soft.lab.test")
    alice, nobody = report.addresses
    assert (alice.verdict, alice.catch_all) == (Verdict.DELIVERABLE, False)
    assert "refused a random one" in alice.remediation and "no clear answer" not in alice.remediation
    assert nobody.text == ("450 4.1.1 <nobody@soft.lab.test>: Recipient address rejected: User unknown in local "
                           "recipient table")
    assert (nobody.verdict, nobody.reason) == (Verdict.RISKY, Reason.USER_UNKNOWN)
    assert "soft_bounce = yes" in nobody.remediation and "retry until they give up" in nobody.remediation
