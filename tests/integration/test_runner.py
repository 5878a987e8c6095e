"""The probe end to end (issue 2): loopback DNS + fake mail servers -> runner -> Report -> JSON schema."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from probe.dns import resolve
from probe.inputs import parse_address
from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, ProbeOptions, Reason, Report, Verdict
from probe.render.json import report_json
from probe.render.text import render_text
from probe.run.probe import probe_domain
from probe.testing.certs import self_signed
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP
from probe.testing.hostile import Behaviour, HostileServer

ZONE = """$ORIGIN it.test.
$TTL 60
@          SOA ns.it.test. hostmaster.it.test. 1 3600 600 86400 60
ns         A   127.0.0.1
ok         MX  10 mx.ok
mx.ok      A   127.0.0.1
nullmx     MX  0 .
nullmx     A   127.0.0.1
implicit   A   127.0.0.1
failover   MX  10 mx1.failover
failover   MX  20 mx2.failover
mx1.failover A 127.0.0.2
mx2.failover A 127.0.0.1
broken     MX  10 mx.ok
slow       MX  10 mx.ok
"""

SCHEMA = json.loads(resources.files("probe").joinpath("schema/report.schema.json").read_text("utf-8"))


@pytest.fixture
async def dns() -> AsyncIterator[FakeDNS]:
    async with FakeDNS({"it.test.": ZONE}, servfail=["broken.it.test"], drop=["slow.it.test"]) as server:
        yield server


async def run(dns: FakeDNS, domain: str, addresses: list[str], server: FakeSMTP | None = None,
              **options: Any) -> Report:
    """Probe through the real resolver and SMTP client; validate and return the report."""
    opts = ProbeOptions(helo="probe.it.test", port=server.port if server else 25, timeout_s=2.0,
                        deadline_s=15.0, tls_policies=False, **options)
    resolver = resolve.make_resolver([(dns.host, dns.port)], timeout_s=0.6)
    report = await probe_domain(domain, [parse_address(a) for a in addresses], opts, resolver=resolver)
    finish_report(report, [])
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(report_json(report)))
    render_text(report, verbose=True)  # must not raise on any report
    if server is not None:
        assert not any(c.upper().startswith(("DATA", "BDAT")) for c in server.commands), "DATA was sent"
    return report


def only(report: Report) -> Any:
    assert len(report.addresses) == 1
    return report.addresses[0]


async def test_deliverable_address(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt={"alice@ok.it.test": "250 2.1.5 Ok"},
                        rcpt_default="550 5.1.1 <x>: Recipient address rejected: User unknown") as smtp:
        report = await run(dns, "ok.it.test", ["alice@ok.it.test"], smtp, starttls="never")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    a = only(report)
    assert (a.verdict, a.reason, a.code, a.catch_all) == (Verdict.DELIVERABLE, Reason.ACCEPTED, 250, False)
    assert a.vrfy is not None and a.vrfy["code"] == 252 and a.vrfy["reason"] == "cannot_verify"
    assert report.exit_code is ExitCode.OK  # with STARTTLS allowed, its absence would be a WARNING
    assert [s.outcome for s in report.sessions] == ["completed"]
    commands = [c.split()[0].upper() for c in smtp.commands]
    assert commands[0] == "EHLO" and "VRFY" in commands and "MAIL" in commands and commands[-1] == "QUIT"


async def test_unknown_user_is_undeliverable_and_critical(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt_default="550 5.1.1 <ghost@ok.it.test>: Recipient address rejected: "
                                     "User unknown in virtual mailbox table") as smtp:
        report = await run(dns, "ok.it.test", ["ghost@ok.it.test"], smtp)
    a = only(report)
    assert (a.verdict, a.reason, a.enhanced) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, "5.1.1")
    assert "RCPT" in (a.command or "")
    assert report.exit_code is ExitCode.CRITICAL


@pytest.mark.parametrize(
    ("reply", "reason", "verdict"),
    [
        ("450 4.2.0 <b@ok.it.test>: Recipient address rejected: Greylisted, see "
         "http://postgrey.schweikert.ch/help/ok.it.test.html", Reason.GREYLISTED, Verdict.RISKY),
        ("452 4.2.2 <b@ok.it.test>: Mailbox full", Reason.MAILBOX_FULL, Verdict.RISKY),
        ("252 2.1.5 Cannot verify, will attempt delivery", Reason.CANNOT_VERIFY, Verdict.RISKY),
        ("251 2.1.5 User not local; will forward to <b@elsewhere.test>", Reason.WILL_FORWARD, Verdict.DELIVERABLE),
    ],
)
async def test_rcpt_replies(dns: FakeDNS, reply: str, reason: Reason, verdict: Verdict) -> None:
    async with FakeSMTP(rcpt={"b@ok.it.test": reply}, rcpt_default="550 5.1.1 no such user") as smtp:
        report = await run(dns, "ok.it.test", ["b@ok.it.test"], smtp)
    a = only(report)
    assert (a.reason, a.verdict) == (reason, verdict)
    assert a.text is not None and a.text.startswith(reply[:3])


@pytest.mark.parametrize(
    ("vrfy", "reason"),
    [("252 2.5.2 Cannot VRFY user", Reason.CANNOT_VERIFY),
     ("502 5.5.1 VRFY command is disabled", Reason.NOT_IMPLEMENTED)],
)
async def test_vrfy_replies_are_reported_but_rcpt_decides(dns: FakeDNS, vrfy: str, reason: Reason) -> None:
    async with FakeSMTP(vrfy_default=vrfy, rcpt_default="250 2.1.5 Ok") as smtp:
        report = await run(dns, "ok.it.test", ["b@ok.it.test"], smtp, catch_all=False)
    a = only(report)
    assert a.vrfy is not None and a.vrfy["reason"] == reason
    assert a.verdict is Verdict.DELIVERABLE  # RCPT is the real test


async def test_an_acceptance_that_vrfy_denies_is_no_confirmation(dns: FakeDNS) -> None:
    """RCPT 250 but VRFY "550 5.1.1 ... no such user" from the same host: the server contradicts itself (real
    Postfix does so after an access(5) DISCARD: tests/realmta/test_lab_admin.py), so the address is risky, not
    deliverable, and a finding says why."""
    async with FakeSMTP(vrfy_default="550 5.1.1 <b@ok.it.test>: no such user", rcpt_default="250 2.1.5 Ok") as smtp:
        report = await run(dns, "ok.it.test", ["b@ok.it.test"], smtp, catch_all=False)
    a = only(report)
    assert a.vrfy is not None and a.vrfy["reason"] == Reason.USER_UNKNOWN
    assert (a.verdict, a.reason, a.code) == (Verdict.RISKY, Reason.ACCEPTED, 250)
    assert [f.id for f in report.findings].count("rcpt-contradicts-vrfy") == 1


@pytest.mark.parametrize(
    ("vrfy", "verdict"),
    [("250 2.1.5 <b@mx.ok.it.test>", Verdict.UNKNOWN),  # the server verified the address itself
     ("252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)", Verdict.UNDELIVERABLE),
     ("550 5.1.1 b@ok.it.test... User unknown", Verdict.UNDELIVERABLE)],
)
async def test_a_refusal_that_says_no_why_of_an_address_vrfy_verified(dns: FakeDNS, vrfy: str,
                                                                       verdict: Verdict) -> None:
    """Real Sendmail with FEATURE(`delay_checks') says a From: access entry's refusal (cf/README's `ERROR:"550 We
    don't accept mail from spammers"`) to each RCPT, while VRFY verifies the local user with 250
    (tests/realmta/test_lab_sendmail.py): a 5xx whose words do not say the mailbox is missing is no proof that it is
    when the same server's VRFY verified it (RFC 5321 §3.5.3); a 252 or a refusing VRFY changes nothing."""
    async with FakeSMTP(vrfy_default=vrfy, rcpt_default="550 5.0.0 <b@ok.it.test>... We don't accept mail from "
                        "spammers") as smtp:
        report = await run(dns, "ok.it.test", ["b@ok.it.test"], smtp, catch_all=False)
    a = only(report)
    assert (a.reason, a.verdict) == (Reason.UNKNOWN, verdict)
    assert report.exit_code is (ExitCode.WARNING if verdict is Verdict.UNKNOWN else ExitCode.CRITICAL)
    assert ("VRFY verified" in a.meaning) is (verdict is Verdict.UNKNOWN)


async def test_missing_starttls_is_reported_and_advisory_by_default(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        report = await run(dns, "ok.it.test", ["b@ok.it.test"], smtp, catch_all=False)
    assert [f.id for f in report.findings].count("starttls-missing") == 1
    assert report.exit_code is ExitCode.OK  # the lead's policy: advisory in auto mode


async def test_no_vrfy_sends_no_vrfy(dns: FakeDNS) -> None:
    async with FakeSMTP() as smtp:
        report = await run(dns, "ok.it.test", ["b@ok.it.test"], smtp, vrfy=False)
    assert not any(c.upper().startswith("VRFY") for c in smtp.commands)
    assert only(report).vrfy is None


@pytest.mark.parametrize(
    ("banner", "status", "reason", "outcome"),
    [
        ("521 5.3.2 mx.ok.it.test does not accept mail", DomainStatus.DOES_NOT_ACCEPT_MAIL,
         Reason.NOT_ACCEPTING_MAIL, "rejected"),
        ("554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org",
         DomainStatus.REFUSES_THIS_CLIENT, Reason.BLOCKLISTED, "rejected"),
        ("421 4.3.2 mx.ok.it.test Service not available, closing transmission channel",
         DomainStatus.UNREACHABLE, Reason.SERVICE_UNAVAILABLE, "deferred"),
        # Exim's smtp_accept_max (daemon.c): a limit on every client's connections, not a refusal of this one
        ("421 Too many concurrent SMTP connections; please try again later.",
         DomainStatus.UNREACHABLE, Reason.RATE_LIMITED, "deferred"),
        # its smtp_accept_max_per_host (daemon.c) names this client
        ("421 Too many concurrent SMTP connections from this IP address; please try again later.",
         DomainStatus.REFUSES_THIS_CLIENT, Reason.RATE_LIMITED, "deferred"),
    ],
)
async def test_refusing_banners_are_results(dns: FakeDNS, banner: str, status: DomainStatus,
                                            reason: Reason, outcome: str) -> None:
    async with FakeSMTP(banner=banner) as smtp:
        report = await run(dns, "ok.it.test", ["b@ok.it.test"], smtp)
    assert report.status is status
    assert report.reason is reason
    assert [s.outcome for s in report.sessions] == [outcome]
    banner_step = report.sessions[0].steps[0]
    assert banner_step.code == int(banner[:3]) and banner_step.text == banner
    assert not any(c.upper().startswith(("MAIL", "RCPT")) for c in smtp.commands)
    # "does not accept mail" is CRITICAL; a refusal of this client (and a 421) only WARNING
    expected = ExitCode.CRITICAL if status is DomainStatus.DOES_NOT_ACCEPT_MAIL else ExitCode.WARNING
    assert report.exit_code is expected


async def test_ehlo_refused_falls_back_to_helo(dns: FakeDNS) -> None:
    async with FakeSMTP(ehlo_reply="502 5.5.2 Error: command not recognized", rcpt_default="250 2.1.5 Ok") as smtp:
        report = await run(dns, "ok.it.test", ["b@ok.it.test"], smtp)
    verbs = [c.split()[0].upper() for c in smtp.commands]
    assert verbs[:2] == ["EHLO", "HELO"]
    assert only(report).verdict in (Verdict.DELIVERABLE, Verdict.RISKY)
    ehlo = report.sessions[0].steps[1]
    assert ehlo.code == 502 and ehlo.reason is Reason.NOT_IMPLEMENTED


async def test_null_mx_connects_nowhere(dns: FakeDNS) -> None:
    async with FakeSMTP() as smtp:
        report = await run(dns, "nullmx.it.test", ["x@nullmx.it.test"], smtp)
        assert smtp.connections == []  # the domain's A record is NOT a fallback
    assert (report.status, report.reason, report.mx_source) == (
        DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.NOT_ACCEPTING_MAIL, "null")
    assert only(report).verdict is Verdict.UNDELIVERABLE
    assert report.sessions == []
    assert report.exit_code is ExitCode.CRITICAL


async def test_implicit_mx_uses_the_domain_address(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        report = await run(dns, "implicit.it.test", ["x@implicit.it.test"], smtp, catch_all=False)
    assert report.mx_source == "implicit"
    assert report.mx[0].implicit and report.mx[0].host == "implicit.it.test"
    assert report.status is DomainStatus.ACCEPTS_MAIL
    assert any(f.id == "implicit-mx" for f in report.findings)


async def test_nxdomain_is_no_such_domain(dns: FakeDNS) -> None:
    report = await run(dns, "nope.it.test", ["x@nope.it.test"])
    assert (report.status, report.reason) == (DomainStatus.NO_SUCH_DOMAIN, Reason.DOMAIN_UNKNOWN)
    assert only(report).verdict is Verdict.UNDELIVERABLE
    assert report.exit_code is ExitCode.CRITICAL


@pytest.mark.parametrize("domain", ["broken.it.test", "slow.it.test"])
async def test_servfail_and_timeout_are_dns_errors_never_nonexistence(dns: FakeDNS, domain: str) -> None:
    report = await run(dns, domain, [f"x@{domain}"])
    assert (report.status, report.reason) == (DomainStatus.DNS_ERROR, Reason.DNS_ERROR)
    a = only(report)
    assert (a.verdict, a.reason) == (Verdict.UNKNOWN, Reason.DNS_ERROR)
    # only silence (no answer at all) points at this machine's resolver; SERVFAIL is the domain's problem
    silent = any(f.id == "dns-resolver-unreachable" for f in report.findings)
    assert silent is (domain == "slow.it.test")
    assert report.exit_code is (ExitCode.UNKNOWN if silent else ExitCode.WARNING)


async def test_failover_to_the_backup_mx(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        report = await run(dns, "failover.it.test", ["d@failover.it.test"], smtp, catch_all=False)
    assert [(s.host, s.outcome) for s in report.sessions] == [
        ("mx1.failover.it.test", "refused"), ("mx2.failover.it.test", "completed")]
    assert report.sessions[0].steps[0].reason is Reason.NETWORK_ERROR
    a = only(report)
    assert (a.verdict, a.host) == (Verdict.DELIVERABLE, "mx2.failover.it.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL


async def test_421_banner_moves_on_to_the_next_host(dns: FakeDNS) -> None:
    async with FakeSMTP(banner="421 4.7.0 mx busy, try later") as busy, FakeSMTP(rcpt_default="250 Ok") as good:
        opts = {"mx": (("127.0.0.1", busy.port), ("127.0.0.1", good.port)), "catch_all": False}
        report = await run(dns, "ok.it.test", ["d@ok.it.test"], None, **opts)
    assert [s.outcome for s in report.sessions] == ["deferred", "completed"]
    assert only(report).verdict is Verdict.DELIVERABLE


async def test_every_host_down_is_unreachable_with_unknown_verdicts(dns: FakeDNS) -> None:
    report = await run(dns, "failover.it.test", ["d@failover.it.test"], None, mx=(("127.0.0.2", 9),))
    assert report.status is DomainStatus.UNREACHABLE
    assert report.reason is Reason.NETWORK_ERROR
    a = only(report)
    assert (a.verdict, a.reason) == (Verdict.UNKNOWN, Reason.NETWORK_ERROR)
    assert report.exit_code is ExitCode.CRITICAL


async def test_domain_only_probe_asks_postmaster(dns: FakeDNS) -> None:
    """A domain-only probe has no address results, and tests that the MX takes the domain's mail with the one
    address every server that delivers for it must accept (RFC 5321 §4.5.1): RCPT TO:<postmaster@DOMAIN>,
    and no other RCPT (no catch-all test: there is no address to compare with)."""
    async with FakeSMTP(rcpt={"postmaster@ok.it.test": "250 2.1.5 Ok"}, rcpt_default="550 5.1.1 no") as smtp:
        report = await run(dns, "ok.it.test", [], smtp, source_ip="127.0.0.2")  # not from the server's own address (there the random address is asked too: probe-on-server-host)
    assert report.addresses == [] and report.status is DomainStatus.ACCEPTS_MAIL
    assert report.exit_code is ExitCode.OK
    assert [c for c in smtp.commands if c.upper().startswith("RCPT")] == ["RCPT TO:<postmaster@ok.it.test>"]
    assert report.postmaster == {"address": "postmaster@ok.it.test", "host": "mx.ok.it.test", "code": 250,
                                 "enhanced": "2.1.5", "reason": "accepted", "text": "250 2.1.5 Ok",
                                 "accepted": True, "command": "RCPT TO:<postmaster@ok.it.test>"}
    step = next(s for s in report.sessions[0].steps if s.command == "RCPT TO:<postmaster@ok.it.test>")
    assert (step.code, step.reason) == (250, Reason.ACCEPTED)
    assert "accepted postmaster@ok.it.test (250 2.1.5 Ok)" in report.summary
    text = " ".join(render_text(report).split())
    assert "Postmaster RCPT TO:<postmaster@ok.it.test> accepted by mx.ok.it.test (250 2.1.5 Ok)" in text


async def test_no_postmaster_sends_no_rcpt(dns: FakeDNS) -> None:
    """ProbeOptions(postmaster=False) (--no-postmaster): the old domain-only dialogue, MAIL then RSET."""
    async with FakeSMTP(rcpt_default="550 5.1.1 no") as smtp:
        report = await run(dns, "ok.it.test", [], smtp, postmaster=False)
    assert report.addresses == [] and report.status is DomainStatus.ACCEPTS_MAIL
    assert report.exit_code is ExitCode.OK and report.postmaster is None
    assert not any(c.upper().startswith("RCPT") for c in smtp.commands)
    assert any(c.upper().startswith("MAIL FROM") for c in smtp.commands)


async def test_an_unknown_postmaster_is_a_finding(dns: FakeDNS) -> None:
    """Postfix's answer when postmaster@ has no mailbox and no alias (smtpd_check.c, local_recipient_maps):
    the host takes the domain's mail, so accepts_mail, but RFC 5321 §4.5.1 wants postmaster@: a WARNING."""
    refusal = "550 5.1.1 <postmaster@ok.it.test>: Recipient address rejected: User unknown in local recipient table"
    async with FakeSMTP(rcpt={"postmaster@ok.it.test": refusal}) as smtp:
        report = await run(dns, "ok.it.test", [], smtp)
    assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.WARNING)
    assert report.postmaster is not None and report.postmaster["accepted"] is False
    assert report.postmaster["reason"] == "user_unknown"
    (finding,) = [f for f in report.findings if f.id == "postmaster-unknown"]
    assert finding.severity == "warning" and "§4.5.1" in finding.message and "/etc/aliases" in finding.message
    assert "postmaster@ok.it.test refused (550 5.1.1" in report.summary


async def test_opensmtpd_invalid_recipient_to_postmaster_may_be_a_domain_it_does_not_serve(dns: FakeDNS) -> None:
    """OpenSMTPD's '550 Invalid recipient: <...>' (lka_session.c, smtp_session.c) is its answer both to a user its
    userbase lacks and to a domain no match rule serves (a relay attempt): the finding says either may be true and
    where to look in smtpd.conf, not that the domain takes mail and only lacks a postmaster."""
    async with FakeSMTP(rcpt_default="550 Invalid recipient: <postmaster@ok.it.test>") as smtp:
        report = await run(dns, "ok.it.test", [], smtp)
    assert report.exit_code is ExitCode.WARNING
    (finding,) = [f for f in report.findings if f.id == "postmaster-unknown"]
    assert "does not take mail for ok.it.test at all" in finding.message
    assert "'match from any for domain' rule" in finding.message and "/etc/aliases" not in finding.message
    assert "no postmaster, or ok.it.test not served there" in report.summary
    async with FakeSMTP(rcpt_default="550 Invalid recipient: <alice@ok.it.test>") as smtp:
        report = await run(dns, "ok.it.test", ["alice@ok.it.test"], smtp)
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN)
    assert "does not serve" in alice.meaning and "'match from any for domain' rule" in alice.remediation


async def test_a_relay_refusal_of_postmaster_means_the_mx_takes_no_mail_for_the_domain(dns: FakeDNS) -> None:
    """Postfix's '554 5.7.1 <...>: Relay access denied' (smtpd_check.c) to the domain's own postmaster: its MX
    does not take mail for it, so mail to the domain bounces there: does_not_accept_mail, CRITICAL, with the
    relay advice (the MX records point at a host not configured for the domain)."""
    async with FakeSMTP(rcpt_default="554 5.7.1 <postmaster@ok.it.test>: Relay access denied") as smtp:
        report = await run(dns, "ok.it.test", [], smtp)
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.RELAY_DENIED, ExitCode.CRITICAL)
    (finding,) = [f for f in report.findings if f.id == "postmaster-relay-denied"]
    assert finding.severity == "critical"
    assert "MX records point at mx.ok.it.test, which is not configured to take mail" in finding.message


async def test_a_greylisted_postmaster_accepts_mail_with_a_warning(dns: FakeDNS) -> None:
    """postgrey's deferral (postgrey's default --greylist-text) of postmaster@: the domain takes mail, delayed:
    accepts_mail and WARNING, as a greylisted address is risky."""
    grey = ("450 4.2.0 <postmaster@ok.it.test>: Recipient address rejected: Greylisted, see "
            "http://postgrey.schweikert.ch/help/ok.it.test.html")
    async with FakeSMTP(rcpt={"postmaster@ok.it.test": grey}) as smtp:
        report = await run(dns, "ok.it.test", [], smtp)
    assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.WARNING)
    (finding,) = [f for f in report.findings if f.id == "postmaster-deferred"]
    assert "greylisting" in finding.message and finding.severity == "warning"
    assert report.postmaster is not None and report.postmaster["reason"] == "greylisted"


async def test_a_postmaster_deferred_for_the_probes_sender_is_not_called_greylisting(dns: FakeDNS) -> None:
    """Postfix's reject_unverified_sender (smtpd_check.c, verify.c) defers the RCPT with "<sender>: Sender
    address rejected: unverified address: Address verification in progress": the reply speaks of the probe's
    MAIL FROM, so the postmaster finding says so and says nothing is known of postmaster@, not greylisting."""
    sv = "450 4.1.7 <probe@x>: Sender address rejected: unverified address: Address verification in progress"
    async with FakeSMTP(rcpt_default=sv) as smtp:
        report = await run(dns, "ok.it.test", [], smtp)
    (finding,) = [f for f in report.findings if f.id == "postmaster-deferred"]
    assert "greylisting" not in finding.message and finding.severity == "warning"
    assert "verifying the probe's MAIL FROM" in finding.message
    assert "nothing is known of postmaster@ok.it.test yet" in finding.message


async def test_the_probes_sender_refused_at_mail_refuses_this_client(dns: FakeDNS) -> None:
    """A 5xx to the probe's MAIL FROM for the sender (sender_rejected) decides the postmaster RCPT, which
    then is never sent: the host refused what this probe sent, not mail for the domain."""
    # Postfix's reject_unknown_sender_domain with unknown_address_reject_code = 550, smtpd_delay_reject = no
    async with FakeSMTP(mail="550 5.1.8 <x@nowhere.it.test>: Sender address rejected: Domain not found") as smtp:
        report = await run(dns, "ok.it.test", [], smtp, mail_from="x@nowhere.it.test")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.SENDER_REJECTED, ExitCode.WARNING)
    assert "refused this client (550 5.1.8" in report.summary and "to MAIL" in report.summary


async def test_multiline_replies_are_kept_exactly(dns: FakeDNS) -> None:
    reply = ("550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
             "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
             "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp")
    async with FakeSMTP(rcpt={"x@ok.it.test": reply}) as smtp:
        report = await run(dns, "ok.it.test", ["x@ok.it.test"], smtp)
    rcpt = next(s for s in report.sessions[0].steps if (s.command or "").startswith("RCPT TO:<x@"))
    assert rcpt.text == reply.replace("\r\n", "\n")
    assert len(rcpt.lines) == 3 and rcpt.code == 550 and rcpt.enhanced == "5.1.1"
    assert only(report).reason is Reason.USER_UNKNOWN


# ---------------------------------------------------------------- what the report says when nobody decided

async def test_the_summary_says_what_each_host_did(dns: FakeDNS) -> None:
    async with FakeSMTP(banner="421 4.3.2 mx1 busy, try later") as busy:
        opts = {"mx": (("127.0.0.1", busy.port), ("127.0.0.2", 9)), "catch_all": False}
        report = await run(dns, "ok.it.test", ["d@ok.it.test"], None, **opts)
    assert report.status is DomainStatus.UNREACHABLE
    assert "no mail server gave an answer" not in report.summary  # one did: 421
    assert "127.0.0.1 deferred (421 4.3.2 mx1 busy, try later)" in report.summary
    assert "127.0.0.2 refused the connection" in report.summary


async def test_an_unsolicited_421_is_not_labelled_as_a_command_never_sent(dns: FakeDNS) -> None:
    async with HostileServer(Behaviour.UNSOLICITED_421) as srv:
        report = await run(dns, "ok.it.test", ["d@ok.it.test"], None, mx=(("127.0.0.1", srv.port),))
        assert not any(c.upper().startswith("VRFY") for c in srv.commands)
    a = only(report)
    assert a.code == 421 and a.command == "unsolicited (after EHLO)"
    assert "VRFY" not in render_text(report, verbose=False)
    assert "deferred unasked (421 4.4.2" in report.summary


def untrusted_server_context(tmp_path: Path) -> ssl.SSLContext:
    issued = self_signed(["mx.ok.it.test", "127.0.0.1"], days=2)
    (tmp_path / "c.pem").write_bytes(issued.cert_pem)
    (tmp_path / "k.pem").write_bytes(issued.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    return context


async def test_starttls_require_with_an_untrusted_certificate(dns: FakeDNS, tmp_path: Path) -> None:
    """The server answered SMTP: the domain accepts mail; no host met --starttls require, so the walk
    went on to the next host, and the addresses were not asked (unknown, tls_failure)."""
    context = untrusted_server_context(tmp_path)
    async with FakeSMTP(tls_context=context, rcpt_default="250 Ok") as one, \
            FakeSMTP(tls_context=context, rcpt_default="250 Ok") as two:
        opts = {"mx": (("127.0.0.1", one.port), ("127.0.0.1", two.port)), "starttls": "require"}
        report = await run(dns, "ok.it.test", ["d@ok.it.test"], None, **opts)
        assert not any(c.upper().startswith(("MAIL", "RCPT")) for s in (one, two) for c in s.commands)
    assert [s.outcome for s in report.sessions] == ["tls_failed", "tls_failed"]  # a sender requiring TLS walks on
    assert (report.status, report.reason) == (DomainStatus.ACCEPTS_MAIL, Reason.TLS_FAILURE)
    a = only(report)
    assert (a.verdict, a.reason) == (Verdict.UNKNOWN, Reason.TLS_FAILURE)
    assert "no mail server gave an answer" not in report.summary and "--starttls require" in report.summary
    assert "untrusted certificate" in report.summary


# ---------------------------------------------------------------- addresses of another domain

async def test_an_address_of_another_domain_is_a_relay_question(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt={"x@failover.it.test": "550 5.7.1 Relay access denied"},
                        rcpt_default="250 2.1.5 Ok") as smtp:
        report = await run(dns, "ok.it.test", ["a@ok.it.test", "b@failover.it.test", "x@failover.it.test"],
                           smtp, catch_all=False)
    own, other, refused = report.addresses
    assert (own.verdict, own.note) == (Verdict.DELIVERABLE, None)
    assert other.verdict is Verdict.UNKNOWN and other.reason is Reason.ACCEPTED  # accepted, but by ok's MX
    assert other.note == ("asked ok.it.test's MX, which is not failover.it.test's MX: acceptance means "
                          "relaying/backup, not deliverability")
    assert other.meaning.startswith("Asked ok.it.test's MX, which is not failover.it.test's MX")
    assert (refused.verdict, refused.reason) == (Verdict.UNDELIVERABLE, Reason.RELAY_DENIED)  # a permanent no
    assert refused.note is not None


@pytest.mark.parametrize("addresses", [["alice@ok.it.test"], []])
async def test_a_bare_452_to_the_first_rcpt_is_no_refusal_of_this_client(dns: FakeDNS, addresses: list[str]) -> None:
    """A bare 452 (RFC 5321 §4.2.3's "Requested action not taken", no other word) is read by its code as
    §4.5.3.1.10's "too many recipients"; to the first RCPT of a transaction it cannot be one (§4.5.3.1.8: at
    least 100 recipients), so it does not say the host refused this client: the domain accepts mail, deferred."""
    async with FakeSMTP(rcpt_default="452 Requested action not taken") as smtp:
        report = await run(dns, "ok.it.test", addresses, smtp)
    assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.WARNING)
    assert "refused this client" not in report.summary


async def test_a_worded_rate_limit_at_every_rcpt_still_refuses_this_client(dns: FakeDNS) -> None:
    """Apple's "421 4.7.1 ... deferred due to excessive volume" (support.apple.com/en-us/102322, the catalogue's
    excessive-volume rule) to each RCPT speaks of this client's volume: refuses_this_client."""
    said = ("421 4.7.1 Messages to alice@ok.it.test deferred due to excessive volume. Try again later - "
            "https://support.apple.com/en-us/HT204137")
    async with FakeSMTP(rcpt_default=said) as smtp:
        report = await run(dns, "ok.it.test", ["alice@ok.it.test"], smtp)
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.RATE_LIMITED)


async def test_a_4xx_relay_refusal_of_the_domains_address_is_undeliverable(dns: FakeDNS) -> None:
    """Postfix's default relay check (defer_unauth_destination) says "454 4.7.1 <...>: Relay access denied"
    (smtpd_check.c): the domain's own MX takes none of its mail, so the address is undeliverable (not risky:
    SPEC's risky is catch-all, 252, a full mailbox, greylisting), and a CRITICAL finding says that senders
    defer it and bounce it days later, as for a domain-only probe's postmaster@."""
    async with FakeSMTP(rcpt_default="454 4.7.1 <alice@ok.it.test>: Relay access denied") as smtp:
        report = await run(dns, "ok.it.test", ["alice@ok.it.test"], smtp)
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.RELAY_DENIED, ExitCode.CRITICAL)
    assert (only(report).verdict, only(report).reason) == (Verdict.UNDELIVERABLE, Reason.RELAY_DENIED)
    (finding,) = [f for f in report.findings if f.id == "relay-denied"]
    assert finding.severity == "critical" and "days later" in finding.message
    assert "MX records point at mx.ok.it.test, which is not configured to take mail" in finding.message
