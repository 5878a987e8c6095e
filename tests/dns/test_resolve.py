"""probe.dns.resolve against FakeDNS: MX kinds, findings, ordering, families, failures as values, lookups."""

from __future__ import annotations

import random

import dns.asyncresolver
import dns.flags
import dns.resolver
import pytest

from probe.dns.resolve import (
    CACHE_SIZE,
    MxAnswer,
    lookup_addresses,
    lookup_ptr,
    lookup_tlsa,
    lookup_txt,
    make_resolver,
    resolve_host,
    resolve_mx,
)
from probe.errors import InputError
from probe.model import Finding, Severity
from probe.testing.fakedns import FakeDNS

Resolver = dns.asyncresolver.Resolver


def ids(answer: MxAnswer) -> list[str]:
    return [finding.id for finding in answer.findings]


def finding(answer: MxAnswer, finding_id: str) -> Finding:
    return next(f for f in answer.findings if f.id == finding_id)


def hosts(answer: MxAnswer) -> list[tuple[str, int]]:
    return [(mx.host, mx.preference) for mx in answer.hosts]


# -- make_resolver -----------------------------------------------------------------------------


def test_resolver_asks_exactly_the_given_servers_with_edns_ad_and_a_cache() -> None:
    resolver = make_resolver([("127.0.0.1", 5353), ("::1", 53)], timeout_s=2.0)
    servers = [(ns.address, ns.port) for ns in resolver.nameservers]  # type: ignore[union-attr]
    assert servers == [("127.0.0.1", 5353), ("::1", 53)]
    assert resolver.lifetime == 2.0 and resolver.timeout == 1.0  # each server its share
    assert resolver.edns == 0 and resolver.payload == 1232
    assert resolver.flags is not None and resolver.flags & dns.flags.AD and resolver.flags & dns.flags.RD
    assert isinstance(resolver.cache, dns.resolver.LRUCache)


def test_the_answer_cache_is_bounded_for_long_batches() -> None:
    # dns.resolver.Cache keeps every distinct answer for its TTL: a batch over 100k domains grew with them
    cache = make_resolver([("127.0.0.1", 53)]).cache
    assert isinstance(cache, dns.resolver.LRUCache) and cache.max_size == CACHE_SIZE <= 10_000


@pytest.mark.parametrize("server", [("dns.example.net", 53), ("127.0.0.1", 0), ("127.0.0.1", 70000)])
def test_resolver_rejects_unusable_servers(server: tuple[str, int]) -> None:
    with pytest.raises(InputError):
        make_resolver([server])


def test_unreadable_system_configuration_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, filename: str) -> None:
        raise dns.resolver.NoResolverConfiguration("no nameservers")  # type: ignore[no-untyped-call]

    monkeypatch.setattr(dns.resolver.BaseResolver, "read_resolv_conf", broken)
    with pytest.raises(InputError, match="cannot read the system's DNS configuration"):
        make_resolver()


async def test_repeated_lookups_in_one_run_are_answered_from_the_cache(fake_dns: FakeDNS, resolver: Resolver) -> None:
    first = await resolve_mx("two-mx.probe.test", resolver)
    second = await resolve_mx("two-mx.probe.test", resolver)
    assert first.kind == second.kind == "mx"
    assert fake_dns.queries.count(("two-mx.probe.test", "MX")) == 1
    assert fake_dns.queries.count(("mx1.probe.test", "A")) == 1


# -- kinds -------------------------------------------------------------------------------------


async def test_mx_records_in_preference_order_with_addresses(resolver: Resolver) -> None:
    answer = await resolve_mx("two-mx.probe.test", resolver)
    assert answer.kind == "mx" and answer.error is None
    assert hosts(answer) == [("mx1.probe.test", 10), ("mx2.probe.test", 20)]
    assert answer.hosts[0].addresses == ["127.0.0.1", "::1"]  # A first, then AAAA
    assert answer.hosts[1].addresses == ["127.0.0.2"]
    assert not any(mx.implicit or mx.error for mx in answer.hosts)
    assert answer.elapsed_ms >= 0


async def test_null_mx_has_no_hosts_and_no_fallback_to_the_address(fake_dns: FakeDNS, resolver: Resolver) -> None:
    answer = await resolve_mx("null-mx.probe.test", resolver)
    assert answer.kind == "null" and answer.hosts == []
    assert ("null-mx.probe.test", "A") not in fake_dns.queries  # the zone has an A record: never used


async def test_null_mx_mixed_with_real_records_uses_the_real_ones(resolver: Resolver) -> None:
    answer = await resolve_mx("null-mx-mixed.probe.test", resolver)
    assert answer.kind == "mx"
    assert hosts(answer) == [("mx1.probe.test", 10)]
    assert finding(answer, "null-mx-mixed").severity is Severity.WARNING


@pytest.mark.parametrize(
    ("domain", "addresses"), [("implicit-a.probe.test", ["127.0.0.1"]), ("implicit-aaaa.probe.test", ["::1"])]
)
async def test_no_mx_but_an_address_is_an_implicit_mx(resolver: Resolver, domain: str, addresses: list[str]) -> None:
    answer = await resolve_mx(domain, resolver)
    assert answer.kind == "implicit"
    [mx] = answer.hosts
    assert (mx.host, mx.preference, mx.implicit, mx.addresses) == (domain, 0, True, addresses)
    assert finding(answer, "implicit-mx").severity is Severity.INFO


async def test_name_without_mx_or_address_has_no_mail_hosts(resolver: Resolver) -> None:
    answer = await resolve_mx("no-mail-hosts.probe.test", resolver)
    assert (answer.kind, answer.hosts, answer.error) == ("no_mail_hosts", [], None)


async def test_nxdomain(resolver: Resolver) -> None:
    answer = await resolve_mx("nope.probe.test", resolver)
    assert (answer.kind, answer.hosts) == ("nxdomain", [])


async def test_servfail_is_a_dns_error_naming_the_server(fake_dns: FakeDNS, resolver: Resolver) -> None:
    answer = await resolve_mx("servfail.probe.test", resolver)
    assert (answer.kind, answer.failure) == ("dns_error", "servfail")
    assert answer.error == f"SERVFAIL from 127.0.0.1:{fake_dns.port}"


@pytest.mark.parametrize("domain", ["refused.probe.test", "outside.example"])
async def test_refused_is_a_dns_error(fake_dns: FakeDNS, resolver: Resolver, domain: str) -> None:
    answer = await resolve_mx(domain, resolver)
    assert (answer.kind, answer.error) == ("dns_error", f"REFUSED from 127.0.0.1:{fake_dns.port}")
    assert answer.failure == "refused"


async def test_timeout_is_a_dns_error_not_nxdomain(fake_dns: FakeDNS, resolver: Resolver) -> None:
    answer = await resolve_mx("timeout.probe.test", resolver)
    assert (answer.kind, answer.failure) == ("dns_error", "timeout")
    assert answer.error == f"no answer within 0.5 s from 127.0.0.1:{fake_dns.port}"


async def test_no_reachable_nameserver_is_a_dns_error() -> None:
    resolver = make_resolver([("127.0.0.1", 9)], timeout_s=0.3)  # discard port: nothing answers
    answer = await resolve_mx("two-mx.probe.test", resolver)
    assert answer.kind == "dns_error" and answer.error


@pytest.mark.parametrize("domain", ["a..b", "x" * 64 + ".test", ".".join(["abcdefgh"] * 40), "", "."])
async def test_invalid_names_are_a_dns_error_value_without_asking(
    fake_dns: FakeDNS, resolver: Resolver, domain: str
) -> None:
    answer = await resolve_mx(domain, resolver)
    assert (answer.kind, answer.failure) == ("dns_error", "invalid_name")
    assert answer.error is not None and answer.error.startswith("invalid name")
    assert fake_dns.queries == []


async def test_odd_but_encodable_names_are_asked_and_answered_as_values(resolver: Resolver) -> None:
    for domain in ("\x00bad.probe.test", "sp ace.probe.test", "UPPER.PROBE.TEST", "two-mx.probe.test."):
        answer = await resolve_mx(domain, resolver)
        assert answer.kind in {"nxdomain", "mx"}


async def test_implicit_mx_lookup_failure_is_a_dns_error() -> None:
    zone = '$TTL 60\n@ SOA ns.x.test. h.x.test. 1 60 60 60 60\n@ TXT "no mx"\n'
    async with FakeDNS({"x.test.": zone}, servfail=["x.test A", "x.test AAAA"]) as server:
        answer = await resolve_mx("x.test", make_resolver([server.address], timeout_s=0.5))
    assert answer.kind == "dns_error" and answer.error and "SERVFAIL" in answer.error
    assert answer.failure == "servfail"


# -- findings ----------------------------------------------------------------------------------


async def test_mx_target_that_is_an_alias(resolver: Resolver) -> None:
    answer = await resolve_mx("mx-cname.probe.test", resolver)
    assert hosts(answer) == [("alias.probe.test", 10)]
    assert answer.hosts[0].addresses == ["127.0.0.1", "::1"]  # still usable, as senders would
    cname = finding(answer, "mx-is-cname")
    assert (cname.severity, cname.subject) == (Severity.WARNING, "alias.probe.test")
    assert "mx1.probe.test" in cname.message


async def test_mx_targets_that_are_ip_literals_are_not_looked_up(fake_dns: FakeDNS, resolver: Resolver) -> None:
    answer = await resolve_mx("mx-ip-literal.probe.test", resolver)
    literal = [mx for mx in answer.hosts if mx.addresses == []]
    assert [mx.host for mx in literal] == ["192.0.2.1", "[192.0.2.2]"]
    assert all(mx.error for mx in literal)
    assert [f.subject for f in answer.findings if f.id == "mx-is-ip-literal"] == ["192.0.2.1", "[192.0.2.2]"]
    assert answer.hosts[-1].host == "mx1.probe.test" and answer.hosts[-1].addresses
    assert not any(name.startswith(("192.0.2", "[192")) for name, _type in fake_dns.queries)


async def test_mx_host_without_address_gets_no_implicit_fallback(fake_dns: FakeDNS, resolver: Resolver) -> None:
    answer = await resolve_mx("mx-no-address.probe.test", resolver)
    assert answer.kind == "mx"
    assert hosts(answer) == [("noaddr.probe.test", 10), ("missing.probe.test", 20)]
    assert [mx.error for mx in answer.hosts] == [
        "no address records (A or AAAA)",
        "host name does not exist (NXDOMAIN)",
    ]
    assert [f.subject for f in answer.findings if f.id == "mx-no-address"] == [
        "noaddr.probe.test",
        "missing.probe.test",
    ]
    assert all(f.severity is Severity.WARNING for f in answer.findings)
    assert ("mx-no-address.probe.test", "A") not in fake_dns.queries


async def test_one_hosts_failing_lookup_does_not_sink_the_domain(resolver: Resolver) -> None:
    answer = await resolve_mx("mx-servfail-host.probe.test", resolver)
    assert answer.kind == "mx" and answer.error is None
    broken, working = answer.hosts
    assert broken.host == "broken.probe.test" and broken.addresses == []
    assert broken.error is not None and "SERVFAIL" in broken.error
    assert working.addresses == ["127.0.0.1", "::1"] and working.error is None
    assert finding(answer, "mx-dns-error").subject == "broken.probe.test"
    assert "mx-no-address" not in ids(answer)  # a failed lookup is not "no address"


async def test_one_family_failing_keeps_the_other_family() -> None:
    zone = "$TTL 60\n@ SOA ns.y.test. h.y.test. 1 60 60 60 60\n@ MX 10 mx.y.test.\nmx A 127.0.0.7\n"
    async with FakeDNS({"y.test.": zone}, servfail=["mx.y.test AAAA"]) as server:
        answer = await resolve_mx("y.test", make_resolver([server.address], timeout_s=0.5))
    [mx] = answer.hosts
    assert (mx.addresses, mx.error) == (["127.0.0.7"], None)
    assert "mx-dns-error" in ids(answer)


async def test_loopback_mail_hosts_get_an_info_finding_public_ones_do_not(resolver: Resolver) -> None:
    loopback = await resolve_mx("two-mx.probe.test", resolver)
    private = [f for f in loopback.findings if f.id == "mx-private-address"]
    assert [f.subject for f in private] == ["mx1.probe.test", "mx2.probe.test"]
    assert all(f.severity is Severity.INFO for f in private)
    public = await resolve_mx("public-mx.probe.test", resolver)
    assert public.kind == "mx" and public.findings == []


async def test_findings_are_not_invented_for_a_clean_domain(resolver: Resolver) -> None:
    answer = await resolve_mx("two-mx.probe.test", resolver)
    assert set(ids(answer)) == {"mx-private-address"}


# -- order and families ------------------------------------------------------------------------


async def test_equal_preferences_come_in_random_order_and_the_backup_last(resolver: Resolver) -> None:
    orders = set()
    for seed in range(30):
        answer = await resolve_mx("equal-pref.probe.test", resolver, rng=random.Random(seed))
        order = [mx.host for mx in answer.hosts]
        assert order[-1] == "mx4.probe.test"  # preference 20 always after the 10s
        assert sorted(order[:3]) == ["mx1.probe.test", "mx2.probe.test", "mx3.probe.test"]
        orders.add(tuple(order[:3]))
    assert len(orders) > 1  # both (all) orders occur across seeds


async def test_the_same_seed_gives_the_same_order(resolver: Resolver) -> None:
    first = await resolve_mx("equal-pref.probe.test", resolver, rng=random.Random(7))
    second = await resolve_mx("equal-pref.probe.test", resolver, rng=random.Random(7))
    assert hosts(first) == hosts(second)


@pytest.mark.parametrize(("family", "addresses", "asked"), [(4, ["127.0.0.1"], "A"), (6, ["::1"], "AAAA")])
async def test_family_filter_asks_and_returns_one_family(
    fake_dns: FakeDNS, resolver: Resolver, family: int, addresses: list[str], asked: str
) -> None:
    answer = await resolve_mx("two-mx.probe.test", resolver, family=family)
    assert answer.hosts[0].addresses == addresses
    assert {rdtype for name, rdtype in fake_dns.queries if name == "mx1.probe.test"} == {asked}


async def test_family_filter_can_leave_a_host_without_address(resolver: Resolver) -> None:
    answer = await resolve_mx("two-mx.probe.test", resolver, family=6)
    mx2 = answer.hosts[1]
    assert (mx2.addresses, mx2.error) == ([], "no IPv6 address (AAAA record)")
    assert finding(answer, "mx-no-address").severity is Severity.INFO  # the prober's choice, not a fault
    implicit = await resolve_mx("implicit-aaaa.probe.test", resolver, family=4)
    assert implicit.kind == "no_mail_hosts"


async def test_big_mx_set_arrives_over_tcp(fake_dns: FakeDNS, resolver: Resolver) -> None:
    answer = await resolve_mx("big-mx.probe.test", resolver)
    assert len(answer.hosts) == 60
    assert [mx.preference for mx in answer.hosts] == list(range(10, 70))
    assert ("big-mx.probe.test", "MX") in fake_dns.tcp_queries


# -- resolve_host ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [("192.0.2.5", "192.0.2.5"), ("[192.0.2.5]", "192.0.2.5"), ("::1", "::1"), ("[IPv6:2001:db8::1]", "2001:db8::1")],
)
async def test_ip_literal_host_is_its_own_address(
    fake_dns: FakeDNS, resolver: Resolver, host: str, address: str
) -> None:
    assert await resolve_host(host, resolver) == ([address], None)
    assert fake_dns.queries == []


async def test_resolve_host_by_name_and_family(resolver: Resolver) -> None:
    assert await resolve_host("mx1.probe.test", resolver) == (["127.0.0.1", "::1"], None)
    assert await resolve_host("mx1.probe.test", resolver, family=6) == (["::1"], None)
    assert await resolve_host("v6only.probe.test", resolver, family=4) == ([], "no IPv4 address (A record)")


async def test_resolve_host_failures_are_values(resolver: Resolver) -> None:
    assert await resolve_host("missing.probe.test", resolver) == ([], "host name does not exist (NXDOMAIN)")
    addresses, error = await resolve_host("broken.probe.test", resolver)
    assert addresses == [] and error is not None and "SERVFAIL" in error


# -- generic lookups ---------------------------------------------------------------------------


async def test_txt_records_join_their_character_strings(resolver: Resolver) -> None:
    spf = await lookup_txt("two-mx.probe.test", resolver)
    assert (spf.status, spf.records) == ("ok", ["v=spf1 ip4:127.0.0.0/8 -all"])
    sts = await lookup_txt("_mta-sts.two-mx.probe.test", resolver)
    rpt = await lookup_txt("_smtp._tls.two-mx.probe.test", resolver)
    assert sts.records == ["v=STSv1; id=20240101T000000"]
    assert rpt.records == ["v=TLSRPTv1; rua=mailto:tlsrpt@two-mx.probe.test"]


async def test_lookup_statuses(resolver: Resolver) -> None:
    assert (await lookup_txt("nope.probe.test", resolver)).status == "nxdomain"
    assert (await lookup_txt("mx1.probe.test", resolver)).status == "nodata"
    failed = await lookup_txt("servfail.probe.test", resolver)
    assert failed.status == "error" and failed.error is not None and "SERVFAIL" in failed.error
    assert (failed.records, failed.failure) == ([], "servfail")
    assert (await lookup_txt("two-mx.probe.test", resolver)).failure is None
    timed_out = await lookup_tlsa("timeout.probe.test", resolver)
    assert timed_out.status == "error" and timed_out.error is not None and "no answer within" in timed_out.error


async def test_ptr_lookup(resolver: Resolver) -> None:
    found = await lookup_ptr("127.0.0.1", resolver)
    assert (found.status, found.records) == ("ok", ["mx1.probe.test"])
    assert (await lookup_ptr("127.0.0.99", resolver)).status == "nxdomain"
    bad = await lookup_ptr("not-an-ip", resolver)
    assert bad.status == "error" and bad.error is not None


async def test_tlsa_records_and_the_ad_bit_from_a_secure_name(resolver: Resolver) -> None:
    tlsa = await lookup_tlsa("_25._tcp.mx1.probe.test", resolver)
    assert tlsa.status == "ok" and tlsa.authenticated is True
    [record] = tlsa.records
    assert (record.usage, record.selector, record.mtype) == (3, 1, 1)
    assert record.cert.hex() == "0123456789abcdef" * 4
    plain = await lookup_txt("two-mx.probe.test", resolver)
    assert plain.authenticated is False


async def test_lookup_addresses(resolver: Resolver) -> None:
    both = await lookup_addresses("alias.probe.test", resolver)
    assert (both.status, both.records, both.canonical_name) == ("ok", ["127.0.0.1", "::1"], "mx1.probe.test")
    assert (await lookup_addresses("noaddr.probe.test", resolver)).status == "nodata"
    assert (await lookup_addresses("missing.probe.test", resolver)).status == "nxdomain"
    assert (await lookup_addresses("a..b", resolver)).status == "error"
