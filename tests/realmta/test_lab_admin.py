"""Settings mail administrators really use, against real Postfix: is each thing the probe says true of that server?

- access.lab.test: Postfix with a check_recipient_access DISCARD entry (void@; access(5) actions without
  text, so the replies are Postfix's own) and check_sender_access refusing the null sender ("<> REJECT", the key
  smtpd_null_access_lookup_key names);
- backupopen.lab.test: its primary MX does not answer (nothing listens there); the backup, Postfix with the domain
  in relay_domains and an empty relay_recipient_maps, relays every address of the domain to the primary, as
  backup MX hosts without a recipient list do. backup.lab.test: the same with relay_recipient_maps.
"""

from __future__ import annotations

from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Reason, Report, Severity, Verdict
from probe.render.text import render_text

from lab import Lab, LabProbe
from labbase import SUBMISSION_PORT


def _flat_text(report: Report) -> str:
    return " ".join(render_text(report, health=finish_report(report)).split())


async def test_a_discarded_recipient_makes_no_catch_all_and_no_mailbox(lab_probe: LabProbe) -> None:
    """void@ has a DISCARD action: Postfix answers its RCPT 250 and then checks none of the transaction's later
    recipients (smtpd_check.c generic_checks: `if (state->discard != 0) break`, and the implicit
    reject_unlisted_recipient is skipped too; access(5): DISCARD "currently affects all recipients of the
    message"). So nobody@, and the random address asked after the real ones, got 250 too: the probe called the
    domain catch-all and nobody@ accepted. The random address, accepted after accepted recipients, is asked again
    in a transaction of its own, and refused there, so is each accepted recipient: nobody@ gets its own 550.
    VRFY checks each address alone and says "550 5.1.1 ... User unknown" of void@ too."""
    report = await lab_probe("void@access.lab.test", "nobody@access.lab.test", "alice@access.lab.test",
                             mail_from="probe@pf.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    void, nobody, alice = report.addresses
    assert (void.code, void.reason) == (250, Reason.ACCEPTED)  # what RCPT said
    assert void.vrfy is not None and (void.vrfy["code"], void.vrfy["reason"]) == (550, "user_unknown")
    assert (void.verdict, void.catch_all) == (Verdict.RISKY, None)
    assert "catch-all" not in void.meaning
    assert "answered VRFY for this address with 550 5.1.1 (user_unknown)" in void.meaning
    assert "DISCARD" in void.remediation
    assert (nobody.code, nobody.reason, nobody.verdict) == (550, Reason.USER_UNKNOWN, Verdict.UNDELIVERABLE)
    # alice passed Postfix's recipient checks to VRFY ("252 2.0.0 alice@...": smtpd.c vrfy_cmd)
    assert (alice.verdict, alice.catch_all) == (Verdict.DELIVERABLE, False)
    (finding,) = [f for f in report.findings if f.id == "rcpt-contradicts-vrfy"]
    assert "void@access.lab.test" in finding.message
    (after,) = [f for f in report.findings if f.id == "rcpt-accepts-after"]
    assert "after void@access.lab.test" in after.message and "nobody@access.lab.test" in after.message
    text = _flat_text(report)
    assert "catch-all: yes" not in text and "catch-all domain" not in text and "catch-all domain" not in report.summary


async def test_a_discarded_recipient_without_vrfy_makes_no_catch_all(lab_probe: LabProbe) -> None:
    """The same DISCARD with --no-vrfy (or a VRFY that answers 252, as Postfix's does for a known address): no
    VRFY contradicts the acceptances, and the probe said the domain accepts any address (catch-all: yes), nobody@
    risky as accepted by a catch-all. Asked alone after the first transaction, the random address and nobody@ get
    550 5.1.1: no catch-all, nobody@ undeliverable, and void@, after which the server stopped checking, risky."""
    report = await lab_probe("void@access.lab.test", "nobody@access.lab.test", "alice@access.lab.test",
                             mail_from="probe@pf.lab.test", vrfy=False)
    void, nobody, alice = report.addresses
    assert (nobody.verdict, nobody.code, nobody.reason) == (Verdict.UNDELIVERABLE, 550, Reason.USER_UNKNOWN)
    assert (alice.verdict, alice.catch_all) == (Verdict.DELIVERABLE, False)
    assert (void.verdict, void.catch_all, void.code) == (Verdict.RISKY, None, 250)
    assert "DISCARD" in void.remediation or "discarded" in void.remediation
    (after,) = [f for f in report.findings if f.id == "rcpt-accepts-after"]
    assert "after void@access.lab.test" in after.message and "nobody@access.lab.test" in after.message
    assert "the random address" in after.message
    text = _flat_text(report)
    assert "catch-all: yes" not in text and "catch-all: no" in text


async def test_a_true_catch_all_stays_one_when_asked_alone(lab_probe: LabProbe) -> None:
    """catchall.lab.test accepts every local part (a virtual alias @domain): the random address, asked again alone
    after alice@ was accepted, is accepted again, so the domain is a catch-all and alice@ risky, as before."""
    report = await lab_probe("alice@catchall.lab.test", vrfy=False)
    (alice,) = report.addresses
    assert (alice.verdict, alice.catch_all) == (Verdict.RISKY, True)
    assert not [f for f in report.findings if f.id == "rcpt-accepts-after"]


async def test_without_a_discard_the_same_host_is_no_catch_all(lab_probe: LabProbe) -> None:
    """The same host, asked without void@: nobody@ is refused (550 5.1.1), the random address too."""
    report = await lab_probe("nobody@access.lab.test", "alice@access.lab.test", mail_from="probe@pf.lab.test")
    nobody, alice = report.addresses
    assert (nobody.verdict, nobody.code, alice.verdict, alice.catch_all) == (
        Verdict.UNDELIVERABLE, 550, Verdict.DELIVERABLE, False)
    assert not [f for f in report.findings if f.id == "rcpt-contradicts-vrfy"]


async def test_a_refused_null_sender_is_not_advised_as_the_remedy(lab_probe: LabProbe) -> None:
    """check_sender_access with "<> REJECT": every RCPT gets "554 5.7.1 <>: Sender address rejected: Access
    denied" (smtpd_delay_reject). The advice told the user to use "the null sender <> for probes", the sender the
    server had just refused; it says what was refused and to probe again with --from."""
    report = await lab_probe("alice@access.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.SENDER_REJECTED)
    (alice,) = report.addresses
    assert alice.text == "554 5.7.1 <>: Sender address rejected: Access denied"
    assert alice.verdict is Verdict.UNKNOWN
    assert "null sender <> for probes" not in alice.remediation
    assert "refused the null sender <>" in alice.remediation and "--from" in alice.remediation
    report = await lab_probe("alice@access.lab.test", mail_from="probe@pf.lab.test")  # the remedy works
    assert (report.status, report.addresses[0].verdict) == (DomainStatus.ACCEPTS_MAIL, Verdict.DELIVERABLE)


async def test_a_backup_mx_that_relays_any_address_makes_no_catch_all(lab_probe: LabProbe) -> None:
    """The primary MX refuses the connection; the backup (relay_domains, no relay_recipient_maps) accepts alice
    and the random address alike, to queue them for the primary, which will bounce unknown ones. The probe said
    the domain "accepts any address (catch-all)": only its backup does, so that is unknown, and alice's
    acceptance proves nothing about her mailbox."""
    report = await lab_probe("alice@backupopen.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    (alice,) = report.addresses
    assert (alice.host, alice.code) == ("mx.postfix-backupopen.lab.test", 250)
    assert (alice.verdict, alice.catch_all) == (Verdict.RISKY, None)
    assert "backup" in alice.meaning and "catch-all" not in alice.meaning
    (finding,) = [f for f in report.findings if f.id == "backup-mx-accepts-any"]
    assert "mx.nowhere.lab.test" in finding.message and "relay_recipient_maps" in finding.message
    assert "catch-all domain" not in report.summary and "catch-all: yes" not in _flat_text(report)


async def test_a_backup_mx_with_a_recipient_list_answers_for_the_mailboxes(lab_probe: LabProbe) -> None:
    """relay_recipient_maps on the backup: "550 5.1.1 <...>: Recipient address rejected: User unknown in relay
    recipient table" for nobody and the random address (smtpd_check.c), 250 for alice: its answers hold."""
    report = await lab_probe("alice@backup.lab.test", "nobody@backup.lab.test")
    alice, nobody = report.addresses
    assert (alice.verdict, alice.catch_all) == (Verdict.DELIVERABLE, False)
    assert (nobody.verdict, nobody.reason) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN)
    assert "User unknown in relay recipient table" in (nobody.text or "")
    assert not [f for f in report.findings if f.id == "backup-mx-accepts-any"]


async def test_the_submission_port_refuses_who_does_not_log_in(lab: Lab, lab_probe: LabProbe) -> None:
    """Postfix's submission service as master.cf.dist ships it, on port 587: AUTH offered after STARTTLS, and
    smtpd_recipient_restrictions = permit_sasl_authenticated,reject: "554 5.7.1 <alice@pf.lab.test>: Recipient
    address rejected: Access denied" to every RCPT of a client that did not log in. The advice read the
    reply's words ("'Recipient address rejected' the recipient (often an address that takes no outside
    mail)... check first that your IP has a PTR record"): the server asks for a login, which the probe never
    gives; for deliverability, the domain's MX on port 25 answers."""
    report = await lab_probe("alice@pf.lab.test", mx=((lab.ip("postfix-submission"), SUBMISSION_PORT),))
    (alice,) = report.addresses
    assert alice.text == "554 5.7.1 <alice@pf.lab.test>: Recipient address rejected: Access denied"
    assert "AUTH" in report.sessions[0].extensions
    assert (report.status, alice.verdict) == (DomainStatus.REFUSES_THIS_CLIENT, Verdict.UNKNOWN)
    assert "submission port" in alice.remediation and "AUTH" in alice.remediation
    assert "PTR record" not in alice.remediation and "takes no outside mail" not in alice.remediation


async def test_the_one_mx_host_refusing_connections_is_not_said_to_have_others(lab_probe: LabProbe) -> None:
    """A domain whose only MX host runs no mail server: the connection is refused. The advice said "Other MX
    hosts of the domain are tried next": there are none, and the probe had tried every host already."""
    report = await lab_probe("alice@down.lab.test")
    assert report.status is DomainStatus.UNREACHABLE
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason) == (Verdict.UNKNOWN, Reason.NETWORK_ERROR)
    assert "refused" in alice.meaning
    assert "tried next" not in alice.remediation
    assert all("tried next" not in (step.remediation or "") for s in report.sessions for step in s.steps)


async def test_a_listed_sender_domain_is_not_called_a_listed_ip(lab_probe: LabProbe) -> None:
    """reject_rhsbl_sender: "554 5.7.1 Service unavailable; Sender address [probe@pf.lab.test] blocked using
    dbl.lab.test" (smtpd_check.c, $rbl_class "Sender address", smtpd_dsn_fix.h). The probe said "The receiving
    server refuses the sending IP because it is listed" and to look the IP up: the list named the sender's domain."""
    report = await lab_probe("alice@rhsbl.lab.test", mail_from="probe@pf.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.BLOCKLISTED)
    (alice,) = report.addresses
    assert alice.text == "554 5.7.1 Service unavailable; Sender address [probe@pf.lab.test] blocked using dbl.lab.test"
    assert alice.verdict is Verdict.UNKNOWN
    assert "refuses the sending IP" not in alice.meaning and "Look the IP up" not in alice.remediation
    assert "domain" in alice.meaning and "domain" in alice.remediation
    # the null sender has no domain to look up: the same host takes the probe's default
    report = await lab_probe("alice@rhsbl.lab.test")
    assert report.addresses[0].verdict is Verdict.DELIVERABLE


async def test_a_relay_for_the_servers_own_host_is_no_catch_all(lab: Lab, lab_probe: LabProbe) -> None:
    """Postfix as Debian sets it up (mynetworks = 127.0.0.0/8, smtpd_relay_restrictions = permit_mynetworks,
    permit_sasl_authenticated, defer_unauth_destination) with relayed.lab.test's MX pointing at it and the domain
    served nowhere (mydestination forgot it). Run on the server itself, to its own address, the probe is in
    mynetworks and Postfix relays whatever it asks: alice@ and the random address got 250, and the probe said
    "relayed.lab.test accepts any address (catch-all)"; a stranger gets "454 4.7.1 <...>: Relay access denied"
    for every address. From its own address the probe cannot tell a catch-all from a relay: it says so."""
    own = lab.ip("postfix-debian")
    report = await lab_probe("alice@relayed.lab.test", source_ip=own)
    (session,) = report.sessions
    assert session.address == own
    (alice,) = report.addresses
    assert alice.code == 250  # what Postfix said to its trusted client
    assert (alice.verdict, alice.catch_all) == (Verdict.RISKY, None)
    assert "catch-all" not in alice.meaning and own in alice.meaning and "another host" in alice.remediation
    (finding,) = [f for f in report.findings if f.id == "probe-on-server-host"]
    assert "mynetworks" in finding.message and "Relay access denied" in finding.message
    text = _flat_text(report)
    assert "catch-all: yes" not in text and "catch-all domain" not in report.summary
    # a domain it serves: the random address is refused (reject_unlisted_recipient), so the answers hold
    served = await lab_probe("alice@debian.lab.test", "nobody@debian.lab.test", source_ip=own)
    assert [a.verdict for a in served.addresses] == [Verdict.DELIVERABLE, Verdict.UNDELIVERABLE]
    assert not [f for f in served.findings if f.id == "probe-on-server-host"]


async def test_the_domain_alone_from_the_servers_own_address(lab: Lab, lab_probe: LabProbe) -> None:
    """The same, as an admin on the server checks the domain alone: postmaster@relayed.lab.test got 250 (a relay
    for the trusted client) and the probe said "accepts mail", exit OK. From its own address the probe now asks a
    random address too: accepted as well, so the acceptance is said to prove nothing; at a domain the server
    serves, the random address is refused (User unknown) and postmaster@'s 250 stands."""
    own = lab.ip("postfix-debian")
    report = await lab_probe(domain="relayed.lab.test", source_ip=own)
    assert report.postmaster is not None and report.postmaster["code"] == 250
    assert [f.severity for f in report.findings if f.id == "probe-on-server-host"] == [Severity.WARNING]
    assert report.exit_code is not ExitCode.OK and "may only be relaying for its own host" in report.summary
    served = await lab_probe(domain="debian.lab.test", source_ip=own)
    (session,) = served.sessions
    rcpts = [s for s in session.steps if s.command and s.command.startswith("RCPT")]
    assert [s.code for s in rcpts] == [550, 250]  # the random address (User unknown), then postmaster@
    assert (served.status, served.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.OK)
    assert not [f for f in served.findings if f.id == "probe-on-server-host"]
    elsewhere = await lab_probe(domain="debian.lab.test")  # from 127.0.0.1, not the server's own address
    assert len([s for s in elsewhere.sessions[0].steps if s.command and s.command.startswith("RCPT")]) == 1
