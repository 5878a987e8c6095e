"""probe.run.selfaudit against FakeDNS on loopback: source PTR/FCrDNS/HELO, DNSBL answers, MX PTR vs banner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncresolver
import pytest
import pytest_asyncio

from probe.dns.resolve import make_resolver
from probe.errors import InputError
from probe.model import Context, Reason, Session, Severity, Step
from probe.run.reachability import mx_reverse_findings
from probe.run.selfaudit import (
    DnsblResult,
    SourceAudit,
    audit_source,
    check_dnsbl,
    dnsbl_query_name,
    self_check,
)
from probe.testing.fakedns import FakeDNS

Resolver = dns.asyncresolver.Resolver

ZONES = Path(__file__).resolve().parents[2] / "fixtures" / "zones"
TIMEOUT_S = 0.5  # every failing lookup ends within this; passing ones answer at once on loopback

SOA = "@ SOA ns.selfaudit.test. hostmaster.selfaudit.test. 1 3600 600 86400 300\n"
V6 = "2001:db8::5"
V6_NIBBLES = dnsbl_query_name(V6, "x").removesuffix(".x")
LISTS = ["zen.spamhaus.test", "clean.dnsbl.test", "broken.dnsbl.test", "silent.dnsbl.test"]

AUDIT_ZONES = {
    "2.0.192.in-addr.arpa.": SOA + """
10 PTR good.selfaudit.test.
11 PTR unconfirmed.selfaudit.test.
13 PTR unconfirmed.selfaudit.test.
13 PTR GOOD13.selfaudit.test.
14 PTR ghost.selfaudit.test.
15 PTR broken.selfaudit.test.
""",
    "8.b.d.0.1.0.0.2.ip6.arpa.": SOA + f"{V6_NIBBLES.removesuffix('.8.b.d.0.1.0.0.2')} PTR v6.selfaudit.test.\n",
    "selfaudit.test.": SOA + f"""
good       A     192.0.2.10
good13     A     192.0.2.13
unconfirmed A    192.0.2.99
other-helo A     192.0.2.10
v6         AAAA  {V6}
v6         A     192.0.2.10
""",
    "zen.spamhaus.test.": SOA + f"""
10.2.0.192 A   127.0.0.2
10.2.0.192 TXT "Listed by SBL, see https://check.spamhaus.test/sbl/10"
11.2.0.192 A   127.255.255.254
13.2.0.192 A   127.0.0.4
13.2.0.192 A   127.0.0.10
14.2.0.192 A   127.0.0.1
{V6_NIBBLES} A 127.0.0.3
""",
    "clean.dnsbl.test.": SOA,
}
AUDIT_SWITCHES = {
    "servfail": ["broken.selfaudit.test", "16.2.0.192.in-addr.arpa", "10.2.0.192.broken.dnsbl.test",
                 "13.2.0.192.broken.dnsbl.test", "11.2.0.192.broken.dnsbl.test"],
    "drop": ["10.2.0.192.silent.dnsbl.test", "13.2.0.192.silent.dnsbl.test", "11.2.0.192.silent.dnsbl.test"],
}


@pytest_asyncio.fixture
async def audit_dns() -> AsyncIterator[FakeDNS]:
    async with FakeDNS(AUDIT_ZONES, **AUDIT_SWITCHES) as server:
        yield server


@pytest.fixture
def audit_resolver(audit_dns: FakeDNS) -> Resolver:
    return make_resolver([audit_dns.address], timeout_s=TIMEOUT_S)


async def audit(resolver: Resolver, ip: str, helo: str | None = None, zones: list[str] | None = None) -> SourceAudit:
    return await audit_source(ip, resolver, dnsbl_zones=LISTS if zones is None else zones, helo=helo,
                              timeout_s=TIMEOUT_S)


def by_zone(result: SourceAudit) -> dict[str, DnsblResult]:
    return {r.zone: r for r in result.dnsbl}


def ids(result: SourceAudit) -> list[str]:
    return [f.id for f in result.findings()]


# -- PTR, forward confirmation, HELO --------------------------------------------------------------


async def test_confirmed_ptr_and_matching_helo(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.10", helo="good.selfaudit.test", zones=[])
    assert result.ptr == ["good.selfaudit.test"] and result.ptr_status == "ok"
    assert result.forward_confirmed is True and result.confirmed_name == "good.selfaudit.test"
    assert result.helo_matches_ptr is True and result.helo_resolves_to_ip is True
    assert result.is_global is False  # TEST-NET-1 is documentation space
    assert ids(result) == ["source-not-public"]


async def test_ptr_names_are_compared_case_insensitively(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.13", helo="Good13.SelfAudit.test.", zones=[])
    assert result.forward_confirmed is True and result.confirmed_name == "good13.selfaudit.test"
    assert result.helo_matches_ptr is True
    assert "source-ptr-not-confirmed" not in ids(result) and "source-helo-mismatch" not in ids(result)


async def test_no_ptr(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.12", zones=[])
    assert result.ptr == [] and result.ptr_status == "nxdomain" and result.forward_confirmed is None
    assert "source-no-ptr" in ids(result)


async def test_ptr_that_does_not_resolve_back(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.11", zones=[])
    assert result.ptr == ["unconfirmed.selfaudit.test"] and result.forward_confirmed is False
    assert "source-ptr-not-confirmed" in ids(result)


async def test_ptr_to_a_name_that_does_not_exist(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.14", zones=[])
    assert result.forward_confirmed is False and "source-ptr-not-confirmed" in ids(result)


async def test_forward_lookup_failure_is_unknown_not_unconfirmed(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.15", zones=[])
    assert result.ptr == ["broken.selfaudit.test"] and result.forward_confirmed is None
    assert "source-ptr-not-confirmed" not in ids(result)


async def test_ptr_lookup_failure(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.16", zones=[])
    assert result.ptr_status == "error" and "SERVFAIL" in (result.ptr_error or "")
    assert "source-ptr-unchecked" in ids(result) and "source-no-ptr" not in ids(result)


async def test_helo_that_neither_matches_nor_resolves(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.10", helo="unconfirmed.selfaudit.test", zones=[])
    assert result.helo_matches_ptr is False and result.helo_resolves_to_ip is False
    mismatch = [f for f in result.findings() if f.id == "source-helo-mismatch"]
    assert mismatch and "--helo good.selfaudit.test" in mismatch[0].message


async def test_helo_that_resolves_to_the_address_is_accepted(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.10", helo="other-helo.selfaudit.test", zones=[])
    assert result.helo_matches_ptr is False and result.helo_resolves_to_ip is True
    assert "source-helo-mismatch" not in ids(result)


async def test_helo_address_literal(audit_resolver: Resolver) -> None:
    same = await audit(audit_resolver, "192.0.2.10", helo="[192.0.2.10]", zones=[])
    other = await audit(audit_resolver, "192.0.2.10", helo="[192.0.2.77]", zones=[])
    assert same.helo_resolves_to_ip is True and other.helo_resolves_to_ip is False


async def test_ipv6_source(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "2001:DB8:0::5", helo="v6.selfaudit.test", zones=["zen.spamhaus.test"])
    assert result.ip == V6 and result.ptr == ["v6.selfaudit.test"]
    assert result.forward_confirmed is True and result.helo_resolves_to_ip is True
    zen = by_zone(result)["zen.spamhaus.test"]
    assert zen.status == "listed" and zen.codes == ["127.0.0.3"]
    assert zen.query.endswith(".8.b.d.0.1.0.0.2.zen.spamhaus.test")


async def test_not_an_address_is_input_error(audit_resolver: Resolver) -> None:
    with pytest.raises(InputError):
        await audit(audit_resolver, "mail.example.com")


# -- DNSBL answers ----------------------------------------------------------------------------------


async def test_listed_with_reason_from_txt(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.10")
    zen = by_zone(result)["zen.spamhaus.test"]
    assert zen.status == "listed" and zen.codes == ["127.0.0.2"] and zen.query == "10.2.0.192.zen.spamhaus.test"
    assert zen.reason == "Listed by SBL, see https://check.spamhaus.test/sbl/10"
    listed = [f for f in result.findings() if f.id == "source-listed"]
    assert len(listed) == 1 and listed[0].severity is Severity.CRITICAL and "check.spamhaus.test" in listed[0].message


async def test_not_listed_error_and_timeout_side_by_side(audit_resolver: Resolver) -> None:
    results = by_zone(await audit(audit_resolver, "192.0.2.10"))
    assert results["clean.dnsbl.test"].status == "not_listed"
    assert results["broken.dnsbl.test"].status == "error" and "SERVFAIL" in (results["broken.dnsbl.test"].error or "")
    assert results["silent.dnsbl.test"].status == "error"
    assert [r.zone for r in results.values()] == LISTS  # in the order asked


async def test_refused_is_not_a_listing(audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.11", zones=["zen.spamhaus.test"])
    zen = by_zone(result)["zen.spamhaus.test"]
    assert zen.status == "refused" and zen.codes == ["127.255.255.254"] and zen.reason is None
    assert "source-listed" not in ids(result) and "source-dnsbl-refused" in ids(result)


async def test_several_codes_are_all_kept(audit_resolver: Resolver) -> None:
    zen = by_zone(await audit(audit_resolver, "192.0.2.13", zones=["zen.spamhaus.test"]))["zen.spamhaus.test"]
    assert zen.status == "listed" and zen.codes == ["127.0.0.4", "127.0.0.10"]
    assert zen.reason is None  # no TXT record: no reason invented


async def test_listing_the_world_code_is_could_not_check(audit_resolver: Resolver) -> None:
    zen = by_zone(await audit(audit_resolver, "192.0.2.14", zones=["zen.spamhaus.test"]))["zen.spamhaus.test"]
    assert zen.status == "error" and zen.codes == ["127.0.0.1"]


async def test_zone_names_are_normalised_and_deduplicated(audit_dns: FakeDNS, audit_resolver: Resolver) -> None:
    result = await audit(audit_resolver, "192.0.2.12", zones=["Clean.DNSBL.test.", "clean.dnsbl.test"])
    assert [r.zone for r in result.dnsbl] == ["clean.dnsbl.test"]
    assert audit_dns.queries.count(("12.2.0.192.clean.dnsbl.test", "A")) == 1


async def test_ipv4_only_list_is_skipped_for_ipv6(audit_dns: FakeDNS, audit_resolver: Resolver) -> None:
    result = await check_dnsbl(V6, "bl.spamcop.net", audit_resolver, timeout_s=TIMEOUT_S)
    assert result.status == "skipped" and "IPv4" in (result.error or "")
    assert not any(name.endswith("spamcop.net") for name, _type in audit_dns.queries)


async def test_bad_zone_and_bad_address_are_results(audit_resolver: Resolver) -> None:
    assert (await check_dnsbl("192.0.2.10", " . ", audit_resolver, timeout_s=TIMEOUT_S)).status == "error"
    assert (await check_dnsbl("192.0.2.10", "a..b", audit_resolver, timeout_s=TIMEOUT_S)).status == "error"
    assert (await check_dnsbl("nonsense", "zen.spamhaus.test", audit_resolver, timeout_s=TIMEOUT_S)).status == "error"


async def test_lists_are_bounded_by_timeout_even_with_a_slow_resolver(audit_dns: FakeDNS) -> None:
    slow = make_resolver([audit_dns.address], timeout_s=30.0)  # the resolver alone would wait 30 s
    result = await check_dnsbl("192.0.2.10", "silent.dnsbl.test", slow, timeout_s=0.3)
    assert result.status == "error" and "no answer within 0.3 s" in (result.error or "")


# -- self_check ------------------------------------------------------------------------------------


async def test_self_check_audits_the_given_address(audit_resolver: Resolver) -> None:
    result = await self_check(audit_resolver, source_ip="192.0.2.10", helo="good.selfaudit.test",
                              dnsbl_zones=["clean.dnsbl.test"], timeout_s=TIMEOUT_S)
    assert result.ip == "192.0.2.10" and result.forward_confirmed is True and result.helo == "good.selfaudit.test"
    assert [r.status for r in result.dnsbl] == ["not_listed"]


async def test_self_check_without_an_address_says_how_to_give_one(audit_resolver: Resolver) -> None:
    result = await self_check(audit_resolver, source_ip=None, helo="x.example.net", dnsbl_zones=[], timeout_s=1)
    assert result.ip is None and [f.id for f in result.findings()] == ["source-address-unknown"]
    assert "--source-ip" in result.findings()[0].message


# -- reverse DNS of the MX hosts (fixtures/zones: 127.0.0.1 -> mx1.probe.test) -----------------------


def banner(text: str) -> Step:
    return Step(command=None, context=Context.BANNER, code=220, enhanced=None, text=f"220 {text}", lines=[text],
                reason=Reason.ACCEPTED, severity=Severity.OK, meaning="", remediation="", rule=None, elapsed_ms=1.0)


def mx_session(address: str, greeting: str | None, host: str = "mx1.probe.test", outcome: str = "completed") -> Session:
    return Session(host=host, address=address, port=25, outcome=outcome,
                   steps=[banner(greeting)] if greeting is not None else [])


@pytest_asyncio.fixture
async def fixture_dns() -> AsyncIterator[FakeDNS]:
    async with FakeDNS.from_files(ZONES.glob("*.zone"), servfail=["9.0.0.127.in-addr.arpa"]) as server:
        yield server


@pytest.fixture
def fixture_resolver(fixture_dns: FakeDNS) -> Resolver:
    return make_resolver([fixture_dns.address], timeout_s=TIMEOUT_S)


async def test_banner_matching_ptr_is_fine(fixture_resolver: Resolver) -> None:
    sessions = [mx_session("127.0.0.1", "mx1.probe.test ESMTP Postfix"), mx_session("127.0.0.2", "MX2.probe.test.")]
    assert await mx_reverse_findings(sessions, fixture_resolver) == []


async def test_banner_mismatch(fixture_resolver: Resolver) -> None:
    found = await mx_reverse_findings([mx_session("127.0.0.1", "smtp.elsewhere.test ESMTP")], fixture_resolver)
    assert [f.id for f in found] == ["mx-banner-mismatch"]
    assert found[0].severity is Severity.INFO and found[0].subject == "127.0.0.1"
    assert "smtp.elsewhere.test" in found[0].message and "mx1.probe.test" in found[0].message
    assert "false alarms" in found[0].message


async def test_banner_without_a_name_and_address_literal(fixture_resolver: Resolver) -> None:
    empty = await mx_reverse_findings([mx_session("127.0.0.1", "")], fixture_resolver)
    literal = await mx_reverse_findings([mx_session("127.0.0.1", "[127.0.0.1] ESMTP")], fixture_resolver)
    assert [f.id for f in empty] == ["mx-banner-mismatch"] and "names no host" in empty[0].message
    assert literal == []


async def test_mx_without_ptr(fixture_resolver: Resolver) -> None:
    found = await mx_reverse_findings([mx_session("127.0.0.3", "mx3.probe.test", host="mx3.probe.test")],
                                      fixture_resolver)
    assert [f.id for f in found] == ["mx-no-ptr"] and found[0].severity is Severity.WARNING
    assert "mx3.probe.test (127.0.0.3)" in found[0].message


async def test_mx_ptr_lookup_failure(fixture_resolver: Resolver) -> None:
    found = await mx_reverse_findings([mx_session("127.0.0.9", "x")], fixture_resolver)
    assert [f.id for f in found] == ["mx-ptr-unchecked"]


async def test_each_address_is_asked_once_and_banner_taken_from_any_session(
    fixture_dns: FakeDNS, fixture_resolver: Resolver
) -> None:
    sessions = [mx_session("127.0.0.1", None, outcome="timeout"), mx_session("127.0.0.1", "elsewhere.test"),
                mx_session("127.0.0.1", "mx1.probe.test"), mx_session("127.0.0.1", None, outcome="skipped")]
    found = await mx_reverse_findings(sessions, fixture_resolver)
    assert [f.id for f in found] == ["mx-banner-mismatch"]
    assert fixture_dns.queries.count(("1.0.0.127.in-addr.arpa", "PTR")) == 1


async def test_session_without_banner_only_checks_ptr(fixture_resolver: Resolver) -> None:
    refused = mx_session("127.0.0.1", None, outcome="refused")
    garbage = mx_session("not-an-ip", "x")
    assert await mx_reverse_findings([refused, garbage], fixture_resolver) == []
