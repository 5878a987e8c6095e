"""Real Postfix STARTTLS with certificates from the lab CA (trusted by the probe): valid, expired, wrong name,
self-signed; and postscreen dropping a denylisted client."""

from __future__ import annotations

import pytest

from probe.judge.health import evaluate
from probe.model import ExitCode, Reason, Verdict

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
