"""FakeDNS answers like an authoritative server: rcodes, SOA placement, CNAMEs, TC/TCP, switches."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from probe.testing.fakedns import FakeDNS

ZONES = Path(__file__).resolve().parents[2] / "fixtures" / "zones"
TIMEOUT_S = 0.5

SMALL_ZONE = """
$TTL 60
@     SOA  ns.small.test. host.small.test. 1 60 60 60 60
@     MX   10 mx.small.test.
mx    A    127.0.0.9
both  A    127.0.0.10
both  AAAA ::1
"""


async def ask(
    server: FakeDNS, name: str, rdtype: str, *, tcp: bool = False, payload: int | None = None, ad: bool = False
) -> dns.message.Message:
    flags = dns.flags.RD | (dns.flags.AD if ad else 0)
    query = dns.message.make_query(name, rdtype, use_edns=0 if payload else None, payload=payload or 0, flags=flags)
    send = dns.asyncquery.tcp if tcp else dns.asyncquery.udp
    return await send(query, server.host, timeout=TIMEOUT_S, port=server.port)


def rcode(response: dns.message.Message) -> str:
    return dns.rcode.to_text(response.rcode())


async def test_answers_records_of_the_asked_type_authoritatively(fake_dns: FakeDNS) -> None:
    response = await ask(fake_dns, "two-mx.probe.test", "MX")
    assert rcode(response) == "NOERROR"
    assert response.flags & dns.flags.AA
    assert sorted(r.to_text() for r in response.answer[0]) == ["10 mx1.probe.test.", "20 mx2.probe.test."]


async def test_nxdomain_and_nodata_both_carry_the_zone_soa(fake_dns: FakeDNS) -> None:
    missing = await ask(fake_dns, "nope.probe.test", "A")
    empty = await ask(fake_dns, "noaddr.probe.test", "A")
    assert rcode(missing) == "NXDOMAIN" and not missing.answer
    assert rcode(empty) == "NOERROR" and not empty.answer
    for response in (missing, empty):
        assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]


async def test_most_specific_zone_answers_for_its_names(fake_dns: FakeDNS) -> None:
    response = await ask(fake_dns, "two-mx.probe.test", "AAAA")  # NODATA in the child zone
    assert response.authority[0].name.to_text() == "two-mx.probe.test."


async def test_cname_is_chased_in_the_answer(fake_dns: FakeDNS) -> None:
    response = await ask(fake_dns, "alias.probe.test", "A")
    kinds = [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in response.answer]
    assert kinds == [("alias.probe.test.", "CNAME"), ("mx1.probe.test.", "A")]
    cname_only = await ask(fake_dns, "alias.probe.test", "CNAME")
    assert [dns.rdatatype.to_text(rrset.rdtype) for rrset in cname_only.answer] == ["CNAME"]


async def test_names_outside_the_zones_are_refused(fake_dns: FakeDNS) -> None:
    assert rcode(await ask(fake_dns, "example.com", "MX")) == "REFUSED"


async def test_switches_servfail_refused_and_drop(fake_dns: FakeDNS) -> None:
    assert rcode(await ask(fake_dns, "servfail.probe.test", "MX")) == "SERVFAIL"
    assert rcode(await ask(fake_dns, "refused.probe.test", "MX")) == "REFUSED"
    with pytest.raises(dns.exception.Timeout):
        await ask(fake_dns, "timeout.probe.test", "MX")
    assert ("timeout.probe.test", "MX") in fake_dns.queries  # it was heard, just not answered


async def test_a_switch_can_name_one_record_type() -> None:
    async with FakeDNS({"small.test.": SMALL_ZONE}, servfail=["both.small.test AAAA"]) as server:
        assert rcode(await ask(server, "both.small.test", "A")) == "NOERROR"
        assert rcode(await ask(server, "both.small.test", "AAAA")) == "SERVFAIL"


async def test_ad_bit_only_for_secure_names_and_only_when_asked(fake_dns: FakeDNS) -> None:
    secure = "_25._tcp.mx1.probe.test"
    assert (await ask(fake_dns, secure, "TLSA", ad=True)).flags & dns.flags.AD
    assert not (await ask(fake_dns, secure, "TLSA")).flags & dns.flags.AD
    assert not (await ask(fake_dns, "two-mx.probe.test", "MX", ad=True)).flags & dns.flags.AD


async def test_big_answer_is_truncated_over_udp_and_whole_over_tcp(fake_dns: FakeDNS) -> None:
    over_udp = await ask(fake_dns, "big-mx.probe.test", "MX", payload=1232)
    assert over_udp.flags & dns.flags.TC and not over_udp.answer
    over_tcp = await ask(fake_dns, "big-mx.probe.test", "MX", tcp=True)
    assert not over_tcp.flags & dns.flags.TC and len(over_tcp.answer[0]) == 60
    assert fake_dns.tcp_queries == [("big-mx.probe.test", "MX")]


async def test_udp_limit_follows_the_clients_edns_payload(fake_dns: FakeDNS) -> None:
    without_edns = await ask(fake_dns, "big-mx.probe.test", "MX")  # 512 bytes
    with_big_payload = await ask(fake_dns, "big-mx.probe.test", "MX", payload=4096)
    assert without_edns.flags & dns.flags.TC
    assert not with_big_payload.flags & dns.flags.TC and len(with_big_payload.answer[0]) == 60


async def test_query_log_lists_name_and_type(fake_dns: FakeDNS) -> None:
    await ask(fake_dns, "Two-MX.Probe.Test", "MX")
    await ask(fake_dns, "1.0.0.127.in-addr.arpa", "PTR")
    assert fake_dns.queries == [("two-mx.probe.test", "MX"), ("1.0.0.127.in-addr.arpa", "PTR")]


async def test_garbage_datagram_is_ignored_and_service_goes_on(fake_dns: FakeDNS) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x00\x01garbage", fake_dns.address)
    assert rcode(await ask(fake_dns, "two-mx.probe.test", "MX")) == "NOERROR"


async def test_query_with_no_question_gets_formerr(fake_dns: FakeDNS) -> None:
    query = dns.message.make_query("two-mx.probe.test", "MX")
    query.question = []
    response = await dns.asyncquery.udp(query, fake_dns.host, timeout=TIMEOUT_S, port=fake_dns.port)
    assert rcode(response) == "FORMERR"


async def test_zones_from_text_and_added_later() -> None:
    server = FakeDNS({"small.test.": SMALL_ZONE})
    server.add_zone("later.test.", "$TTL 60\n@ SOA ns.later.test. h.later.test. 1 60 60 60 60\n@ A 127.0.0.11\n")
    async with server:
        assert (await ask(server, "mx.small.test", "A")).answer[0][0].to_text() == "127.0.0.9"
        assert (await ask(server, "later.test", "A")).answer[0][0].to_text() == "127.0.0.11"


def test_zone_files_are_named_after_their_origin() -> None:
    server = FakeDNS.from_files(ZONES.glob("*.zone"))
    origins = {origin.to_text() for origin in server.zones}
    assert {"probe.test.", "two-mx.probe.test.", "null-mx.probe.test.", "127.in-addr.arpa."} <= origins


async def test_tcp_connection_stays_open_for_several_queries(fake_dns: FakeDNS) -> None:
    reader, writer = await asyncio.open_connection(*fake_dns.address)
    try:
        for name in ("two-mx.probe.test", "null-mx.probe.test"):
            wire = dns.message.make_query(name, "MX").to_wire()
            writer.write(len(wire).to_bytes(2, "big") + wire)
            length = int.from_bytes(await reader.readexactly(2), "big")
            response = dns.message.from_wire(await reader.readexactly(length))
            assert rcode(response) == "NOERROR" and response.answer
    finally:
        writer.close()
    assert [name for name, _type in fake_dns.tcp_queries] == ["two-mx.probe.test", "null-mx.probe.test"]


async def test_close_stops_both_transports_and_is_idempotent() -> None:
    server = FakeDNS({"small.test.": SMALL_ZONE})
    port = await server.start()
    await server.aclose()
    server.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    with pytest.raises(dns.exception.Timeout):
        await dns.asyncquery.udp(dns.message.make_query("small.test", "MX"), "127.0.0.1", timeout=0.2, port=port)


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
async def test_serves_on_ipv6_loopback() -> None:
    server = FakeDNS({"small.test.": SMALL_ZONE})
    await server.start("::1")
    try:
        assert server.address[0] == "::1"
        assert rcode(await ask(server, "small.test", "MX")) == "NOERROR"
    finally:
        await server.aclose()
