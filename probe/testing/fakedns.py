"""Testing layer: an in-process authoritative DNS server on loopback serving zone files; never used by a live probe.

`FakeDNS` answers UDP and TCP on one port (port 0 = ephemeral) from dnspython zones, the way
an authoritative server does: NXDOMAIN versus NODATA (with the zone's SOA in the authority
section), CNAME chasing across the zones it serves, the TC bit when an answer does not fit
the client's UDP payload size (the client then retries over TCP), and REFUSED for names
outside its zones. Switches make chosen names misbehave: SERVFAIL, REFUSED, no answer at all
(the client times out), or an answer with the AD bit (as a validating resolver would give).
A switch entry is a name ('broken.test', every type) or a name and a type ('broken.test AAAA').

    async with FakeDNS.from_files(Path("fixtures/zones").glob("*.zone"), drop=["timeout.probe.test"]) as dns:
        resolver = make_resolver([dns.address])
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

_PLAIN_UDP_LIMIT = 512  # RFC 1035 §4.2.1: a client without EDNS accepts this much over UDP
_MAX_CNAME_HOPS = 8
_BIND_ATTEMPTS = 5  # the ephemeral UDP port may be taken for TCP; try a fresh one


_Switch = frozenset[tuple[dns.name.Name, dns.rdatatype.RdataType | None]]


def _switch(values: Iterable[str]) -> _Switch:
    """'broken.test' (every type) or 'broken.test AAAA' (that type only) -> (name, type or None)."""
    entries = set()
    for value in values:
        name, _space, rdtype = value.strip().partition(" ")
        entries.add((dns.name.from_text(name), dns.rdatatype.from_text(rdtype) if rdtype.strip() else None))
    return frozenset(entries)


def _hit(switch: _Switch, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> bool:
    return (name, None) in switch or (name, rdtype) in switch


def _rrset(owner: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(owner, rdataset.ttl, list(rdataset))


def _origin_of(path: Path) -> str:
    """fixtures/zones/probe.test.zone -> 'probe.test.'."""
    stem = path.name.removesuffix(".zone")
    return stem if stem.endswith(".") else stem + "."


class FakeDNS:
    """An authoritative DNS server for one test (or one demo run), serving several zones."""

    def __init__(
        self,
        zones: Mapping[str, str] | Iterable[dns.zone.Zone] = (),
        *,
        servfail: Iterable[str] = (),
        refused: Iterable[str] = (),
        drop: Iterable[str] = (),
        secure: Iterable[str] = (),
    ) -> None:
        self.zones: dict[dns.name.Name, dns.zone.Zone] = {}
        if isinstance(zones, Mapping):
            for origin, text in zones.items():
                self.add_zone(origin, text)
        else:
            for zone in zones:
                self._add(zone)
        self.servfail = _switch(servfail)
        self.refused = _switch(refused)
        self.drop = _switch(drop)
        self.secure = _switch(secure)
        self.queries: list[tuple[str, str]] = []  # (name without final dot, type), every transport
        self.tcp_queries: list[tuple[str, str]] = []  # the subset that came over TCP
        self.host = "127.0.0.1"
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], **switches: Iterable[str]) -> FakeDNS:
        """One zone per file, named after its origin: fixtures/zones/probe.test.zone serves probe.test."""
        zones = []
        for raw in sorted(Path(p) for p in paths):
            text = raw.read_text(encoding="utf-8")
            zones.append(dns.zone.from_text(text, _origin_of(raw), relativize=False, filename=str(raw)))
        return cls(zones, **switches)

    def add_zone(self, origin: str, text: str) -> None:
        """Serve one more zone (origin like 'demo.test.'); replaces a zone with the same origin.

        The zone needs no NS records; without an SOA, negative answers carry no authority section.
        """
        self._add(dns.zone.from_text(text, origin, relativize=False, check_origin=False))

    def _add(self, zone: dns.zone.Zone) -> None:
        if zone.origin is None:
            raise ValueError("a served zone needs an origin")
        self.zones[zone.origin] = zone

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) to give a resolver; valid after start()."""
        return (self.host, self.port)

    # -- answering ---------------------------------------------------------------------------

    def _zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        """The most specific served zone containing `name` (child zones win over parents)."""
        best: tuple[int, dns.zone.Zone] | None = None
        for origin, zone in self.zones.items():
            if name.is_subdomain(origin) and (best is None or len(origin) > best[0]):
                best = (len(origin), zone)
        return best[1] if best is not None else None

    def respond(self, query: dns.message.Message) -> dns.message.Message | None:
        """The response to one query, or None to stay silent (a dropped name)."""
        if len(query.question) != 1:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.FORMERR)
            return response
        qname, qtype = query.question[0].name, query.question[0].rdtype
        self.queries.append((qname.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(qtype)))
        if _hit(self.drop, qname, qtype):
            return None
        response = dns.message.make_response(query)
        if _hit(self.servfail, qname, qtype):
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        if _hit(self.refused, qname, qtype) or self._zone_for(qname) is None:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        response.flags |= dns.flags.AA
        self._fill(response, qname, qtype)
        asked_for_ad = bool(query.flags & dns.flags.AD) or bool(query.ednsflags & dns.flags.DO)
        if _hit(self.secure, qname, qtype) and asked_for_ad:
            response.flags |= dns.flags.AD
        return response

    def _fill(self, response: dns.message.Message, qname: dns.name.Name, qtype: dns.rdatatype.RdataType) -> None:
        """Answer section with CNAME chasing; SOA in authority for NXDOMAIN and NODATA."""
        name = qname
        zone = self._zone_for(name)
        for _ in range(_MAX_CNAME_HOPS):
            zone = self._zone_for(name)
            if zone is None:  # the chain left our zones: the client chases it elsewhere
                return
            node = zone.get_node(name)
            if node is None:
                response.set_rcode(dns.rcode.NXDOMAIN)  # RFC 6604: the rcode is about the last name
                break
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is not None and qtype != dns.rdatatype.CNAME:
                response.answer.append(_rrset(name, cname))
                name = cname[0].target
                continue
            found = node.get_rdataset(dns.rdataclass.IN, qtype)
            if found is not None:
                response.answer.append(_rrset(name, found))
            break
        answered = any(rrset.name == name and rrset.rdtype == qtype for rrset in response.answer)
        if zone is not None and zone.origin is not None and not answered:
            soa = zone.get_rdataset(zone.origin, dns.rdatatype.SOA)
            if soa is not None:
                response.authority.append(_rrset(zone.origin, soa))

    def _answer_wire(self, wire: bytes, *, udp: bool) -> bytes | None:
        """Wire in, wire out; None when there is nothing to send (dropped name, unreadable bytes)."""
        try:
            query = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError):
            return None
        response = self.respond(query)
        if response is None:
            return None
        out = response.to_wire(max_size=65535)
        if not udp:
            return out
        limit = max(query.payload, _PLAIN_UDP_LIMIT) if query.edns >= 0 else _PLAIN_UDP_LIMIT
        if len(out) > limit:  # does not fit: TC with empty sections, the client retries over TCP
            response.flags |= dns.flags.TC
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            out = response.to_wire(max_size=65535)
        return out

    # -- serving -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on UDP and TCP at the same port of `host`; returns the port."""
        loop = asyncio.get_running_loop()
        server = self
        last_error: OSError | None = None

        class _Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                # CPython's selector transport does not subclass DatagramTransport: cast, not isinstance
                self.transport = cast(asyncio.DatagramTransport, transport)

            def datagram_received(self, data: bytes, addr: Any) -> None:
                out = server._answer_wire(data, udp=True)
                if out is not None:
                    self.transport.sendto(out, addr)

        for _ in range(_BIND_ATTEMPTS if port == 0 else 1):
            udp, _protocol = await loop.create_datagram_endpoint(_Udp, local_addr=(host, port))
            bound_port: int = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, host, bound_port)
            except OSError as error:
                udp.close()
                last_error = error
                continue
            self._udp, self.host, self.port = udp, host, bound_port
            return bound_port
        raise OSError(f"cannot bind UDP and TCP on the same port of {host}: {last_error}")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tcp_writers.add(writer)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                wire = await reader.readexactly(length)
                before = len(self.queries)
                out = self._answer_wire(wire, udp=False)
                self.tcp_queries.extend(self.queries[before:])
                if out is None:
                    continue  # dropped: stay silent, the client times out
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tcp_writers.discard(writer)
            writer.close()

    def close(self) -> None:
        """Stop listening and drop open TCP connections. Safe to call twice."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._tcp_writers):
            writer.close()

    async def aclose(self) -> None:
        """close(), then wait until the TCP listener is gone."""
        tcp = self._tcp
        self.close()
        if tcp is not None:
            await tcp.wait_closed()
            self._tcp = None

    async def __aenter__(self) -> FakeDNS:
        if self._udp is None:
            await self.start(self.host)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
