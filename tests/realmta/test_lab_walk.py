"""The MX walk and Postfix as admins run it, against real Postfix: what the probe says that was checked and is true.

- samepref.lab.test: two MX records of the same preference, one host runs no mail server (nowhere), the other is
  Postfix; samepreflive.lab.test: two live Postfix listeners of the same preference; cnamemx.lab.test: the MX target is a CNAME of Postfix's host; implicit.lab.test: no MX, an A record
  (RFC 5321 §5.1 implicit MX); split.lab.test: one MX host with two A records, a dead one and Postfix's.
- debian.lab.test: Postfix as Debian's postinst sets it up (mynetworks = 127.0.0.0/8, so the probe on loopback
  is a trusted client; smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
  defer_unauth_destination; recipient_delimiter = +). relayed.lab.test has its MX there but is not served.
- --mx naming a host that is not the domain's MX (Exim, for pf.lab.test): what the report says is that host's, and the
  host is said to be named (it has no MX preference).
- tls13 / askccert: smtpd_tls_protocols = >=TLSv1.3; smtpd_tls_ask_ccert = yes (a certificate asked, not required).
"""

from __future__ import annotations

from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Reason, Severity, Verdict
from probe.render.nagios import render_nagios
from probe.render.text import render_text

from lab import Lab, LabProbe


async def test_equal_preferences_reach_the_live_host_whatever_the_order(lab_probe: LabProbe) -> None:
    """Equal preferences are tried in random order (RFC 5321 §5.1): either the dead host first (refused, then
    Postfix answers) or Postfix first. Either way the report says the dead host is dead and the exit code is
    WARNING: drawn second, it gets a connection of its own (finding mx-equal-dead; it used to be 'not tried' and
    the exit OK, so the exit code flapped between runs). Both orders are met within a bounded number of runs;
    each is checked when met."""
    seen: set[str] = set()
    for _ in range(40):
        report = await lab_probe("alice@samepref.lab.test")
        (alice,) = report.addresses
        assert (report.status, alice.verdict, alice.host) == (
            DomainStatus.ACCEPTS_MAIL, Verdict.DELIVERABLE, "mx.postfix.lab.test")
        assert sorted(m.preference for m in report.mx) == [10, 10]
        assert not [f for f in report.findings if f.id == "backup-mx-accepts-any"]  # no host is a backup
        assert report.exit_code is ExitCode.WARNING
        first = report.sessions[0].host
        if first == "mx.nowhere.lab.test":
            assert report.sessions[0].outcome == "refused"
        else:
            assert [s.host for s in report.sessions] == ["mx.postfix.lab.test"]
            (dead,) = [f for f in report.findings if f.id == "mx-equal-dead"]
            assert (dead.subject, dead.severity) == ("mx.nowhere.lab.test", Severity.WARNING)
            assert f"its address {report.mx[1].addresses[0]} refused the connection" in dead.message
            (nowhere,) = [m for m in report.mx if m.host == "mx.nowhere.lab.test"]
            assert nowhere.checked == {nowhere.addresses[0]: "refused the connection"}  # the table's, not "not tried"
            assert (f"{nowhere.addresses[0]:<24} connection check only: refused the connection (see Findings)"
                    in render_text(report, width=200))
        seen.add(first)
        if len(seen) == 2:
            break
    assert seen == {"mx.nowhere.lab.test", "mx.postfix.lab.test"}


async def test_equal_preferences_both_live_stay_ok_whatever_the_order(lab_probe: LabProbe) -> None:
    """Two live Postfix listeners at preference 10 (each with a certificate of its own name): whichever answers
    first, the other greets the check (220) and nothing is reported of it: OK in both orders (the check adds no
    warning of its own)."""
    seen: set[str] = set()
    for _ in range(40):
        report = await lab_probe("alice@samepreflive.lab.test")
        assert (report.addresses[0].verdict, report.exit_code) == (Verdict.DELIVERABLE, ExitCode.OK)
        assert len(report.sessions) == 1 and not [f for f in report.findings if f.id == "mx-equal-dead"]
        (other,) = [m for m in report.mx if m.host != report.sessions[0].host]
        assert other.checked == {other.addresses[0]: "greeted"}  # it was greeted, not "not tried"
        assert (f"{other.addresses[0]:<24} connection check only: greeted (2xx)"
                in render_text(report, width=200))
        seen.add(report.sessions[0].host)
        if len(seen) == 2:
            break
    assert seen == {"mx.postfix.lab.test", "mx.postfix-askccert.lab.test"}


async def test_a_cname_mx_target_is_followed_and_said(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@cnamemx.lab.test")
    assert report.addresses[0].verdict is Verdict.DELIVERABLE
    (cname,) = [f for f in report.findings if f.id == "mx-is-cname"]
    assert "alias.cnamemx.lab.test" in cname.message and "mx.postfix.lab.test" in cname.message


async def test_a_domain_with_only_an_address_is_its_own_mx(lab_probe: LabProbe) -> None:
    report = await lab_probe(domain="implicit.lab.test")
    assert report.mx_source == "implicit" and [m.host for m in report.mx] == ["implicit.lab.test"]
    assert report.status is DomainStatus.ACCEPTS_MAIL and report.postmaster is not None


async def test_one_mx_host_with_a_dead_and_a_live_address(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@split.lab.test")
    assert report.addresses[0].verdict is Verdict.DELIVERABLE
    assert {s.address.rsplit(".", 1)[1] for s in report.sessions} <= {"98", "10"}
    assert report.sessions[-1].outcome == "completed"


async def test_debian_postfix_answers_a_trusted_client_truly_for_the_domains_it_serves(lab_probe: LabProbe) -> None:
    """From mynetworks, Postfix still refuses unknown local users (smtpd_reject_unlisted_recipient = yes applies
    after permit_mynetworks): nobody@ and the random address are refused, so the answers are the mailboxes'.
    recipient_delimiter = +: alice+tag@ is alice's; lookups ignore case: ALICE@ is alice's."""
    report = await lab_probe("alice@debian.lab.test", "nobody@debian.lab.test", "alice+tag@debian.lab.test",
                             "ALICE@debian.lab.test")
    alice, nobody, tagged, upper = report.addresses
    assert [r.verdict for r in (alice, tagged, upper)] == [Verdict.DELIVERABLE] * 3
    assert (nobody.verdict, nobody.reason, alice.catch_all) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, False)
    assert "User unknown in local recipient table" in (nobody.text or "")


async def test_tls_13_only_and_an_asked_client_certificate_do_not_stop_the_probe(lab_probe: LabProbe) -> None:
    report = await lab_probe(domain="tls13.lab.test")
    assert report.sessions[0].tls is not None and report.sessions[0].tls["version"] == "TLSv1.3"
    assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.OK)
    report = await lab_probe("alice@askccert.lab.test")
    assert report.addresses[0].verdict is Verdict.DELIVERABLE and report.exit_code is ExitCode.OK


async def test_mx_names_a_host_and_the_report_speaks_of_that_host(lab: Lab, lab_probe: LabProbe) -> None:
    """`--mx mx.exim.lab.test pf.lab.test`: Exim is not pf.lab.test's MX and refuses it as a relay. pf.lab.test takes
    mail (at Postfix, its MX), so the report may not say that the domain does not: the status is the named host's
    answer (CRITICAL: it does not take the domain's mail), and the headline, the summary and the finding say it is
    that host's, not that mail to the domain bounces. Named right (Postfix), the domain accepts mail there."""
    report = await lab_probe(domain="pf.lab.test", mx=(("mx.exim.lab.test", lab.port),))
    health = finish_report(report)
    assert (report.mx_source, report.status, report.reason) == ("override", DomainStatus.DOES_NOT_ACCEPT_MAIL,
                                                                 Reason.RELAY_DENIED)
    assert report.exit_code is ExitCode.CRITICAL
    assert render_text(report, health=health).splitlines()[0] == (
        "pf.lab.test at mx.exim.lab.test (--mx) — DOES NOT ACCEPT MAIL  (relay_denied)")
    assert report.summary.startswith("pf.lab.test does not accept mail at mx.exim.lab.test (--mx); ")
    assert health.summary.startswith("pf.lab.test: does not accept mail at mx.exim.lab.test (named with --mx; the "
                                     "domain's MX records were not looked up) (relay_denied)")
    (denied,) = [f for f in report.findings if f.id == "postmaster-relay-denied"]
    assert "so mail for the domain sent to it bounces there" in denied.message
    assert "mail to the domain bounces" not in denied.message
    assert "domain pf.lab.test at mx.exim.lab.test (--mx): does not accept mail" in render_nagios(report, health)
    # the named host has no MX preference (it was named): no "preference 0" in the table, the Nagios details or JSON
    (named,) = report.mx
    assert named.named and "\nMX mx.exim.lab.test (named with --mx): " in render_nagios(report, health)
    table = render_text(report, health=health).split("\n\n")[1].splitlines()
    assert table[:2] == ["Mail servers  (source: named with --mx; MX records not looked up)", "  mx.exim.lab.test"]
    assert report.to_dict()["mx"][0]["named"] is True
    report = await lab_probe(domain="pf.lab.test", mx=(("mx.postfix.lab.test", lab.port),))
    assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.OK)
    # two named hosts, Exim first: its refusal is definitive, so Postfix is never asked and the report does not
    # say the domain "does not accept mail at" it (it did, listing both)
    report = await lab_probe(domain="pf.lab.test", mx=(("mx.exim.lab.test", lab.port), ("mx.postfix.lab.test", lab.port)))
    health = finish_report(report)
    assert [s.host for s in report.sessions] == ["mx.exim.lab.test"] and report.status is DomainStatus.DOES_NOT_ACCEPT_MAIL
    assert render_text(report, health=health).splitlines()[0] == (
        "pf.lab.test at mx.exim.lab.test (--mx) — DOES NOT ACCEPT MAIL  (relay_denied)")
    assert "mx.postfix.lab.test" not in report.summary + health.summary
