"""mtasts: the _mta-sts record, the HTTPS policy (served on loopback), coverage, findings, and TLS-RPT."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from probe.model import Severity
from probe.testing.certs import TestCA
from probe.testing.fakehttps import FakePolicyServer, policy_text
from probe.tls.mtasts import (
    MAX_POLICY_BYTES,
    check_mta_sts,
    check_tls_rpt,
    covers,
    fetch_policy,
    mta_sts_findings,
    parse_policy,
    parse_sts_record,
    parse_tls_rpt,
    tls_rpt_findings,
)

ResolverFactory = Callable[..., Awaitable[Any]]  # the dns_resolver fixture
DOMAIN = "probe.test"
POLICY_HOST = f"mta-sts.{DOMAIN}"
GOOD_CERT = {"trusted": True, "hostname_match": True, "days_left": 80, "error": None}
STS = '_mta-sts TXT "v=STSv1; id=20240601T000000;"'
POLICY_A = "mta-sts A 127.0.0.1"  # the policy host, found through the run's resolver


def ids(findings: list[Any]) -> dict[str, Severity]:
    return {f.id: f.severity for f in findings}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---- the TXT record ------------------------------------------------------------------------------------


def test_sts_record_valid_and_others_ignored() -> None:
    assert parse_sts_record(["v=spf1 -all", "v=STSv1; id=abc123"]) == ("v=STSv1; id=abc123", "abc123", None)
    assert parse_sts_record(["v=spf1 -all"]) == (None, None, None)


def test_sts_record_problems() -> None:
    record, _, error = parse_sts_record(["v=STSv1; id=1", "v=STSv1; id=2"])
    assert record == "v=STSv1; id=1" and error and "2 v=STSv1 TXT records" in error
    assert parse_sts_record(["v=STSv1;"])[2] == "the id field is missing or not 1-32 letters and digits (RFC 8461 §3.1)"
    assert parse_sts_record(["v=STSv1; id=not-alnum!"])[2]
    assert parse_sts_record(["v=STSv1; id=" + "a" * 33])[2]


# ---- the policy text -----------------------------------------------------------------------------------


def test_parse_policy_valid() -> None:
    text = policy_text("enforce", ["mx1.probe.test", "*.backup.probe.test."], max_age=86400) + "future: x\r\n"
    policy, error = parse_policy(text)
    assert error is None
    assert policy == {"version": "STSv1", "mode": "enforce", "max_age": 86400,
                      "mx_patterns": ["mx1.probe.test", "*.backup.probe.test"]}


def test_parse_policy_lf_endings_and_mode_none_without_mx() -> None:
    policy, error = parse_policy("version: STSv1\nmode: none\nmax_age: 0\n")
    assert error is None and policy["mode"] == "none" and policy["mx_patterns"] == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("version: STSv1\nmode: enforce\nmax_age: 86400\n", "no mx patterns"),
        ("version: STSv1\nmode: strict\nmx: a.b\nmax_age: 86400\n", "mode 'strict'"),
        ("version: STSv1\nmode: testing\nmx: a.b\nmax_age: 99999999\n", "max_age '99999999'"),
        ("version: STSv1\nmode: testing\nmx: a.b\nmax_age: soon\n", "max_age 'soon'"),
        ("version: STSv2\nmode: testing\nmx: a.b\nmax_age: 1\n", "version is not STSv1"),
        ("<html>not a policy</html>", "version is not STSv1"),
    ],
)
def test_parse_policy_invalid(text: str, problem: str) -> None:
    _, error = parse_policy(text)
    assert error is not None and problem in error


@pytest.mark.parametrize(
    ("host", "patterns", "expected"),
    [
        ("mx1.probe.test", ["mx1.probe.test"], True),
        ("MX1.probe.test.", ["mx1.PROBE.test"], True),
        ("mx1.probe.test", ["*.probe.test"], True),
        ("a.mx1.probe.test", ["*.probe.test"], False),
        ("probe.test", ["*.probe.test"], False),
        ("mx1.probe.test", ["mx2.probe.test", "*.other.test"], False),
        ("mx1.probe.test", [], False),
    ],
)
def test_covers_rfc8461_wildcards(host: str, patterns: list[str], expected: bool) -> None:
    assert covers(host, patterns) is expected


# ---- fetching over HTTPS (loopback) --------------------------------------------------------------------


@pytest.fixture
async def policy_dns(dns_resolver: ResolverFactory) -> Any:
    """A resolver (FakeDNS) that knows mta-sts.probe.test as 127.0.0.1."""
    return await dns_resolver({"probe.test.": [POLICY_A]})


async def test_policy_host_is_resolved_with_the_runs_resolver(ca: TestCA, dns_resolver: ResolverFactory) -> None:
    """The policy host's name comes from the run's resolver (--resolver), never the system's."""
    body = policy_text("enforce", ["mx1.probe.test"])
    resolver = await dns_resolver({"probe.test.": [STS, POLICY_A], "nohost.test.": [STS]})
    async with FakePolicyServer(ca, DOMAIN, body=body) as web:
        result = await check_mta_sts(DOMAIN, resolver, ["mx1.probe.test"], timeout_s=1,
                                     cafile=str(ca.bundle_path), port=web.port)
    assert result["status"] == "ok" and result["covers"] == {"mx1.probe.test": True}
    missing = await check_mta_sts("nohost.test", resolver, ["mx1.nohost.test"], timeout_s=1, port=web.port)
    assert missing["status"] == "policy_error"
    assert missing["error"] == "cannot resolve mta-sts.nohost.test: no such name (NXDOMAIN)"


async def test_fetch_valid_policy_with_sni_and_host_header(ca: TestCA, policy_dns: Any) -> None:
    body = policy_text("enforce", ["mx1.probe.test"])
    async with FakePolicyServer(ca, DOMAIN, body=body) as web:
        text, error = await fetch_policy(DOMAIN, policy_dns, timeout_s=1, cafile=str(ca.bundle_path),
                                         port=web.port)
    assert (text, error) == (body, None)
    assert web.requests == [("GET /.well-known/mta-sts.txt HTTP/1.1", POLICY_HOST)]


async def test_redirect_is_not_followed(ca: TestCA, policy_dns: Any) -> None:
    async with FakePolicyServer(ca, DOMAIN, status=301, location="https://elsewhere.test/policy.txt") as web:
        text, error = await fetch_policy(DOMAIN, policy_dns, timeout_s=1, cafile=str(ca.bundle_path),
                                         port=web.port)
    assert text is None and error
    assert "HTTP 301 redirect to https://elsewhere.test/policy.txt" in error and "forbids following" in error
    assert len(web.requests) == 1


@pytest.mark.parametrize(
    ("server_options", "expected"),
    [
        ({"content_type": "text/html"}, "Content-Type is 'text/html', not text/plain"),
        ({"content_type": None}, "Content-Type is 'missing'"),
        ({"body": "x" * (MAX_POLICY_BYTES + 1)}, "larger than 64 KiB"),
        ({"status": 404}, "HTTP 404 Not Found"),
        ({"body": b"\xff\xfe bad"}, "not UTF-8"),
        ({"cert_names": ["www.probe.test"]}, "the certificate of mta-sts.probe.test is not valid: Hostname mismatch"),
        ({"expired": True}, "certificate has expired"),
    ],
)
async def test_fetch_errors(ca: TestCA, server_options: dict[str, Any], expected: str, policy_dns: Any) -> None:
    options = {"body": policy_text("enforce", ["mx1.probe.test"]), **server_options}
    async with FakePolicyServer(ca, DOMAIN, **options) as web:
        text, error = await fetch_policy(DOMAIN, policy_dns, timeout_s=1, cafile=str(ca.bundle_path),
                                         port=web.port)
    assert text is None and error and expected in error


async def test_fetch_untrusted_issuer_uses_the_system_store(ca: TestCA, policy_dns: Any) -> None:
    async with FakePolicyServer(ca, DOMAIN, body=policy_text("testing", ["mx1.probe.test"])) as web:
        text, error = await fetch_policy(DOMAIN, policy_dns, timeout_s=1, port=web.port)
    assert text is None and error and "unable to get local issuer certificate" in error


async def test_fetch_times_out_on_a_silent_server(policy_dns: Any) -> None:
    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        text, error = await fetch_policy(DOMAIN, policy_dns, timeout_s=0.3, port=port)
    finally:
        server.close()
        await server.wait_closed()
    assert text is None and error and error.startswith("TLS with mta-sts.probe.test failed") and "timed out" in error


async def test_fetch_connection_refused(policy_dns: Any) -> None:
    text, error = await fetch_policy(DOMAIN, policy_dns, timeout_s=1, port=closed_port())
    assert text is None and error and error.startswith("cannot connect to mta-sts.probe.test")


# ---- check_mta_sts: DNS + HTTPS + coverage + findings ----------------------------------------------------


async def test_enforce_policy_not_covering_an_mx_is_critical(ca: TestCA, dns_resolver: ResolverFactory) -> None:
    resolver = await dns_resolver({"probe.test.": [STS, POLICY_A]})
    async with FakePolicyServer(ca, DOMAIN, body=policy_text("enforce", ["mx1.probe.test"])) as web:
        result = await check_mta_sts(DOMAIN, resolver, ["mx1.probe.test", "mx2.probe.test"], timeout_s=1,
                                     cafile=str(ca.bundle_path),
                                         port=web.port)
    assert result["status"] == "ok" and result["error"] is None
    assert (result["mode"], result["max_age"], result["id"]) == ("enforce", 604800, "20240601T000000")
    assert result["covers"] == {"mx1.probe.test": True, "mx2.probe.test": False}
    found = mta_sts_findings(result, {"mx1.probe.test": GOOD_CERT})
    assert ids(found) == {"mta-sts-mx-not-covered": Severity.CRITICAL}
    assert found[0].subject == "mx2.probe.test" and "refuse to deliver" in found[0].message


async def test_enforce_with_untrusted_certificate_is_critical_testing_is_warning(
    ca: TestCA, dns_resolver: ResolverFactory
) -> None:
    resolver = await dns_resolver({"probe.test.": [STS, POLICY_A]})
    bad_cert = {"trusted": False, "verify_error": "self-signed certificate", "hostname_match": True, "days_left": 9}
    for mode, severity in (("enforce", Severity.CRITICAL), ("testing", Severity.WARNING)):
        async with FakePolicyServer(ca, DOMAIN, body=policy_text(mode, ["*.probe.test"])) as web:
            result = await check_mta_sts(DOMAIN, resolver, ["mx1.probe.test"], timeout_s=1,
                                         cafile=str(ca.bundle_path),
                                         port=web.port)
        found = mta_sts_findings(result, {"mx1.probe.test": bad_cert})
        assert ids(found) == {"mta-sts-cert-fails": severity}
        assert "self-signed certificate" in found[0].message
    assert mta_sts_findings(result, {"mx1.probe.test": None})[0].message.startswith(
        "MX mx1.probe.test would fail MTA-STS validation: it offered no STARTTLS")
    assert mta_sts_findings(result, {"mx1.probe.test": GOOD_CERT}) == []
    assert mta_sts_findings(result, {}) == []  # hosts not probed are judged on coverage only


async def test_no_record_means_no_fetch(ca: TestCA, dns_resolver: ResolverFactory) -> None:
    resolver = await dns_resolver({"probe.test.": ['@ TXT "v=spf1 -all"']})
    async with FakePolicyServer(ca, DOMAIN, body=policy_text("enforce", ["x.test"])) as web:
        result = await check_mta_sts(DOMAIN, resolver, ["mx1.probe.test"], timeout_s=1,
                                     cafile=str(ca.bundle_path),
                                         port=web.port)
    assert result["status"] == "absent" and result["record"] is None and result["mode"] is None
    assert web.requests == []
    assert mta_sts_findings(result, {}) == []


async def test_two_records_are_invalid(dns_resolver: ResolverFactory) -> None:
    resolver = await dns_resolver({"probe.test.": [STS, '_mta-sts TXT "v=STSv1; id=2;"']})
    result = await check_mta_sts(DOMAIN, resolver, ["mx1.probe.test"], timeout_s=1,
                                 port=closed_port())
    assert result["status"] == "record_invalid"
    assert ids(mta_sts_findings(result, {})) == {"mta-sts-record-invalid": Severity.WARNING}


async def test_record_without_reachable_policy_is_a_warning(dns_resolver: ResolverFactory) -> None:
    resolver = await dns_resolver({"probe.test.": [STS, POLICY_A]})
    result = await check_mta_sts(DOMAIN, resolver, ["mx1.probe.test"], timeout_s=1,
                                 port=closed_port())
    assert result["status"] == "policy_error" and result["error"].startswith("cannot connect")
    found = mta_sts_findings(result, {})
    assert ids(found) == {"mta-sts-policy-error": Severity.WARNING}
    assert "cached policy" in found[0].message


async def test_invalid_policy_is_reported(ca: TestCA, dns_resolver: ResolverFactory) -> None:
    resolver = await dns_resolver({"probe.test.": [STS, POLICY_A]})
    async with FakePolicyServer(ca, DOMAIN, body="version: STSv1\nmode: enforce\nmax_age: 600\n") as web:
        result = await check_mta_sts(DOMAIN, resolver, ["mx1.probe.test"], timeout_s=1,
                                     cafile=str(ca.bundle_path),
                                         port=web.port)
    assert result["status"] == "policy_invalid" and "no mx patterns" in result["error"]
    assert ids(mta_sts_findings(result, {})) == {"mta-sts-policy-invalid": Severity.WARNING}


async def test_txt_servfail_is_a_dns_error(dns_resolver: ResolverFactory) -> None:
    resolver = await dns_resolver({"probe.test.": [STS]}, servfail=["_mta-sts.probe.test."])
    result = await check_mta_sts(DOMAIN, resolver, ["mx1.probe.test"], timeout_s=1)
    assert result["status"] == "dns_error" and "SERVFAIL" in result["error"]
    assert ids(mta_sts_findings(result, {})) == {"mta-sts-dns-error": Severity.WARNING}


# ---- TLS-RPT -------------------------------------------------------------------------------------------


def test_parse_tls_rpt() -> None:
    good = parse_tls_rpt(["v=TLSRPTv1; rua=mailto:tls@probe.test,https://report.probe.test/tls"])
    assert good["valid"] and good["rua"] == ["mailto:tls@probe.test", "https://report.probe.test/tls"]
    assert parse_tls_rpt([]) == {"record": None, "valid": False, "rua": [], "error": None}
    assert "2 v=TLSRPTv1 records" in parse_tls_rpt(["v=TLSRPTv1; rua=mailto:a@b.c", "v=TLSRPTv1; rua=mailto:d@e.f"])[
        "error"]
    assert parse_tls_rpt(["v=TLSRPTv1;"])["error"] == "no rua= reporting address"
    bad = parse_tls_rpt(["v=TLSRPTv1; rua=http://insecure.test/x"])
    assert not bad["valid"] and "http://insecure.test/x" in bad["error"]


async def test_check_tls_rpt_over_dns(dns_resolver: ResolverFactory) -> None:
    resolver = await dns_resolver(
        {"probe.test.": ['_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@probe.test"'], "other.test.": []}
    )
    present = await check_tls_rpt(DOMAIN, resolver)
    assert present == {"record": "v=TLSRPTv1; rua=mailto:tls@probe.test", "valid": True,
                       "rua": ["mailto:tls@probe.test"], "error": None}
    absent = await check_tls_rpt("other.test", resolver)
    assert absent["record"] is None and absent["valid"] is False and absent["error"] is None
    refused = await check_tls_rpt("broken.test", resolver)  # a zone the server does not serve: REFUSED
    assert refused["valid"] is False and refused["error"].startswith("the _smtp._tls TXT lookup failed")


def test_tls_rpt_findings() -> None:
    assert tls_rpt_findings(parse_tls_rpt(["v=TLSRPTv1; rua=mailto:a@b.c"])) == []
    assert ids(tls_rpt_findings(parse_tls_rpt([]))) == {"tls-rpt-absent": Severity.INFO}
    assert ids(tls_rpt_findings(parse_tls_rpt(["v=TLSRPTv1; rua=ftp://x"]))) == {"tls-rpt-invalid": Severity.WARNING}
    assert tls_rpt_findings(None) == []
