"""tlsinfo: contexts, certificate description, findings and the one-line verdicts."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Awaitable, Callable

import pytest

from probe.model import Severity
from probe.testing.certs import TestCA, self_signed
from probe.tls.certificates import (
    certificate_findings,
    client_context,
    describe_certificate,
    domain_transport_summary,
    handshake_facts,
    name_matches,
    starttls_findings,
    tls_from_session,
    tls_object,
    transport_summary,
    verify_failure,
)

TLSServerFactory = Callable[[ssl.SSLContext], Awaitable[int]]  # the tls_server fixture

MX = "mx1.probe.test"


async def handshake(port: int, context: ssl.SSLContext) -> tuple[str | None, str | None, bytes | None]:
    """Connect like the SMTP session does after STARTTLS; return (version, cipher, DER)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=MX)
    try:
        await reader.readline()
        return handshake_facts(writer.get_extra_info("ssl_object"))
    finally:
        writer.close()


def ids(findings: list) -> dict[str, Severity]:  # type: ignore[type-arg]
    return {f.id: f.severity for f in findings}


# ---- contexts and the real handshake path --------------------------------------------------------------


def test_client_context_modes() -> None:
    strict, lax = client_context(verify=True), client_context(verify=False)
    assert strict.verify_mode == ssl.CERT_REQUIRED and not strict.check_hostname
    assert lax.verify_mode == ssl.CERT_NONE and not lax.check_hostname
    assert strict.minimum_version == lax.minimum_version == ssl.TLSVersion.TLSv1_2


async def test_verifying_handshake_with_the_test_ca_is_trusted(ca: TestCA, tls_server: TLSServerFactory) -> None:
    port = await tls_server(ca.server_context(ca.issue(MX)))
    version, cipher, der = await handshake(port, client_context(verify=True, cafile=str(ca.bundle_path)))
    assert version in ("TLSv1.2", "TLSv1.3") and cipher
    cert = describe_certificate(der, mx_host=MX, trusted=True, verify_error=None)
    assert cert["names"] == [MX] and cert["hostname_match"] and not cert["self_signed"]
    assert "smtp-probe Test CA" in cert["issuer"]
    assert certificate_findings(MX, cert) == []


async def test_system_store_rejects_the_test_ca_with_openssl_reason(ca: TestCA, tls_server: TLSServerFactory) -> None:
    port = await tls_server(ca.server_context(ca.issue(MX)))
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        await handshake(port, client_context(verify=True))
    reason = verify_failure(failure.value)
    assert reason == "unable to get local issuer certificate"
    # the non-verifying pass still collects the certificate: an untrusted certificate is a finding, not a failure
    _, _, der = await handshake(port, client_context(verify=False))
    cert = describe_certificate(der, mx_host=MX, trusted=False, verify_error=reason)
    found = certificate_findings(MX, cert)
    assert ids(found) == {"cert-untrusted": Severity.WARNING}
    assert "unable to get local issuer certificate" in found[0].message
    assert "MTA-STS would refuse" in found[0].message and "opportunistic senders still deliver" in found[0].message


async def test_self_signed_server_reason_and_finding(ca: TestCA, tls_server: TLSServerFactory) -> None:
    port = await tls_server(ca.server_context(self_signed(MX)))
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        await handshake(port, client_context(verify=True, cafile=str(ca.bundle_path)))
    assert verify_failure(failure.value) == "self-signed certificate"
    _, _, der = await handshake(port, client_context(verify=False))
    cert = describe_certificate(der, mx_host=MX, trusted=False, verify_error="self-signed certificate")
    assert cert["self_signed"] is True
    assert ids(certificate_findings(MX, cert)) == {"cert-self-signed": Severity.WARNING}


async def test_expired_server_reason_and_finding(ca: TestCA, tls_server: TLSServerFactory) -> None:
    port = await tls_server(ca.server_context(ca.issue(MX, expired=True)))
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        await handshake(port, client_context(verify=True, cafile=str(ca.bundle_path)))
    reason = verify_failure(failure.value)
    assert reason == "certificate has expired"
    _, _, der = await handshake(port, client_context(verify=False))
    cert = describe_certificate(der, mx_host=MX, trusted=False, verify_error=reason)
    assert cert["days_left"] < 0
    # not also "untrusted"; WARNING by default, CRITICAL with a critical threshold (--cert-critical)
    assert ids(certificate_findings(MX, cert)) == {"cert-expired": Severity.WARNING}
    assert ids(certificate_findings(MX, cert, critical_days=0)) == {"cert-expired": Severity.CRITICAL}


def test_verify_failure_of_other_errors() -> None:
    assert verify_failure(ConnectionResetError("Connection reset by peer")) == "Connection reset by peer"
    assert verify_failure(TimeoutError()) == "TimeoutError"


def test_handshake_facts_without_tls() -> None:
    assert handshake_facts(None) == (None, None, None)


# ---- describe_certificate -----------------------------------------------------------------------------


def test_describe_valid_certificate_fields(ca: TestCA) -> None:
    now = dt.datetime.now(dt.UTC)
    issued = ca.issue([MX, "mx2.probe.test"], days=90, not_before=now - dt.timedelta(days=7))
    cert = describe_certificate(issued.der, mx_host="MX1.Probe.Test.", trusted=True, verify_error=None, now=now)
    assert cert["subject"] == f"CN={MX}"
    assert cert["names"] == [MX, "mx2.probe.test"]
    assert cert["days_left"] == 82
    assert cert["not_after"].endswith("Z") and cert["not_before"].endswith("Z")
    assert cert["hostname_match"] is True and cert["trusted"] is True and cert["error"] is None
    assert cert["key_type"] == "EC secp256r1" and cert["key_bits"] == 256
    assert len(cert["sha256"]) == 64


def test_describe_rsa_key_and_wrong_name(ca: TestCA) -> None:
    cert = describe_certificate(ca.issue("other.example", rsa_bits=2048).der, mx_host=MX, trusted=True,
                                verify_error=None)
    assert (cert["key_type"], cert["key_bits"]) == ("RSA", 2048)
    assert cert["hostname_match"] is False
    found = certificate_findings(MX, cert)
    assert ids(found) == {"cert-name-mismatch": Severity.WARNING}
    assert "other.example" in found[0].message


def test_wildcard_certificate_matches_one_label(ca: TestCA) -> None:
    der = ca.issue("*.probe.test").der
    assert describe_certificate(der, mx_host=MX, trusted=True, verify_error=None)["hostname_match"] is True
    assert describe_certificate(der, mx_host="a.mx1.probe.test", trusted=True, verify_error=None)[
        "hostname_match"] is False
    assert describe_certificate(der, mx_host="probe.test", trusted=True, verify_error=None)["hostname_match"] is False


def test_ip_literal_mx_matches_ip_san(ca: TestCA) -> None:
    der = ca.issue(["127.0.0.1"]).der
    assert describe_certificate(der, mx_host="127.0.0.1", trusted=True, verify_error=None)["hostname_match"] is True
    assert describe_certificate(der, mx_host="127.0.0.2", trusted=True, verify_error=None)["hostname_match"] is False


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("mx.example.com", "MX.example.com.", True),
        ("*.example.com", "mx.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.com", "example.com", False),
        ("mx*.example.com", "mx1.example.com", False),
        ("", "example.com", False),
    ],
)
def test_name_matches_rfc6125(pattern: str, host: str, expected: bool) -> None:
    assert name_matches(pattern, host) is expected


@pytest.mark.parametrize("garbage", [b"", b"\x00\x01not a certificate", b"0\x82\x01\x00" + b"\xff" * 40])
def test_garbage_der_gives_error_not_traceback(garbage: bytes) -> None:
    cert = describe_certificate(garbage, mx_host=MX, trusted=False, verify_error="x")
    assert cert["error"]
    assert ids(certificate_findings(MX, cert)) == {"cert-unreadable": Severity.WARNING}


def test_no_certificate_at_all() -> None:
    cert = describe_certificate(None, mx_host=MX, trusted=None, verify_error=None)
    assert cert["error"] == "the server presented no certificate"
    assert certificate_findings(MX, None) == []


# ---- expiry windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("days_left", "expected"), [(40, None), (20, Severity.WARNING), (5, Severity.CRITICAL)])
def test_expiry_windows(ca: TestCA, days_left: int, expected: Severity | None) -> None:
    now = dt.datetime.now(dt.UTC)
    der = ca.issue(MX, days=days_left, not_before=now).der
    cert = describe_certificate(der, mx_host=MX, trusted=True, verify_error=None, now=now + dt.timedelta(hours=1))
    found = ids(certificate_findings(MX, cert, warning_days=30, critical_days=7))
    assert found == ({} if expected is None else {"cert-expiring": expected})


# ---- tls_object and the verdict lines ------------------------------------------------------------------


def test_tls_object_shape() -> None:
    obj = tls_object("TLSv1.3", ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 256), {"names": [MX]})
    assert obj == {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "certificate": {"names": [MX]},
                   "error": None}


def test_transport_summary_all_good(ca: TestCA) -> None:
    now = dt.datetime.now(dt.UTC)
    cert = describe_certificate(ca.issue(MX, days=84, not_before=now).der, mx_host=MX, trusted=True,
                                verify_error=None, now=now + dt.timedelta(hours=1))
    line = transport_summary(
        tls_object("TLSv1.3", "TLS_AES_128_GCM_SHA256", cert),
        {"status": "ok", "mode": "enforce", "covers": {MX: True}},
        {"records": 0, "dnssec": False, "match": None, "error": None},
        {"record": "v=TLSRPTv1; rua=mailto:t@probe.test", "valid": True},
        mx_host=MX,
    )
    assert line == ("STARTTLS ok (TLSv1.3), certificate valid 83 days, MTA-STS enforce covers this MX, "
                    "DANE absent, TLS-RPT present")


def test_transport_summary_problems() -> None:
    cert = {"trusted": False, "verify_error": "self-signed certificate", "self_signed": True,
            "hostname_match": False, "days_left": 10, "error": None}
    line = transport_summary(
        tls_object("TLSv1.2", "ECDHE", cert),
        {"status": "ok", "mode": "enforce", "covers": {MX: False}},
        {"records": 1, "dnssec": True, "match": False, "error": None},
        {"record": None, "valid": False, "error": None},
        mx_host=MX,
    )
    assert line == ("STARTTLS ok (TLSv1.2), certificate self-signed, name mismatch, MTA-STS enforce does NOT cover "
                    "this MX, DANE MISMATCH, TLS-RPT absent")
    assert transport_summary(None, None, None, None, mx_host=MX).startswith("no STARTTLS, MTA-STS not checked")
    failed = transport_summary(tls_object(None, None, None, error="handshake failure"), {"status": "absent"},
                               {"records": 2, "dnssec": False}, None, mx_host=MX)
    assert failed == ("STARTTLS failed (handshake failure), MTA-STS absent, "
                      "DANE records unvalidated (resolver does not validate DNSSEC), TLS-RPT not checked")


def test_domain_transport_summary() -> None:
    good = {"trusted": True, "hostname_match": True, "self_signed": False, "days_left": 83, "error": None}
    soon = dict(good, days_left=20)
    line = domain_transport_summary(
        {"mx1.probe.test": tls_object("TLSv1.3", "x", good), "mx2.probe.test": tls_object("TLSv1.3", "x", soon)},
        {"status": "ok", "mode": "enforce", "covers": {"mx1.probe.test": True, "mx2.probe.test": True}},
        {"mx1.probe.test": {"records": 0}, "mx2.probe.test": {"records": 0}},
        {"record": "v=TLSRPTv1; rua=mailto:a@b.c", "valid": True},
    )
    assert line == ("STARTTLS on 2 of 2 MX, certificates valid (the soonest expires in 20 days), "
                    "MTA-STS enforce covers both MX, DANE absent, TLS-RPT present")
    partial = domain_transport_summary(
        {"mx1.probe.test": tls_object("TLSv1.3", "x", dict(good, trusted=False, verify_error="bad")),
         "mx2.probe.test": None},
        {"status": "ok", "mode": "testing", "covers": {"mx1.probe.test": True, "mx2.probe.test": False}},
        {"mx1.probe.test": {"records": 1, "dnssec": True, "match": True}, "mx2.probe.test": None},
        None,
    )
    assert partial == ("STARTTLS on 1 of 2 MX, certificate problems on mx1.probe.test, "
                       "MTA-STS testing covers 1 of 2 MX, DANE matches on 1 of 2 MX, TLS-RPT not checked")


def test_summary_when_trust_was_not_checked() -> None:
    cert = {"trusted": None, "verify_error": None, "self_signed": False, "hostname_match": True, "days_left": 50,
            "error": None}
    line = transport_summary(tls_object("TLSv1.3", "x", cert), None, None, None, mx_host=MX)
    assert line.startswith("STARTTLS ok (TLSv1.3), certificate 50 days left (trust not checked), ")


@pytest.mark.parametrize(
    ("offered", "session_tls", "mode", "expected"),
    [
        (False, None, "require", {"starttls-missing": Severity.CRITICAL}),
        (False, None, "auto", {"starttls-missing": Severity.INFO}),
        (False, None, "never", {}),
        (True, tls_object(None, None, None, error="certificate has expired"), "require",
         {"starttls-failed": Severity.CRITICAL}),
        (True, tls_object(None, None, None, error="wrong version number"), "auto", {"starttls-failed": Severity.INFO}),
        (True, tls_object("TLSv1.3", "x", None), "require", {}),
    ],
)
def test_starttls_findings(offered: bool, session_tls: dict | None, mode: str,  # type: ignore[type-arg]
                           expected: dict[str, Severity]) -> None:
    found = starttls_findings(MX, session_tls, offered=offered, mode=mode)
    assert ids(found) == expected
    if session_tls and session_tls.get("error"):
        assert session_tls["error"] in found[0].message


def test_tls_from_session_raw_facts(ca: TestCA) -> None:
    der = self_signed(MX).der
    raw = {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "der": der, "verified": False,
           "verify_error": "self-signed certificate"}
    tls = tls_from_session(raw, mx_host=MX)
    assert tls is not None and tls["version"] == "TLSv1.3" and tls["error"] is None
    assert tls["certificate"]["trusted"] is False and tls["certificate"]["self_signed"] is True
    assert tls["certificate"]["verify_error"] == "self-signed certificate"
    assert tls_from_session(None, mx_host=MX) is None
    assert tls_from_session(None, mx_host=MX, error="wrong version number") == {
        "version": None, "cipher": None, "certificate": None, "error": "wrong version number"}
