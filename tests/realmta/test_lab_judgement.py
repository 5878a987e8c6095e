"""Issue 11 defects 3, 4 and 7 against real servers: what a host that answered and refused this client is
called (Postfix postscreen's 521), two real MX hosts that disagree under --all-mx (Postfix hosts alice, Exim
does not relay for the domain), and findings whose severity the exit code follows (certificates)."""

from __future__ import annotations

import re

import pytest

from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Severity, Verdict
from probe.render.nagios import render_nagios
from probe.render.text import render_text

from lab import LabProbe

_STATUS = {Severity.OK: ExitCode.OK, Severity.INFO: ExitCode.OK, Severity.WARNING: ExitCode.WARNING,
           Severity.CRITICAL: ExitCode.CRITICAL}


async def test_postscreen_drop_is_refuses_this_client_with_the_521_on_its_row(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@screened.lab.test")
    assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING)
    assert "answered and refused this client" in report.summary
    assert "521 5.3.2 Service currently unavailable" in report.summary
    text = render_text(report, health=finish_report(report))
    assert "REFUSES THIS CLIENT" in text and "UNREACHABLE" not in text
    ip = report.sessions[0].address
    # the MX row (wrapped at 80 columns): the address, the outcome, the time, the 521
    assert re.search(rf"{re.escape(ip)} rejected \d+ ms 521 5\.3\.2 Service currently unavailable ",
                     " ".join(text.split()))
    assert report.addresses[0].verdict is Verdict.UNKNOWN


async def test_two_real_mx_hosts_that_disagree_under_all_mx(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@twomx.lab.test", all_mx=True)
    (alice,) = report.addresses
    assert (alice.verdict, alice.host) == (Verdict.DELIVERABLE, "mx.postfix.lab.test")
    assert [(v["host"], v["verdict"], v["code"]) for v in alice.mx_verdicts] == [
        ("mx.postfix.lab.test", "deliverable", 250), ("mx.exim.lab.test", "undeliverable", 550)]
    (disagree,) = [f for f in report.findings if f.id == "mx-disagree"]
    assert disagree.severity is Severity.CRITICAL and disagree.subject == "mx.exim.lab.test"
    assert ("mail that fails over to mx.exim.lab.test will bounce: it does not accept alice@twomx.lab.test "
            "(550 relay not permitted)") in disagree.message
    assert report.exit_code is ExitCode.CRITICAL  # the worse state
    text = " ".join(render_text(report, health=finish_report(report)).split())
    assert "mx.exim.lab.test [" in text and "undeliverable (relay_denied): 550 relay not permitted" in text


async def test_without_all_mx_the_backup_is_not_asked(lab_probe: LabProbe) -> None:
    report = await lab_probe("alice@twomx.lab.test")
    assert [s.host for s in report.sessions] == ["mx.postfix.lab.test"]
    assert report.addresses[0].mx_verdicts == [] and not any(f.id == "mx-disagree" for f in report.findings)


@pytest.mark.parametrize("domain", ["tls-valid", "tls-expired", "tls-wrongname", "tls-selfsigned"])
async def test_no_finding_is_worse_than_the_exit_code(lab_probe: LabProbe, domain: str) -> None:
    """Real certificates, no MTA-STS or DANE: each problem is a WARNING, and the exit code says at least that."""
    report = await lab_probe(domain=f"{domain}.lab.test")
    worst = max((_STATUS[f.severity] for f in report.findings), default=ExitCode.OK)
    assert report.exit_code >= worst
    assert not [f for f in report.findings if f.id.startswith("cert-") and f.severity is Severity.CRITICAL]
    if domain != "tls-valid":
        assert report.exit_code >= ExitCode.WARNING


@pytest.mark.parametrize("domain", ["tls-selfsigned", "tls-wrongname"])
async def test_a_certificate_problem_is_said_once_in_the_summaries(lab_probe: LabProbe, domain: str) -> None:
    """The certificate check raised by a certificate finding is not quoted beside it ("certificate expires in
    89 days (untrusted); The certificate of mx... is not trusted"): the finding says why, once."""
    report = await lab_probe(domain=f"{domain}.lab.test")
    health = finish_report(report)
    (finding,) = [f for f in report.findings if f.id.startswith("cert-") and f.severity is Severity.WARNING]
    for summary in (report.summary, health.summary):
        assert finding.message.rstrip(".") in summary
        assert "certificate expires in" not in summary
    text = " ".join(render_text(report, health=health).split())
    assert text.count(" ".join(finding.message.rstrip(".").split())) == 2  # Findings, and the WARNING line


async def test_nagios_server_said_quotes_only_what_a_server_said(lab_probe: LabProbe) -> None:
    """A certificate's expiry date is the probe's reading, not a reply: Nagios does not label it 'server said'."""
    report = await lab_probe(domain="tls-selfsigned.lab.test")
    said = {step.text for session in report.sessions for step in session.steps if step.code is not None}
    output = render_nagios(report, finish_report(report))
    quoted = [line.split("server said: ", 1)[1] for line in output.splitlines() if "server said: " in line]
    assert report.exit_code is ExitCode.WARNING and "certificate" in output
    assert [q for q in quoted if q not in said] == []
