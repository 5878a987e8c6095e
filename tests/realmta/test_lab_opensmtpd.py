"""What the probe says about real OpenSMTPD (Debian's smtpd 6.8, tests/realmta/lab_opensmtpd.py says each setup).

Its replies, from its source (usr.sbin/smtpd): "220 NAME ESMTP OpenSMTPD" (smtp_session.c), "500 5.5.1 Invalid
command: Command unrecognized" to VRFY and EXPN (it has neither), "550 Invalid recipient" when a recipient's
lookup fails for good without a message (lka_session.c: an unknown userbase user, a domain no rule serves, a
`reject` rule), "524 5.2.4 Mailing list expansion problem" when a virtual table has no entry for the address.
"""

from __future__ import annotations

import socket

import pytest

import probe
from probe.model import DomainStatus, ExitCode, Reason, Verdict

from lab import Lab, LabProbe
from lab_opensmtpd import RDNS_MESSAGE, SENDERS_MESSAGE


def _steps(report, command: str):  # type: ignore[no-untyped-def]
    return [s for s in report.sessions[-1].steps if (s.command or "").upper().startswith(command)]


async def test_a_virtual_domain_unknown_user_is_undeliverable_not_a_broken_list(lab_probe: LabProbe) -> None:
    """An address missing from the virtual table gets 524 5.2.4: mail to it bounces (undeliverable, not
    unknown), and the meaning says what OpenSMTPD means by it; the random address gets the same, so the
    domain is no catch-all. Greeting, VRFY and the failed STARTTLS (Debian's 6.8 on OpenSSL 3) are as smtpd says."""
    report = await lab_probe("alice@osd.lab.test", "nobody@osd.lab.test")
    alice, nobody = report.addresses
    assert alice.verdict is Verdict.DELIVERABLE and alice.code == 250
    assert (nobody.verdict, nobody.code, nobody.enhanced) == (Verdict.UNDELIVERABLE, 524, "5.2.4")
    assert "OpenSMTPD" in nobody.meaning and "virtual" in nobody.remediation
    assert "list address itself exists" not in nobody.remediation
    assert alice.catch_all is False and report.exit_code is ExitCode.CRITICAL
    session = report.sessions[-1]
    assert session.steps[0].text.endswith("ESMTP OpenSMTPD")
    (vrfy,) = _steps(report, "VRFY")
    assert (vrfy.code, vrfy.reason) == (500, Reason.NOT_IMPLEMENTED)
    assert any(s.reason is Reason.TLS_FAILURE for s in report.sessions[0].steps)  # then plain text, completed
    assert report.status is DomainStatus.ACCEPTS_MAIL


@pytest.mark.parametrize("domain", ["osdstale", "osdreject"])
async def test_invalid_recipient_to_postmaster_says_the_domain_may_not_be_served(lab_probe: LabProbe,
                                                                                 domain: str) -> None:
    """A domain whose MX is this smtpd but that no match rule serves (osdstale: a relay attempt) and one a
    `match ... reject` rule refuses: smtpd says '550 Invalid recipient' to postmaster@ as to an unknown user, so
    the finding must not claim the domain takes mail and only lacks a postmaster."""
    report = await lab_probe(f"{domain}.lab.test")
    assert report.postmaster is not None and report.postmaster["code"] == 550
    assert report.postmaster["text"].startswith("550 Invalid recipient")
    (finding,) = [f for f in report.findings if f.id == "postmaster-unknown"]
    assert f"does not take mail for {domain}.lab.test at all" in finding.message
    assert "match from any for domain" in finding.message
    assert report.exit_code is ExitCode.WARNING
    # an address there: undeliverable (mail bounces), but the meaning does not claim the mailbox is missing
    report = await lab_probe(f"alice@{domain}.lab.test")
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN)
    assert "does not serve" in alice.meaning and "match from any for domain" in alice.remediation


async def test_opensmtpd_settings_as_the_probe_reports_them(lab: Lab, lab_probe: LabProbe) -> None:
    """What the probe found true of the other setups (one smtpd start serves them all)."""
    # userbase table: an unknown user is "550 Invalid recipient", user_unknown
    report = await lab_probe("alice@osdusers.lab.test", "nobody@osdusers.lab.test")
    assert [a.verdict for a in report.addresses] == [Verdict.DELIVERABLE, Verdict.UNDELIVERABLE]
    assert report.addresses[1].reason is Reason.USER_UNKNOWN
    # EXPN: smtpd has none; its words, as explain quotes them (codes.toml), are not_implemented
    with socket.create_connection((lab.ip("opensmtpd"), lab.port), timeout=5) as conn, \
            conn.makefile("rb") as replies:
        replies.readline()
        conn.sendall(b"HELO probe.lab.test\r\n")
        replies.readline()
        conn.sendall(b"EXPN alice\r\n")
        expn = replies.readline().decode().strip()
        conn.sendall(b"QUIT\r\n")
        replies.readline()
    assert expn == "500 5.5.1 Invalid command: Command unrecognized"
    assert probe.classify(expn, "EXPN").reason is Reason.NOT_IMPLEMENTED
    # a catch-all virtual entry (@osdall.lab.test): any address accepted, the acceptance risky
    report = await lab_probe("alice@osdall.lab.test")
    assert report.addresses[0].catch_all is True and report.addresses[0].verdict is Verdict.RISKY
    # tls-require: MAIL refused in plain text, tls_required; the handshake failed on smtpd's side (an internal_error
    # alert: Debian's 6.8 on OpenSSL 3), so no sender can deliver: the domain accepts no mail, not "refuses this client"
    report = await lab_probe("alice@osdtls.lab.test")
    (mail,) = _steps(report, "MAIL")
    assert (mail.code, mail.reason) == (530, Reason.TLS_REQUIRED) and "STARTTLS" in mail.text
    assert report.status is DomainStatus.DOES_NOT_ACCEPT_MAIL and report.exit_code is ExitCode.CRITICAL
    (tls,) = [f for f in report.findings if f.id == "starttls-failed"]
    assert tls.severity == "critical" and "no sender can deliver" in tls.message
    assert "no sender can deliver" in report.addresses[0].remediation
    # auth (required on the listener): MAIL refused until AUTH
    report = await lab_probe("alice@osdauth.lab.test")
    (mail,) = _steps(report, "MAIL")
    assert (mail.code, mail.reason) == (530, Reason.AUTH_REQUIRED)
    assert report.addresses[0].verdict is Verdict.UNKNOWN
    # smtps: implicit TLS on the MX port, where a sender speaks plain SMTP: no greeting comes
    report = await lab_probe("osdsmtps.lab.test", timeout_s=1.0)
    assert report.status is DomainStatus.UNREACHABLE
    # max-message-size 1M: SIZE 1048576; max-rcpt 2: the third recipient of a transaction is deferred
    report = await lab_probe("alice@osdlimits.lab.test", "bob@osdlimits.lab.test")
    (ehlo,) = _steps(report, "EHLO")
    assert "SIZE 1048576" in ehlo.text
    rcpts = _steps(report, "RCPT")
    assert [s.code for s in rcpts][:2] == [250, 250]
    assert rcpts[2:] and all(s.code == 451 and s.reason is Reason.RATE_LIMITED for s in rcpts[2:])  # the random one
    # the builtin filter `phase connect match !rdns disconnect "550 no rDNS is so 80s"`, for a client without PTR
    report = await lab_probe("alice@osdrdns.lab.test", source_ip=lab.ip("client-noptr"))
    assert report.sessions[-1].steps[0].text == RDNS_MESSAGE
    assert report.status is DomainStatus.REFUSES_THIS_CLIENT


async def test_refusals_of_the_sender(lab_probe: LabProbe) -> None:
    """Two ways admins refuse senders of their own domain sent from elsewhere. The builtin filter's `disconnect
    "550 invalid mail from"` answers MAIL and hangs up: the host answered and refused the sender, it is not
    unreachable. smtpd.conf(5)'s `match !from src <other-relays> mail-from "@example.com" for any reject` refuses
    at RCPT with '550 Invalid recipient', the words of an unknown user: the meaning says a reject rule may name the
    sender, and the remediation to try the null sender; alice, asked with it, is deliverable."""
    for targets in (("alice@osdsenders.lab.test",), ("osdsenders.lab.test",)):
        report = await lab_probe(*targets, mail_from="bob@osdsenders.lab.test")
        (mail,) = _steps(report, "MAIL")
        assert mail.text == SENDERS_MESSAGE and report.sessions[-1].outcome == "reset"
        assert report.status is DomainStatus.REFUSES_THIS_CLIENT and report.reason is Reason.SENDER_REJECTED
        assert all(a.verdict is Verdict.UNKNOWN and a.reason is Reason.SENDER_REJECTED for a in report.addresses)
    report = await lab_probe("alice@osd.lab.test", mail_from="bob@osd.lab.test")
    (alice,) = report.addresses
    assert alice.text == "550 Invalid recipient: <alice@osd.lab.test>"
    assert "about the sender" in alice.meaning and "null sender <>" in alice.remediation
    report = await lab_probe("alice@osd.lab.test")
    assert report.addresses[0].verdict is Verdict.DELIVERABLE
