"""Transport security end to end: probe_domain with tls_policies=True against loopback DNS (FakeDNS), SMTP
(FakeSMTP with STARTTLS) and an HTTPS policy server (FakePolicyServer), through the real resolver.

mta-sts.<domain> is found through the run's resolver (never the system's). The policy server's CA is trusted
the way a user would (SSL_CERT_FILE) and its port is the one test-only knob (probe.tls.mtasts.HTTPS_PORT).
"""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.dns import resolve
from probe.inputs import parse_address
from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Finding, ProbeOptions, Reason, Report, Severity
from probe.render.json import report_json
from probe.render.text import render_text
from probe.run.probe import probe_domain
from probe.testing.certs import IssuedCert, TestCA, self_signed
from probe.testing.fakedns import FakeDNS
from probe.testing.fakehttps import FakePolicyServer, policy_text
from probe.testing.fakesmtp import FakeSMTP
from probe.tls import mtasts
from probe.tls.certificates import client_context

DOMAIN = "t.test"
MX1, MX2 = f"mx1.{DOMAIN}", f"mx2.{DOMAIN}"
STS = '_mta-sts TXT "v=STSv1; id=20240601;"'
RPT = '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@t.test"'


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("transport-ca"))


def spki_sha256(der: bytes) -> str:
    key = x509.load_der_x509_certificate(der).public_key()
    return hashlib.sha256(key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def server_context(issued: IssuedCert, directory: Path) -> ssl.SSLContext:
    cert, key = directory / "leaf.crt", directory / "leaf.key"
    cert.write_bytes(issued.cert_pem)
    key.write_bytes(issued.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class World:
    """One test's loopback internet: the MX (both MX names point at one FakeSMTP), DNS and the policy."""

    ca: TestCA
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    servers: list[Any] = field(default_factory=list)

    async def smtp(self, cert: IssuedCert | None = None, **script: Any) -> FakeSMTP:
        context = server_context(cert, self.tmp) if cert is not None else None
        server = await FakeSMTP(hostname=MX1, tls_context=context, pipelining=True, **script).start()
        self.servers.append(server)
        return server

    async def policy(self, **options: Any) -> FakePolicyServer:
        web = FakePolicyServer(self.ca, DOMAIN, **options)
        await web.start()
        self.servers.append(web)
        self.monkeypatch.setattr(mtasts, "HTTPS_PORT", web.port)
        self.monkeypatch.setenv("SSL_CERT_FILE", str(self.ca.bundle_path))  # trusted as a user would
        return web

    async def probe(self, server: FakeSMTP, records: list[str], *, secure: tuple[str, ...] = (),
                    **options: Any) -> Report:
        zone = "\n".join(["$ORIGIN t.test.", "$TTL 60", "@ SOA ns.t.test. hostmaster.t.test. 1 3600 600 86400 60",
                          "@ MX 10 mx1", "@ MX 20 mx2", "mx1 A 127.0.0.1", "mx2 A 127.0.0.1", *records]) + "\n"
        dns = FakeDNS({"t.test.": zone}, secure=secure)
        await dns.start()
        self.servers.append(dns)
        opts = ProbeOptions(helo="probe.t.test", port=server.port, timeout_s=2.0, deadline_s=15.0,
                            tls_policies=True, **options)
        resolver = resolve.make_resolver([(dns.host, dns.port)], timeout_s=1.0)
        trusting: Callable[[bool], ssl.SSLContext] = lambda verify: client_context(  # noqa: E731
            verify=verify, cafile=str(self.ca.bundle_path))
        report = await probe_domain(DOMAIN, [parse_address("a@t.test")], opts, resolver=resolver,
                                    tls_context_factory=trusting)
        assert not any(c.upper().startswith(("DATA", "BDAT")) for c in server.commands), "DATA was sent"
        return report


@pytest.fixture
async def world(ca: TestCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    w = World(ca, tmp_path, monkeypatch)
    yield w
    for server in reversed(w.servers):
        if isinstance(server, FakeSMTP):
            await server.stop()
        elif isinstance(server, FakeDNS):
            await server.aclose()
        else:
            server.close()


def found(report: Report) -> dict[str, Finding]:
    return {f"{f.id}@{f.subject}" if f.subject else f.id: f for f in report.findings}


def tlsa(port: int, usage: int, selector: int, mtype: int, data: str) -> str:
    return f"_{port}._tcp.mx1 TLSA {usage} {selector} {mtype} {data}"


# ---- MTA-STS and TLS-RPT -----------------------------------------------------------------------------------


async def test_enforce_policy_not_covering_mx2_is_critical_and_the_domain_line_says_so(
        world: World, ca: TestCA) -> None:
    server = await world.smtp(ca.issue([MX1]))
    web = await world.policy(body=policy_text("enforce", [MX1]))
    report = await world.probe(server, [STS, RPT, "mta-sts A 127.0.0.1"])
    assert report.status is DomainStatus.ACCEPTS_MAIL
    assert web.requests == [("GET /.well-known/mta-sts.txt HTTP/1.1", f"mta-sts.{DOMAIN}")]
    assert report.mta_sts is not None and report.mta_sts["covers"] == {MX1: True, MX2: False}
    f = found(report)
    assert f[f"mta-sts-mx-not-covered@{MX2}"].severity is Severity.CRITICAL
    assert not any(k.startswith(("mta-sts-cert", "cert-", "starttls-", "tls-rpt")) for k in f), f
    assert report.transport is not None
    domain_line = report.transport["domain"]
    assert "MTA-STS enforce covers 1 of 2 MX" in domain_line and "covers this MX" not in domain_line
    assert "TLS-RPT present" in domain_line
    assert "MTA-STS enforce covers this MX" in report.transport["hosts"][MX1]
    assert "DANE absent" in report.transport["hosts"][MX1] and "DANE absent" in domain_line


async def test_enforce_policy_covering_every_mx(world: World, ca: TestCA) -> None:
    server = await world.smtp(ca.issue([MX1]))
    await world.policy(body=policy_text("enforce", [f"*.{DOMAIN}"]))
    report = await world.probe(server, [STS, "mta-sts A 127.0.0.1"])
    assert report.mta_sts is not None and report.mta_sts["covers"] == {MX1: True, MX2: True}
    f = found(report)
    assert not any(k.startswith("mta-sts") for k in f) and "tls-rpt-absent" in f
    assert report.transport is not None and "MTA-STS enforce covers both MX" in report.transport["domain"]
    assert "TLS-RPT absent" in report.transport["domain"]


@pytest.mark.parametrize(
    ("records", "web_options", "error"),
    [
        (["mta-sts A 127.0.0.1"], {"status": 404}, "HTTP 404 Not Found"),
        (["mta-sts A 127.0.0.1"], {"cert_names": ["www.t.test"]}, "Hostname mismatch"),
        ([], {}, "cannot resolve mta-sts.t.test: no such name (NXDOMAIN)"),  # asked of --resolver, not the system
    ],
)
async def test_policy_fetch_errors_are_warnings(world: World, ca: TestCA, records: list[str],
                                                web_options: dict[str, Any], error: str) -> None:
    server = await world.smtp(ca.issue([MX1]))
    await world.policy(body=policy_text("enforce", [MX1]), **web_options)
    report = await world.probe(server, [STS, RPT, *records])
    assert report.mta_sts is not None and report.mta_sts["status"] == "policy_error"
    assert error in report.mta_sts["error"]
    assert found(report)["mta-sts-policy-error"].severity is Severity.WARNING
    assert report.status is DomainStatus.ACCEPTS_MAIL


# ---- certificates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_cert", "finding", "severity"),
    [
        (lambda ca: self_signed([MX1]), "cert-self-signed", Severity.WARNING),
        (lambda ca: ca.issue([MX1], expired=True), "cert-expired", Severity.WARNING),
        (lambda ca: ca.issue(["other.t.test"]), "cert-name-mismatch", Severity.WARNING),
    ],
)
async def test_certificate_problems(world: World, ca: TestCA, make_cert: Callable[[TestCA], IssuedCert],
                                    finding: str, severity: Severity) -> None:
    server = await world.smtp(make_cert(ca))
    report = await world.probe(server, [])
    session = report.sessions[0]
    assert session.outcome == "completed" and session.tls is not None and session.tls["certificate"]
    assert found(report)[f"{finding}@{MX1}"].severity is severity
    assert report.mta_sts is not None and report.mta_sts["status"] == "absent"


@pytest.mark.parametrize(("cover", "severity", "exit_code"), [
    (None, Severity.WARNING, ExitCode.WARNING),  # nobody authenticates the MX: a WARNING
    ("mta-sts", Severity.CRITICAL, ExitCode.CRITICAL),  # MTA-STS enforce covers it
    ("dane", Severity.CRITICAL, ExitCode.CRITICAL),  # DANE (DNSSEC-signed TLSA) covers it
])
async def test_a_certificate_problem_is_critical_where_mta_sts_enforce_or_dane_covers_the_mx(
        world: World, ca: TestCA, cover: str | None, severity: Severity, exit_code: ExitCode) -> None:
    issued = ca.issue([MX1], expired=True)
    server = await world.smtp(issued)
    records: list[str] = []
    secure: tuple[str, ...] = ()
    if cover == "mta-sts":
        await world.policy(body=policy_text("enforce", [f"*.{DOMAIN}"]))
        records = [STS, "mta-sts A 127.0.0.1"]
    elif cover == "dane":
        records = [tlsa(server.port, 3, 1, 1, spki_sha256(issued.der))]
        secure = (f"_{server.port}._tcp.{MX1}.",)
    report = await world.probe(server, records, secure=secure)
    health = finish_report(report)
    expired = found(report)[f"cert-expired@{MX1}"]
    assert expired.severity is severity
    # the line and the exit code agree in every format
    assert health.exit_code is exit_code and report.exit_code is exit_code
    text = render_text(report, health=health)
    assert f"{severity:<8} The certificate of {MX1} expired" in text
    assert [line for line in text.splitlines() if line.startswith(("OK:", "WARNING:", "CRITICAL:"))] == [
        next(line for line in text.splitlines() if line.startswith(f"{exit_code.name}:"))]
    assert next(c for c in health.checks if c.name == "finding cert-expired").status is exit_code
    assert next(c for c in health.checks if c.name == "certificate" and c.mx == MX1).status is exit_code


async def test_certificate_trusted_through_the_test_ca(world: World, ca: TestCA) -> None:
    server = await world.smtp(ca.issue([MX1]))
    report = await world.probe(server, [RPT])
    tls = report.sessions[0].tls
    assert tls is not None and tls["error"] is None and tls["version"]
    assert tls["certificate"]["trusted"] is True and tls["certificate"]["hostname_match"] is True
    assert not any(f.id.startswith(("cert-", "starttls-")) for f in report.findings)
    assert report.transport is not None and "certificate valid" in report.transport["hosts"][MX1]


async def test_an_untrusted_certificate_on_a_working_session_is_not_called_a_handshake_failure(world: World) -> None:
    """Opportunistic STARTTLS with a self-signed certificate: the handshake succeeded and the session went on,
    so the step says the session is up and the certificate untrusted, a WARNING, never "TLS handshake"."""
    server = await world.smtp(self_signed([MX1]))
    report = await world.probe(server, [])
    assert report.sessions[0].outcome == "completed"
    step = next(s for s in json.loads(report_json(report))["sessions"][0]["steps"] if s["context"] == "tls")
    assert step["text"].startswith("TLS session up (TLSv1.3); certificate untrusted: self-signed certificate")
    assert step["severity"] == "warning" and "handshake" not in step["remediation"]
    assert step["meaning"].startswith("The server's certificate is not trusted")
    transcript = render_text(report, verbose=True, width=200)
    assert "!! TLS session up (TLSv1.3); certificate untrusted: self-signed certificate" in transcript
    assert "TLS handshake" not in transcript


async def test_require_with_an_untrusted_certificate_keeps_it_and_is_critical(world: World) -> None:
    server = await world.smtp(self_signed([MX1]))
    report = await world.probe(server, [], starttls="require")
    session = report.sessions[0]
    assert session.outcome == "tls_failed" and "MAIL" not in " ".join(server.commands)
    assert session.tls is not None and session.tls["certificate"]["self_signed"] is True
    starttls = found(report)[f"starttls-failed@{MX1}"]
    assert starttls.severity is Severity.CRITICAL
    assert starttls.message.startswith("The probe stopped at ")


# ---- DANE ----------------------------------------------------------------------------------------------------


async def test_dane_ee_match_and_mismatch_with_the_ad_bit(world: World, ca: TestCA) -> None:
    leaf = ca.issue([MX1])
    server = await world.smtp(leaf)
    name = f"_{server.port}._tcp.{MX1}"
    good = await world.probe(server, [tlsa(server.port, 3, 1, 1, spki_sha256(leaf.der))], secure=(name,))
    dane = good.sessions[0].dane
    assert dane is not None and (dane["records"], dane["dnssec"], dane["match"]) == (1, True, True)
    assert not any(f.id.startswith("dane") for f in good.findings)
    assert good.transport is not None and "DANE matches" in good.transport["hosts"][MX1]
    bad = await world.probe(server, [tlsa(server.port, 3, 1, 1, "00" * 32)], secure=(name,))
    assert found(bad)[f"dane-mismatch@{MX1}"].severity is Severity.CRITICAL
    unsigned = await world.probe(server, [tlsa(server.port, 3, 1, 1, "00" * 32)])
    assert found(unsigned)[f"dane-unvalidated@{MX1}"].severity is Severity.INFO


async def test_dane_ta_matches_the_issuing_ca_in_the_chain(world: World, ca: TestCA) -> None:
    leaf = ca.issue([MX1])
    directory = world.tmp / "chain"
    directory.mkdir()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    (directory / "chain.pem").write_bytes(leaf.cert_pem + ca.certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "leaf.key").write_bytes(leaf.key_pem)
    context.load_cert_chain(directory / "chain.pem", directory / "leaf.key")
    server = await FakeSMTP(hostname=MX1, tls_context=context).start()
    world.servers.append(server)
    name = f"_{server.port}._tcp.{MX1}"
    report = await world.probe(server, [tlsa(server.port, 2, 0, 1, hashlib.sha256(ca.der).hexdigest())],
                               secure=(name,))
    dane = report.sessions[0].dane
    assert dane is not None and dane["dnssec"] is True
    assert dane["match"] is True, dane  # Python 3.11+: the chain comes from the (private) unverified chain
    assert not any(f.id.startswith("dane") for f in report.findings)
    wrong = await world.probe(server, [tlsa(server.port, 2, 0, 1, "11" * 32)], secure=(name,))
    assert wrong.sessions[0].dane is not None and wrong.sessions[0].dane["match"] is False
    assert found(wrong)[f"dane-mismatch@{MX1}"].severity is Severity.CRITICAL


@pytest.mark.parametrize("script", [{}, {"starttls_reply": "454 4.7.0 TLS not available"}])
async def test_signed_tlsa_without_starttls_is_critical(world: World, ca: TestCA, script: dict[str, Any]) -> None:
    cert = ca.issue([MX1]) if script else None  # offered but refused (454), or not offered at all
    server = await world.smtp(cert, **script)
    name = f"_{server.port}._tcp.{MX1}"
    report = await world.probe(server, [tlsa(server.port, 3, 1, 1, "00" * 32)], secure=(name,))
    assert report.status is DomainStatus.ACCEPTS_MAIL and report.sessions[0].outcome == "completed"
    no_tls = found(report)[f"dane-no-tls@{MX1}"]
    assert no_tls.severity is Severity.CRITICAL and "a DANE sender will not deliver to this host" in no_tls.message
    assert report.sessions[0].dane is not None and report.sessions[0].dane["records"] == 1
    if script:
        assert f"starttls-refused@{MX1}" in found(report)


# ---- an IP literal as MX (issue 11 defect 8) ---------------------------------------------------------------

async def test_an_ip_literal_mx_gets_neither_mta_sts_nor_dane_said_once(world: World, ca: TestCA) -> None:
    server = await world.smtp(ca.issue([MX1]))
    await world.policy(body=policy_text("enforce", [MX1]))
    report = await world.probe(server, [STS, RPT, "mta-sts A 127.0.0.1", tlsa(25, 3, 1, 1, "00" * 32)],
                               mx=(("127.0.0.1", server.port),))
    dns = next(s for s in world.servers if isinstance(s, FakeDNS))
    assert not [q for q in dns.queries if q[1] == "TLSA"], dns.queries  # no _25._tcp.127.0.0.1
    ids = [f.id for f in report.findings]
    assert not [i for i in ids if i.startswith(("mta-sts", "dane"))], ids
    assert report.mta_sts is None and all(s.dane is None for s in report.sessions)
    assert report.transport is not None
    line = report.transport["hosts"]["127.0.0.1"]
    assert "MTA-STS and DANE not applicable (an IP address, not an MX host name)" in line
    assert line.count("MTA-STS") == 1 and line.count("DANE") == 1
    text = render_text(report)
    assert text.count("not applicable") == 1 and "_25._tcp" not in text
    assert "MTA-STS" not in report.transport["domain"] and "DANE" not in report.transport["domain"]


async def test_a_named_mx_beside_an_ip_literal_keeps_its_policies(world: World, ca: TestCA) -> None:
    server = await world.smtp(ca.issue([MX1]))
    await world.policy(body=policy_text("enforce", [MX1]))
    report = await world.probe(server, [STS, RPT, "mta-sts A 127.0.0.1"],
                               mx=((MX1, server.port), ("127.0.0.1", server.port)), all_mx=True)
    assert report.mta_sts is not None and report.mta_sts["covers"] == {MX1: True}
    assert not any(f.id == "mta-sts-mx-not-covered" for f in report.findings)
    assert report.transport is not None
    assert "MTA-STS enforce covers this MX" in report.transport["hosts"][MX1]
    assert "not applicable" in report.transport["hosts"]["127.0.0.1"]
    domain_line = report.transport["domain"]
    assert "MTA-STS enforce covers" in domain_line and "NOT" not in domain_line


async def test_no_starttls_is_advice_unless_mta_sts_enforce_covers_the_mx(world: World, ca: TestCA) -> None:
    server = await world.smtp()  # no STARTTLS at all
    plain = await world.probe(server, [])
    assert found(plain)[f"starttls-missing@{MX1}"].severity is Severity.INFO
    assert next(c for c in finish_report(plain).checks if c.name == "finding starttls-missing").status is ExitCode.OK
    await world.policy(body=policy_text("enforce", [f"*.{DOMAIN}"]))
    enforced = await world.probe(server, [STS, "mta-sts A 127.0.0.1"])
    assert found(enforced)[f"starttls-missing@{MX1}"].severity is Severity.CRITICAL
    assert finish_report(enforced).exit_code is ExitCode.CRITICAL


# ---- a host that demands STARTTLS of a session in plain text -----------------------------------------------

_MUST_STARTTLS = "530 5.7.0 Must issue a STARTTLS command first"  # Postfix smtpd.c, smtpd_tls_security_level = encrypt


@pytest.mark.parametrize(("script", "why", "finding", "severity"), [
    ({"starttls_reply": "454 4.7.0 TLS not available due to local problem"},  # Postfix smtpd.c
     "it refused the probe's STARTTLS (454 4.7.0 TLS not available due to local problem)", "starttls-refused",
     Severity.WARNING),
    ({}, "it does not offer STARTTLS", "starttls-missing", Severity.CRITICAL),
])
async def test_a_demand_for_starttls_says_why_the_session_was_plain(
        world: World, ca: TestCA, script: dict[str, Any], why: str, finding: str, severity: Severity) -> None:
    """A 530 'Must issue a STARTTLS command first' to MAIL in a session that could not use TLS: the host refused
    this client, the summary and the advice say why the session was in plain text, and the STARTTLS finding
    does not claim that senders fall back to clear text (the lab tests --starttls never and a failed handshake
    against a real Postfix)."""
    server = await world.smtp(ca.issue([MX1]) if script else None, mail=_MUST_STARTTLS, **script)
    report = await world.probe(server, [])
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.TLS_REQUIRED)
    assert f"takes mail only over STARTTLS, and {why}" in report.summary
    (address,) = report.addresses
    assert address.remediation.startswith(f"{MX1} takes mail only over STARTTLS, and {why}")
    assert "--starttls" not in address.remediation
    tls = found(report)[f"{finding}@{MX1}"]
    assert tls.severity is severity and _MUST_STARTTLS in tls.message and "fall back" not in tls.message
