"""Real qpsmtpd 0.94 (Debian's package, its stock plugins; tests/realmta/lab_qpsmtpd.py): is each thing the probe
says true of that server?

- qpsmtpd: rcpt_map (qp.lab.test: alice, bob; "550 No such user."), rcpt_ok (qpany.lab.test: any local part;
  qprelay.lab.test, not in rcpthosts: "550 Relaying denied (#5.7.1)"), badrcptto, badmailfrom, helo (badhelo,
  then it hangs up), tls, VRFY ("252 Just try sending a mail ...");
- qpsmtpd-strict: earlytalker (its greeting comes 1 s late), dnsbl (its 550 at the greeting, with the list's TXT),
  greylisting (sender and recipient in the triplet, black_timeout QP_GREYLIST_DELAY_S), which as shipped never
  defers (its is_p0f_match call dies).
"""

from __future__ import annotations

import secrets

from probe.model import DomainStatus, ExitCode, Reason, Verdict

from lab import Lab, LabProbe
from lab_qpsmtpd import QP_BAD_HELO, qpsmtpd_log


async def test_qpsmtpd_recipient_checks_greeting_tls_and_vrfy(lab_probe: LabProbe) -> None:
    """rcpt_map's users are deliverable and anyone else "550 No such user." (user_unknown), badrcptto's closed
    address is refused with the 5.1.1 qpsmtpd appends; the random address is refused (no catch-all); VRFY says
    252 for everyone (cannot_verify, not a mailbox check); STARTTLS with the lab's certificate; the greeting is
    qpsmtpd's own."""
    report = await lab_probe("alice@qp.lab.test", "nobody@qp.lab.test", "closed@qp.lab.test")
    alice, nobody, closed = report.addresses
    assert (alice.verdict, alice.code, alice.text) == (
        Verdict.DELIVERABLE, 250, "250 <alice@qp.lab.test>, recipient ok")
    assert (nobody.verdict, nobody.reason, nobody.text) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN,
                                                            "550 No such user.")
    assert (closed.verdict, closed.reason, closed.enhanced, closed.text) == (
        Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, "5.1.1", "550 mail to closed@qp.lab.test not accepted here (#5.1.1)")
    assert alice.catch_all is False
    assert alice.vrfy is not None and (alice.vrfy["code"], alice.vrfy["reason"]) == (252, "cannot_verify")
    (session,) = report.sessions
    assert session.steps[0].text.startswith("220 mx.qpsmtpd.lab.test ESMTP qpsmtpd 0.94 ready")
    assert session.tls is not None and session.tls["certificate"]["trusted"] is True
    assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.CRITICAL)


async def test_qpsmtpd_rcpt_ok_takes_any_local_part_and_denies_other_domains(lab_probe: LabProbe) -> None:
    """rcpt_ok alone (the package's setup) accepts every local part of its rcpthosts: a catch-all, said RISKY; a
    domain whose MX points at it but which is not in rcpthosts gets "550 Relaying denied (#5.7.1)"."""
    report = await lab_probe("anyone@qpany.lab.test")
    (anyone,) = report.addresses
    assert (anyone.verdict, anyone.reason, anyone.catch_all) == (Verdict.RISKY, Reason.ACCEPTED, True)
    report = await lab_probe("someone@qprelay.lab.test")
    (someone,) = report.addresses
    assert (someone.verdict, someone.reason, someone.text) == (
        Verdict.UNDELIVERABLE, Reason.RELAY_DENIED, "550 Relaying denied (#5.7.1)")
    assert (report.status, report.exit_code) == (DomainStatus.DOES_NOT_ACCEPT_MAIL, ExitCode.CRITICAL)
    assert "qpsmtpd: rcpthosts" in someone.remediation  # where qpsmtpd's admin adds the domain (rcpt_ok's list)


async def test_qpsmtpd_badmailfrom_refuses_the_sender_not_the_mailbox(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@qp.lab.test", mail_from="spammer@probe.lab.test")
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.command, alice.text) == (
        Verdict.UNKNOWN, Reason.SENDER_REJECTED, "MAIL", "550 Your envelope sender is in my badmailfrom list")
    assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING)


async def test_qpsmtpd_helo_refusal_then_hangup_is_a_refusal_not_a_network_failure(lab_probe: LabProbe) -> None:
    """qpsmtpd's helo plugin answers a name in badhelo with "550 I do not believe you are NAME." (is_in_badhelo) and, by its
    default reject_type disconnect, closes the connection; the probe's HELO fallback then finds it closed. The
    probe said UNREACHABLE (network_error: "a firewall ... dropped" the connection): the server answered and
    refused this client's EHLO name, and that 550 decides."""
    report = await lab_probe("alice@qp.lab.test", helo=QP_BAD_HELO)
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.code, alice.text) == (
        Verdict.UNKNOWN, Reason.HELO_REJECTED, 550, "550 I do not believe you are spammer.lab.test.")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.HELO_REJECTED, ExitCode.WARNING)
    (session,) = report.sessions
    assert session.outcome == "rejected"
    assert [s.command for s in session.steps][1:3] == [f"EHLO {QP_BAD_HELO}", f"HELO {QP_BAD_HELO}"]  # all recorded
    assert "mx-all-reset" not in {f.id for f in report.findings}
    assert "network_error" not in report.summary


async def test_qpsmtpd_earlytalker_and_dnsbl(lab_probe: LabProbe) -> None:
    """earlytalker holds the greeting for 1 s: the probe waits for it (never talks first, so it is not refused as
    an early talker); dnsbl then refuses 127.0.0.1 (on bl.lab.test) at the greeting with the list's TXT."""
    report = await lab_probe("alice@qpstrict.lab.test")
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.command, alice.text) == (
        Verdict.UNKNOWN, Reason.BLOCKLISTED, "banner", "550 Blocked - see https://www.spamcop.net/bl.shtml?127.0.0.1")
    (session,) = report.sessions
    assert session.steps[0].elapsed_ms >= 900  # earlytalker's wait 1, then the refusal in place of the greeting
    assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING)


async def test_qpsmtpd_greylisting_as_shipped_defers_nothing_and_the_probe_says_so(lab: Lab, lab_probe: LabProbe) -> None:
    """Debian's qpsmtpd 0.94-5 greylisting plugin calls $self->is_p0f_match (its sub is named p0f_match): each check
    dies, qpsmtpd logs "FATAL PLUGIN ERROR [greylisting]" and goes on as if it had declined, so rcpt_ok's 250
    stands and a fresh triplet is never deferred. The probe says what the server does (accepted, a catch-all
    domain under rcpt_ok), not greylisted; a fixed package would fail here and want its own test."""
    sender = f"qpgrey-{secrets.token_hex(4)}@probe.lab.test"
    report = await lab_probe("alice@qpgrey.lab.test", mail_from=sender, source_ip=lab.ip("client-noptr"))
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.text, alice.catch_all) == (
        Verdict.RISKY, Reason.ACCEPTED, "250 <alice@qpgrey.lab.test>, recipient ok", True)
    assert alice.attempts == []
    assert "FATAL PLUGIN ERROR [greylisting]" in qpsmtpd_log(lab, "qpsmtpd-strict")


async def test_qpsmtpd_resolvable_fromhost_for_a_sender_domain_that_does_not_exist(lab_probe: LabProbe) -> None:
    """resolvable_fromhost answers a MAIL FROM whose domain does not exist (NXDOMAIN in the lab's zone) with "450
    Temporary address resolution failure (#4.4.3)", its word for any domain without A or MX records. The probe
    said dns_error, "not a name that does not exist", and to retry once lookups work: for this server the name may
    well not exist, and then no retry helps; the advice now says so and names the sender's domain."""
    report = await lab_probe("alice@qp.lab.test", mail_from="someone@nxdomain.lab.test")
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.command, alice.text) == (
        Verdict.UNKNOWN, Reason.DNS_ERROR, "MAIL", "450 Temporary address resolution failure (#4.4.3)")
    assert "not a name that does not exist" not in alice.meaning
    assert "qpsmtpd" in alice.meaning and "does not exist" in alice.meaning
    assert "use a MAIL FROM whose domain has MX or address records" in alice.remediation
    assert report.exit_code == ExitCode.WARNING


async def test_qpsmtpd_rhsbl_names_the_helo_but_lists_the_sender_domain(lab: Lab, lab_probe: LabProbe) -> None:
    """rhsbl (dbl.lab.test lists pf.lab.test) refuses MAIL FROM:<...@pf.lab.test> with "550 Mail from HELO
    probe.lab.test rejected because it pf.lab.test.dbl.lab.test": qpsmtpd 0.94 names the EHLO name, but the
    sender's domain is what is listed. The probe said sender_rejected ("check that the --from domain exists"):
    the domain exists and is on a domain blocklist (rule qpsmtpd-rhsbl, from plugins/rhsbl)."""
    report = await lab_probe("alice@qpgrey.lab.test", mail_from="someone@pf.lab.test", source_ip=lab.ip("client-noptr"))
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason, alice.command, alice.text) == (
        Verdict.UNKNOWN, Reason.BLOCKLISTED, "MAIL",
        "550 Mail from HELO probe.lab.test rejected because it pf.lab.test.dbl.lab.test")
    assert "the sender address's domain, not the EHLO name" in alice.meaning
    assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING)
