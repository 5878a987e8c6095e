"""Real Postfix STARTTLS with certificates from the lab CA (trusted by the probe): valid, expired, wrong name,
self-signed; a Postfix that requires STARTTLS (smtpd_tls_security_level = encrypt), with and without a handshake
the probe can complete; and postscreen dropping a denylisted client."""

from __future__ import annotations

import pytest

from probe.judge.health import evaluate, finish_report
from probe.model import DomainStatus, ExitCode, Reason, Severity, Verdict
from probe.render.text import render_text

from lab import LabProbe


def _finding_ids(report: object) -> set[str]:
    return {f.id for f in report.findings}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("domain", "trusted", "name_ok", "problem"), [
    ("tls-valid", True, True, None),
    ("tls-expired", False, True, "cert-expired"),
    ("tls-wrongname", True, False, "cert-name-mismatch"),
    ("tls-selfsigned", False, True, "cert-self-signed"),
])
async def test_starttls_certificates(lab_probe: LabProbe, domain: str, trusted: bool, name_ok: bool,
                                     problem: str | None) -> None:
    report = await lab_probe(domain=f"{domain}.lab.test")
    (session,) = report.sessions
    assert session.tls is not None and session.tls["version"] in ("TLSv1.2", "TLSv1.3")
    certificate = session.tls["certificate"]
    assert certificate["subject"].startswith("CN=mx.")
    assert (certificate["trusted"], certificate["hostname_match"]) == (trusted, name_ok)
    ids = _finding_ids(report)
    cert_findings = {i for i in ids if i.startswith("cert-")}
    if problem is None:
        assert cert_findings == set()
    else:
        assert problem in cert_findings


async def test_postscreen_drop_keeps_the_521(lab_probe: LabProbe) -> None:
    """postscreen with the client on its access list and postscreen_denylist_action = drop answers
    "521 5.3.2 Service currently unavailable" and hangs up (Postfix POSTSCREEN_README)."""
    report = await lab_probe(domain="screened.lab.test")
    (session,) = report.sessions
    banner = session.steps[0]
    assert (banner.code, banner.text) == (521, "521 5.3.2 Service currently unavailable")
    assert session.outcome == "rejected"


async def test_two_mx_hosts_that_disagree(lab_probe: LabProbe) -> None:
    """The lab's twomx.lab.test: Postfix (MX 10) hosts alice; Exim (MX 20) does not relay for the domain.
    (What the report concludes from the disagreement is defect 3's test; here: both answers are kept.)"""
    report = await lab_probe("alice@twomx.lab.test", all_mx=True)
    by_host = {s.host: s for s in report.sessions}
    rcpt = {host: next(st for st in s.steps if st.command == "RCPT TO:<alice@twomx.lab.test>")
            for host, s in by_host.items()}
    assert (rcpt["mx.postfix.lab.test"].code, rcpt["mx.exim.lab.test"].code) == (250, 550)
    assert rcpt["mx.exim.lab.test"].text == "550 relay not permitted"


async def test_starttls_require_stops_on_a_certificate_for_another_name(lab_probe: LabProbe) -> None:
    """--starttls require asks for a certificate that verifies for the MX host name (as MTA-STS and DANE senders
    do: RFC 8461 §4.2). The lab CA's certificate for mx.elsewhere.test on mx.tls-wrongname.lab.test has a
    trusted chain and the wrong name: the probe stops before MAIL, CRITICAL, as for an untrusted chain."""
    report = await lab_probe("alice@tls-wrongname.lab.test", starttls="require")
    (session,) = report.sessions
    assert session.outcome == "tls_failed"
    assert not any(s.command and s.command.startswith(("MAIL", "RCPT")) for s in session.steps)
    assert session.tls is not None and session.tls["certificate"]["hostname_match"] is False
    assert "does not name mx.tls-wrongname.lab.test" in (session.tls["error"] or "")
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason) == (Verdict.UNKNOWN, Reason.TLS_FAILURE)
    assert evaluate(report, starttls_required=True).exit_code is ExitCode.CRITICAL
    valid = await lab_probe("alice@tls-valid.lab.test", starttls="require")  # the right name passes
    assert valid.sessions[0].outcome == "completed" and valid.addresses[0].verdict is Verdict.DELIVERABLE


async def test_a_host_that_requires_starttls_refuses_a_plain_text_probe(lab_probe: LabProbe) -> None:
    """smtpd_tls_security_level = encrypt answers MAIL, each RCPT and RSET "530 5.7.0 Must issue a STARTTLS command
    first" (smtpd.c) to a client that did not use STARTTLS (--starttls never). Nothing was accepted from this
    client, so not "accepts mail": it refused this client, and the advice is to probe with STARTTLS, not to
    fix the server."""
    report = await lab_probe("alice@encrypt.lab.test", starttls="never")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.TLS_REQUIRED, ExitCode.WARNING)
    (alice,) = report.addresses
    assert (alice.verdict, alice.code, alice.text) == (
        Verdict.UNKNOWN, 530, "530 5.7.0 Must issue a STARTTLS command first")
    assert "takes mail only over STARTTLS, which this run did not use (--starttls never)" in report.summary
    assert "answered and refused this client (530 5.7.0 Must issue a STARTTLS command first, to MAIL)" in (
        report.summary)
    assert alice.remediation.startswith("mx.postfix-encrypt.lab.test takes mail only over STARTTLS, which this "
                                        "run did not use (--starttls never): probe again without --starttls never")
    assert not [f for f in report.findings if f.id.startswith("starttls-")]  # --starttls never: no TLS verdict
    text = " ".join(render_text(report, health=finish_report(report)).split())
    assert "REFUSES THIS CLIENT" in text and "ACCEPTS MAIL" not in text
    domain_only = await lab_probe(domain="encrypt.lab.test", starttls="never")
    assert (domain_only.status, domain_only.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.TLS_REQUIRED)
    assert ("the domain may accept mail from others, but not in plain text (postmaster@encrypt.lab.test was not "
            "asked: the MAIL FROM was refused)") in domain_only.summary


async def test_a_failed_handshake_with_a_host_that_requires_starttls(lab_probe: LabProbe) -> None:
    """The same demand where STARTTLS is offered but no handshake succeeds (smtpd_tls_mandatory_protocols =
    <=TLSv1.1; the probe, as senders now do, speaks TLS 1.2 or newer: RFC 8996): the probe goes on in plain
    text, as opportunistic senders do, and gets the 530. The report says the handshake is why; it neither tells
    the user to turn STARTTLS on (it was on) nor that senders "fall back to clear text" (this host refuses it)."""
    report = await lab_probe("alice@encryptold.lab.test")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.TLS_REQUIRED, ExitCode.WARNING)
    (session,) = report.sessions
    assert any(s.reason is Reason.TLS_FAILURE and "TLS handshake failed" in (s.text or "") for s in session.steps)
    (alice,) = report.addresses
    assert (alice.verdict, alice.code) == (Verdict.UNKNOWN, 530)
    assert "the probe's TLS handshake with it failed (" in report.summary
    assert "--starttls" not in alice.remediation
    assert "only senders whose STARTTLS with it succeeds can deliver" in alice.remediation
    (failed,) = [f for f in report.findings if f.id == "starttls-failed"]
    assert failed.severity is Severity.WARNING and "fall back to clear text" not in failed.message
    assert ("it refuses mail in clear text (530 5.7.0 Must issue a STARTTLS command first), so senders whose "
            "STARTTLS fails the same way cannot deliver") in failed.message


async def test_a_host_that_requires_a_client_certificate(lab_probe: LabProbe) -> None:
    """smtpd_tls_security_level = encrypt with smtpd_tls_req_ccert = yes: after the STARTTLS handshake Postfix
    answers the next command (the probe's EHLO) "421 4.7.1 <host> Error: No client certificate presented" and
    hangs up (smtpd.c smtpd_start_tls). The probe read it as "often greylisting or a temporary reputation block"
    and advised to "retry later from the same IP" and "check the sending IP's reputation": no retry and no
    reputation gets a sender without a trusted certificate past it."""
    report = await lab_probe("alice@ccert.lab.test")
    assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING)
    (session,) = report.sessions
    assert session.tls is not None and session.tls["version"] in ("TLSv1.2", "TLSv1.3")
    refusal = session.steps[-1] if session.steps[-1].code == 421 else next(s for s in session.steps if s.code == 421)
    assert refusal.text == "421 4.7.1 mx.postfix-ccert.lab.test Error: No client certificate presented"
    assert refusal.rule == "postfix-client-certificate-required"
    (alice,) = report.addresses
    assert alice.verdict is Verdict.UNKNOWN and alice.code == 421
    for words in (alice.meaning, alice.remediation):
        assert "greylisting" not in words and "reputation" not in words and "Retry later" not in words
    assert "smtpd_tls_req_ccert" in alice.remediation and "Retrying does not help" in alice.remediation
    assert "answered and refused this client" in report.summary
