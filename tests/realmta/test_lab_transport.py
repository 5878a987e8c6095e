"""Real Postfix STARTTLS with certificates from the lab CA (trusted by the probe): valid, expired, wrong name,
self-signed; and postscreen dropping a denylisted client."""

from __future__ import annotations

import pytest

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
