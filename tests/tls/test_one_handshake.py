"""One STARTTLS handshake per session: the chain is judged afterwards (probe.tls.trust), with the same
certificate fields and findings as a verifying handshake followed by an unverified reconnect gave."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from probe.inputs import parse_address
from probe.judge.health import finish_report
from probe.model import ProbeOptions, Report
from probe.run.probe import probe_domain
from probe.smtp import starttls as starttls_module
from probe.testing.certs import IssuedCert, TestCA, self_signed
from probe.testing.fakesmtp import FakeSMTP
from probe.tls.certificates import chain_readable, client_context

CASES: dict[str, Callable[[TestCA], IssuedCert]] = {
    "valid": lambda ca: ca.issue(["mx.t.test", "127.0.0.1"]),
    "expired": lambda ca: ca.issue(["mx.t.test", "127.0.0.1"], expired=True),
    "wrong-name": lambda ca: ca.issue(["other.t.test"]),
    "self-signed": lambda ca: self_signed(["mx.t.test", "127.0.0.1"]),
}

pytestmark = pytest.mark.skipif(not chain_readable(), reason="this Python cannot read the server's chain")


async def run(ca: TestCA, cert: IssuedCert, *, starttls: str = "auto",
              factory: Callable[[bool], ssl.SSLContext] | None = None) -> tuple[Report, FakeSMTP]:
    async with FakeSMTP(tls_context=ca.server_context(cert), hostname="mx.t.test", pipelining=True) as server:
        options = ProbeOptions(helo="probe.t.test", mx=(("127.0.0.1", server.port),), port=server.port,
                               timeout_s=3.0, deadline_s=15.0, tls_policies=False, starttls=starttls)
        report = await probe_domain("t.test", [parse_address("a@t.test")], options, tls_context_factory=factory)
    finish_report(report, [])
    return report, server


def trusting(ca: TestCA) -> Callable[[bool], ssl.SSLContext]:
    return lambda verify: client_context(verify=verify, cafile=str(ca.bundle_path))


def facts(report: Report) -> dict[str, Any]:
    """What the report says about TLS and the certificate: the session's tls object and the findings."""
    tls = report.sessions[-1].tls
    return {"tls": tls, "outcome": report.sessions[-1].outcome, "status": report.status,
            "findings": [(f.id, f.severity, f.message) for f in report.findings]}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("starttls", ["auto", "require"])
async def test_one_connection_and_the_same_report_as_the_reconnect(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, starttls: str) -> None:
    ca = TestCA(tmp_path)
    cert = CASES[case](ca)
    once, server = await run(ca, cert, starttls=starttls, factory=trusting(ca))
    assert len(server.connections) == 1 and server.connections[0].tls

    monkeypatch.setattr(starttls_module, "chain_readable", lambda: False)  # a Python without the chain
    before, old_server = await run(ca, cert, starttls=starttls, factory=trusting(ca))
    trusted = case in ("valid", "wrong-name")
    assert len(old_server.connections) == (1 if trusted else 2)
    assert facts(once) == facts(before)
    certificate = once.sessions[-1].tls["certificate"]  # type: ignore[index]
    assert certificate["trusted"] is trusted
    if starttls == "require" and not trusted:
        assert once.sessions[-1].outcome == "tls_failed" and not any(c.startswith("MAIL") for c in server.commands)


async def test_the_system_store_is_read_from_ssl_cert_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default factory verifies against ssl.get_default_verify_paths(): SSL_CERT_FILE names the store."""
    ca = TestCA(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.bundle_path))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-directory"))
    trusted, server = await run(ca, CASES["valid"](ca))
    tls = trusted.sessions[-1].tls
    assert tls is not None and tls["certificate"]["trusted"] is True and len(server.connections) == 1
    expired, server = await run(ca, CASES["expired"](ca))
    tls = expired.sessions[-1].tls
    assert tls is not None and tls["certificate"]["verify_error"] == "certificate has expired"
    assert len(server.connections) == 1
    assert [f.id for f in expired.findings if f.id.startswith("cert-")] == ["cert-expired"]
