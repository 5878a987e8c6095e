"""dane: TLSA matching (usages, selectors, matching types), the AD bit, findings, over a loopback FakeDNS."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.model import Severity
from probe.testing.certs import TestCA
from probe.tls.certificates import transport_summary
from probe.tls.dane import NOT_VALIDATING, check_dane, dane_findings, evaluate_dane, judge_record, leaf_matches

ResolverFactory = Callable[..., Awaitable[Any]]  # the dns_resolver fixture
MX = "mx1.probe.test"
TLSA_NAME = f"_25._tcp.{MX}."


def spki(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def association(der: bytes, selector: int, mtype: int) -> bytes:
    selected = der if selector == 0 else spki(der)
    return {0: selected, 1: hashlib.sha256(selected).digest(), 2: hashlib.sha512(selected).digest()}[mtype]


def ids(findings: list[Any]) -> dict[str, Severity]:
    return {f.id: f.severity for f in findings}


@pytest.fixture(scope="module")
def leaf(ca: TestCA) -> bytes:
    return ca.issue(MX).der


@pytest.fixture(scope="module")
def other(ca: TestCA) -> bytes:
    return ca.issue(MX).der  # same name, different key: what a botched certificate rollover presents


# ---- pure matching -------------------------------------------------------------------------------------


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_leaf_matches_every_selector_and_matching_type(leaf: bytes, other: bytes, selector: int, mtype: int) -> None:
    data = association(leaf, selector, mtype)
    assert leaf_matches(leaf, selector, mtype, data) is True
    assert leaf_matches(other, selector, mtype, data) is False


def test_unknown_selector_or_matching_type_is_not_judged(leaf: bytes) -> None:
    assert leaf_matches(leaf, 1, 7, b"x") is None
    assert leaf_matches(leaf, 5, 1, b"x") is None
    assert leaf_matches(b"garbage", 1, 1, b"x") is False


def test_dane_ta_needs_the_chain(leaf: bytes, ca: TestCA) -> None:
    detail = judge_record((2, 0, 1, hashlib.sha256(ca.der).digest()), leaf, trusted=True)
    assert detail["match"] is None and detail["usable"] is True
    assert detail["note"] == "usage 2 needs the server's chain, not available on this Python"


@pytest.mark.parametrize(("trusted", "expected"), [(True, True), (False, False), (None, None)])
def test_pkix_ee_also_needs_trust(leaf: bytes, trusted: bool | None, expected: bool | None) -> None:
    detail = judge_record((1, 1, 1, association(leaf, 1, 1)), leaf, trusted=trusted)
    assert detail["match"] is expected and detail["usable"] is False
    assert "RFC 7672 §3.1.3" in detail["note"]


def test_malformed_record_is_a_detail_not_a_crash(leaf: bytes) -> None:
    detail = judge_record(("x", 1, 1, b""), leaf, trusted=True)
    assert detail["note"] == "malformed TLSA record" and detail["match"] is None


def test_unvalidated_answer_is_never_judged(leaf: bytes) -> None:
    dane = evaluate_dane([(3, 1, 1, association(leaf, 1, 1))], authenticated=False, der=leaf)
    assert dane["match"] is None and dane["usable"] is False and dane["dnssec"] is False
    assert dane["error"] == NOT_VALIDATING == "the resolver does not validate DNSSEC (no AD bit), DANE cannot be judged"
    assert dane["details"][0]["match"] is True  # the record is shown compared, but the verdict stays open


def test_rollover_one_matching_record_is_enough(leaf: bytes, other: bytes) -> None:
    records = [(3, 1, 1, association(other, 1, 1)), (3, 1, 1, association(leaf, 1, 1))]
    assert evaluate_dane(records, authenticated=True, der=leaf)["match"] is True


def test_no_certificate_cannot_match(leaf: bytes) -> None:
    dane = evaluate_dane([(3, 1, 1, association(leaf, 1, 1))], authenticated=True, der=None)
    assert dane["match"] is None and dane["details"][0]["note"] == "no certificate to compare (STARTTLS not completed)"
    assert ids(dane_findings(dane, mx_host=MX)) == {"dane-not-checked": Severity.INFO}


# ---- over DNS: the AD bit from the (fake) validating resolver -------------------------------------------


def tlsa(usage: int, selector: int, mtype: int, data: bytes, owner: str = "_25._tcp.mx1") -> str:
    return f"{owner} TLSA {usage} {selector} {mtype} {data.hex()}"


async def test_authenticated_matching_record(dns_resolver: ResolverFactory, leaf: bytes) -> None:
    resolver = await dns_resolver({"probe.test.": [tlsa(3, 1, 1, association(leaf, 1, 1))]}, secure=[TLSA_NAME])
    dane = await check_dane(MX, resolver, leaf)
    assert (dane["records"], dane["dnssec"], dane["match"], dane["usable"], dane["error"]) == (1, True, True, True, None)
    assert dane["details"][0]["usage"] == 3 and dane["details"][0]["mtype"] == 1
    assert dane_findings(dane, mx_host=MX) == []


async def test_authenticated_mismatch_is_critical(dns_resolver: ResolverFactory, leaf: bytes, other: bytes) -> None:
    resolver = await dns_resolver({"probe.test.": [tlsa(3, 0, 2, association(other, 0, 2))]}, secure=[TLSA_NAME])
    dane = await check_dane(MX, resolver, leaf)
    assert dane["dnssec"] is True and dane["match"] is False
    found = dane_findings(dane, mx_host=MX)
    assert ids(found) == {"dane-mismatch": Severity.CRITICAL}
    assert "refuse to deliver" in found[0].message
    assert "DANE MISMATCH" in transport_summary(None, None, dane, None, mx_host=MX)


async def test_unsigned_answer_says_dane_cannot_be_judged(dns_resolver: ResolverFactory, leaf: bytes) -> None:
    resolver = await dns_resolver({"probe.test.": [tlsa(3, 1, 1, association(leaf, 1, 1))]})
    dane = await check_dane(MX, resolver, leaf)
    assert (dane["records"], dane["dnssec"], dane["match"], dane["usable"]) == (1, False, None, False)
    found = dane_findings(dane, mx_host=MX)
    assert ids(found) == {"dane-unvalidated": Severity.INFO}
    assert "does not validate DNSSEC" in found[0].message


async def test_no_tlsa_records(dns_resolver: ResolverFactory, leaf: bytes) -> None:
    resolver = await dns_resolver({"probe.test.": ["mx1 A 127.0.0.1"]})
    dane = await check_dane(MX, resolver, leaf)
    assert (dane["records"], dane["match"], dane["error"]) == (0, None, None)
    assert dane_findings(dane, mx_host=MX) == []
    assert "DANE absent" in transport_summary(None, None, dane, None, mx_host=MX)


async def test_tlsa_lookup_failure_is_a_warning(dns_resolver: ResolverFactory, leaf: bytes) -> None:
    resolver = await dns_resolver({"probe.test.": []}, servfail=[TLSA_NAME])
    dane = await check_dane(MX, resolver, leaf)
    assert dane["records"] == 0 and "SERVFAIL" in dane["error"]
    assert ids(dane_findings(dane, mx_host=MX)) == {"dane-lookup-failed": Severity.WARNING}


async def test_dane_ta_only_is_not_checked(dns_resolver: ResolverFactory, leaf: bytes, ca: TestCA) -> None:
    resolver = await dns_resolver({"probe.test.": [tlsa(2, 0, 1, hashlib.sha256(ca.der).digest())]},
                                  secure=[TLSA_NAME])
    dane = await check_dane(MX, resolver, leaf)
    assert dane["match"] is None and dane["usable"] is True
    found = dane_findings(dane, mx_host=MX)
    assert ids(found) == {"dane-not-checked": Severity.INFO} and "needs the server's chain" in found[0].message


async def test_pkix_only_records_are_unusable_for_smtp(dns_resolver: ResolverFactory, leaf: bytes) -> None:
    resolver = await dns_resolver({"probe.test.": [tlsa(1, 1, 1, association(leaf, 1, 1))]}, secure=[TLSA_NAME])
    dane = await check_dane(MX, resolver, leaf, trusted=True)
    assert dane["usable"] is False and dane["match"] is None and "no usable TLSA record" in dane["error"]
    assert dane["details"][0]["match"] is True
    assert ids(dane_findings(dane, mx_host=MX)) == {"dane-unusable": Severity.WARNING}


async def test_submission_port_uses_its_own_name(dns_resolver: ResolverFactory, leaf: bytes) -> None:
    resolver = await dns_resolver({"probe.test.": [tlsa(3, 1, 1, association(leaf, 1, 1), "_587._tcp.mx1")]},
                                  secure=[f"_587._tcp.{MX}."])
    assert (await check_dane(MX, resolver, leaf, port=587))["match"] is True
    assert (await check_dane(MX, resolver, leaf))["records"] == 0


# ---- DANE-TA (usage 2) against the chain the server sent ------------------------------------------------


def test_dane_ta_needs_a_linked_chain_naming_the_host(ca: TestCA) -> None:
    leaf = ca.issue(["mx1.probe.test"])
    anchor = (2, 0, 1, hashlib.sha256(ca.der).digest())
    good = evaluate_dane([anchor], authenticated=True, der=leaf.der, chain=[leaf.der, ca.der],
                         mx_host="mx1.probe.test")
    assert good["match"] is True and good["details"][0]["note"] is None
    wrong_name = evaluate_dane([anchor], authenticated=True, der=leaf.der, chain=[leaf.der, ca.der],
                               mx_host="mx2.probe.test")
    assert wrong_name["match"] is False and "does not name mx2.probe.test" in wrong_name["details"][0]["note"]
    other = TestCA(ca.directory / "other")
    stranger = other.issue(["mx1.probe.test"])
    unlinked = evaluate_dane([anchor], authenticated=True, der=stranger.der, chain=[stranger.der, ca.der],
                             mx_host="mx1.probe.test")
    assert unlinked["match"] is False and "does not link" in unlinked["details"][0]["note"]
    unknown = evaluate_dane([anchor], authenticated=True, der=leaf.der, chain=None, mx_host="mx1.probe.test")
    assert unknown["match"] is None and "chain" in unknown["details"][0]["note"]  # honest, never a crash
