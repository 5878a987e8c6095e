"""I/O layer: DNS lookups (MX walk, A/AAAA, TXT, PTR, TLSA) returning plain data; no SMTP, no classification.

The only module that builds resolvers. Every lookup returns its failure as a value: a
SERVFAIL, REFUSED or timeout is an error ("we could not find out"), never "does not exist";
only an NXDOMAIN answer says a name does not exist.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # dnspython is imported by the first DNS question (a probe of an IP literal asks none)
    import dns.asyncresolver
    import dns.name
    import dns.rdatatype
    import dns.resolver

from probe.errors import InputError
from probe.model import Finding, MxHost, Severity

LookupStatus = Literal["ok", "nxdomain", "nodata", "error"]
# What kind of failure an "error" was, for callers that explain it (the runner's dns-servfail vs dns-timeout)
Failure = Literal["servfail", "refused", "timeout", "invalid_name", "network"]
MxKind = Literal["mx", "implicit", "null", "nxdomain", "dns_error", "no_mail_hosts"]

_EDNS_PAYLOAD = 1232  # DNS flag day 2020: avoids IP fragmentation; larger answers go over TCP
# Answers kept per resolver: a batch over many distinct domains must not grow without bound
# (dns.resolver.Cache keeps every answer until its TTL passes; the LRU cache evicts the oldest).
CACHE_SIZE = 10_000


@dataclass(slots=True)
class Lookup:
    """One DNS question's outcome. `records`: TXT strings, PTR host names, IP strings or TLSA rdata."""

    records: list[Any]
    status: LookupStatus
    error: str | None = None  # one line, for status "error" (or a partial failure of an "ok" lookup)
    authenticated: bool = False  # the AD bit of the response (only meaningful from a validating resolver)
    canonical_name: str | None = None  # the name the answer belongs to after CNAMEs (no final dot)
    failure: Failure | None = None  # set whenever `error` is


@dataclass(slots=True)
class MxAnswer:
    """The mail hosts of a domain, in the order a sender tries them."""

    kind: MxKind
    hosts: list[MxHost] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None  # for dns_error: what failed, e.g. "SERVFAIL from 127.0.0.1:53"
    failure: Failure | None = None  # for dns_error: "servfail" | "refused" | "timeout" | "invalid_name" | "network"
    elapsed_ms: float = 0.0


# -- resolvers ---------------------------------------------------------------------------------


def make_resolver(nameservers: Sequence[tuple[str, int]] = (), *, timeout_s: float = 5.0) -> dns.asyncresolver.Resolver:
    """A resolver for one run: () = the system's configuration, else exactly these (IP, port) servers.

    Each server gets an equal share of `timeout_s`; one question never takes longer than
    `timeout_s`. Answers are cached (the CACHE_SIZE most recently used). Queries carry EDNS0 (1232 bytes)
    and the AD flag (RFC 6840 §5.7), so a validating resolver reports DNSSEC status.
    Raises InputError when the system configuration is unreadable or a server is not an IP.
    """
    import dns.asyncresolver
    import dns.exception
    import dns.flags
    import dns.inet
    import dns.nameserver
    import dns.resolver

    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        servers: list[str | dns.nameserver.Nameserver] = []
        for address, port in nameservers:
            if not dns.inet.is_address(address):
                raise InputError(f"DNS server {address!r} is not an IP address")
            if not 0 < port < 65536:
                raise InputError(f"DNS server port {port} is out of range (1-65535)")
            servers.append(dns.nameserver.Do53Nameserver(address, port))
        resolver.nameservers = servers
    else:
        try:
            resolver = dns.asyncresolver.Resolver(configure=True)
        except (dns.exception.DNSException, OSError, ValueError) as error:
            raise InputError(f"cannot read the system's DNS configuration: {error}") from error
    resolver.lifetime = timeout_s
    resolver.timeout = timeout_s / max(1, len(resolver.nameservers))
    resolver.cache = dns.resolver.LRUCache(max_size=CACHE_SIZE)
    resolver.use_edns(0, 0, _EDNS_PAYLOAD)
    resolver.flags = dns.flags.RD | dns.flags.AD
    return resolver


class LazyResolver:
    """make_resolver's resolver, made when first used: a probe that asks no DNS question (an IP
    literal given with --mx, no policies) never loads dnspython. Attributes go to the real one."""

    def __init__(self, nameservers: Sequence[tuple[str, int]] = (), *, timeout_s: float = 5.0) -> None:
        self._arguments = (tuple(nameservers), timeout_s)
        self._resolver: dns.asyncresolver.Resolver | None = None

    def real(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            nameservers, timeout_s = self._arguments
            self._resolver = make_resolver(nameservers, timeout_s=timeout_s)
        return self._resolver

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


def _server_text(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _servers_text(resolver: dns.resolver.BaseResolver) -> str:
    import dns.nameserver

    parts = []
    for server in resolver.nameservers:
        if isinstance(server, dns.nameserver.AddressAndPortNameserver):
            parts.append(_server_text(server.address, server.port))
        else:
            parts.append(str(server))
    return ", ".join(parts) or "no nameservers"


def _failure(error: Exception, resolver: dns.resolver.BaseResolver) -> tuple[Failure, str]:
    """What kind of failure, and one line naming it: 'SERVFAIL from 127.0.0.1:53', 'no answer within 2 s from ...'."""
    import dns.exception
    import dns.name
    import dns.resolver

    if isinstance(error, dns.resolver.NoNameservers):
        seen: list[str] = []
        problems: list[str] = []
        for server, _tcp, port, problem, *_rest in error.kwargs.get("errors", []):
            address = str(server).split(":", 1)[1].rsplit("@", 1)[0] if str(server).startswith("Do53:") else str(server)
            text = f"{problem} from {_server_text(address, port)}"
            problems.append(str(problem))
            if text not in seen:
                seen.append(text)
        kind: Failure = "servfail" if "SERVFAIL" in problems else "refused" if "REFUSED" in problems else "network"
        return kind, "; ".join(seen) if seen else f"no usable nameserver ({_servers_text(resolver)})"
    if isinstance(error, dns.exception.Timeout):
        return "timeout", f"no answer within {resolver.lifetime:g} s from {_servers_text(resolver)}"
    if isinstance(error, (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel)):
        return "invalid_name", f"invalid name: {error}"
    return "network", f"{type(error).__name__}: {error}"


# -- one question ------------------------------------------------------------------------------


def _plain_name(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


async def _ask(name: str, rdtype: dns.rdatatype.RdataType, resolver: dns.asyncresolver.Resolver) -> tuple[Lookup, Any]:
    """Ask one question; (Lookup without records, the rrset or None). Never raises."""
    import dns.exception
    import dns.flags
    import dns.name
    import dns.resolver

    if not name.strip().rstrip("."):
        return Lookup([], "error", "invalid name: empty", failure="invalid_name"), None
    try:
        qname = dns.name.from_text(name)
    except (dns.exception.DNSException, ValueError) as error:
        return Lookup([], "error", f"invalid name {name[:80]!r}: {error}", failure="invalid_name"), None
    try:
        answer = await resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return Lookup([], "nxdomain"), None
    except (dns.exception.DNSException, OSError, ValueError) as error:
        failure, text = _failure(error, resolver)
        return Lookup([], "error", text, failure=failure), None
    authenticated = bool(answer.response.flags & dns.flags.AD)
    canonical = _plain_name(answer.canonical_name)
    status: LookupStatus = "ok" if answer.rrset is not None else "nodata"
    return Lookup([], status, authenticated=authenticated, canonical_name=canonical), answer.rrset


async def lookup_txt(name: str, resolver: dns.asyncresolver.Resolver) -> Lookup:
    """TXT records, each record's character-strings joined (RFC 7208 §3.3 style)."""
    import dns.rdatatype

    lookup, rrset = await _ask(name, dns.rdatatype.TXT, resolver)
    if rrset is not None:
        lookup.records = [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in rrset]
    return lookup


async def lookup_ptr(ip: str, resolver: dns.asyncresolver.Resolver) -> Lookup:
    """Host names of an IP address (no final dot); status "error" for something that is not an IP."""
    import dns.exception
    import dns.rdatatype
    import dns.reversename

    try:
        reverse = dns.reversename.from_address(ip.strip("[]"))
    except (dns.exception.DNSException, ValueError):
        return Lookup([], "error", f"not an IP address: {ip!r}", failure="invalid_name")
    lookup, rrset = await _ask(reverse.to_text(), dns.rdatatype.PTR, resolver)
    if rrset is not None:
        lookup.records = [_plain_name(rdata.target) for rdata in rrset]
    return lookup


async def lookup_tlsa(name: str, resolver: dns.asyncresolver.Resolver) -> Lookup:
    """TLSA rdata objects (.usage .selector .mtype .cert) for a name like '_25._tcp.mx.example.com'."""
    import dns.rdatatype

    lookup, rrset = await _ask(name, dns.rdatatype.TLSA, resolver)
    if rrset is not None:
        lookup.records = list(rrset)
    return lookup


def _families(family: int | None) -> tuple[dns.rdatatype.RdataType, ...]:
    import dns.rdatatype

    if family == 4:
        return (dns.rdatatype.A,)
    if family == 6:
        return (dns.rdatatype.AAAA,)
    return (dns.rdatatype.A, dns.rdatatype.AAAA)


async def lookup_addresses(name: str, resolver: dns.asyncresolver.Resolver, *, family: int | None = None) -> Lookup:
    """A then AAAA addresses (or one family). "ok" when any address came back; a failure of the
    other family is then kept in `error`. "error" only when nothing came back and a query failed."""
    asked = await asyncio.gather(*(_ask(name, rdtype, resolver) for rdtype in _families(family)))
    records: list[Any] = [rdata.address for _lookup, rrset in asked if rrset is not None for rdata in rrset]
    parts = [lookup for lookup, _rrset in asked]
    errors = [p.error for p in parts if p.status == "error" and p.error]
    error = "; ".join(dict.fromkeys(errors)) or None
    canonical = next((p.canonical_name for p in parts if p.canonical_name), None)
    authenticated = all(p.authenticated for p in parts)
    status: LookupStatus
    if records:
        status = "ok"
    elif errors:
        status = "error"
    elif any(p.status == "nxdomain" for p in parts):
        status = "nxdomain"
    else:
        status = "nodata"
    failure = next((p.failure for p in parts if p.failure), None)
    return Lookup(records, status, error, authenticated, canonical, failure)


def _ip_literal(host: str) -> str | None:
    """'192.0.2.1', '[192.0.2.1]', '[IPv6:2001:db8::1]' -> the address; None for a host name."""
    text = host.rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
        if text.lower().startswith("ipv6:"):
            text = text[5:]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


async def resolve_host(
    host: str, resolver: dns.asyncresolver.Resolver, *, family: int | None = None
) -> tuple[list[str], str | None]:
    """The addresses of one host (for --mx HOST), or why there are none. An IP literal is its own address."""
    literal = _ip_literal(host)
    if literal is not None:
        return [literal], None
    lookup = await lookup_addresses(host, resolver, family=family)
    if lookup.records:
        return list(lookup.records), None
    return [], _no_address_text(lookup, family)


def _no_address_text(lookup: Lookup, family: int | None) -> str:
    if lookup.status == "error":
        return f"address lookup failed: {lookup.error}"
    if lookup.status == "nxdomain":
        return "host name does not exist (NXDOMAIN)"
    wanted = {4: "no IPv4 address (A record)", 6: "no IPv6 address (AAAA record)"}
    return wanted.get(family or 0, "no address records (A or AAAA)")


# -- the MX walk -------------------------------------------------------------------------------


def _order(records: list[tuple[int, str]], rng: random.Random) -> list[tuple[int, str]]:
    """Preference ascending; equal preferences shuffled (RFC 5321 §5.1), so load spreads."""
    ordered: list[tuple[int, str]] = []
    for preference in sorted({p for p, _h in records}):
        group = [r for r in records if r[0] == preference]
        rng.shuffle(group)
        ordered.extend(group)
    return ordered


async def _mx_host(
    preference: int, host: str, resolver: dns.asyncresolver.Resolver, family: int | None
) -> tuple[MxHost, list[Finding]]:
    """One MX target with its addresses, and what is odd about it."""
    mx = MxHost(host=host, preference=preference, addresses=[])
    if _ip_literal(host) is not None:
        mx.error = "the MX target is an IP address, not a host name (RFC 5321 §5.1)"
        why = "an MX record must name a host that has A/AAAA records (RFC 5321 §5.1, RFC 7505 §3)"
        return mx, [_warning("mx-is-ip-literal", host, f"MX target {host} is an IP address; {why}: use a host name.")]
    lookup = await lookup_addresses(host, resolver, family=family)
    mx.addresses = list(lookup.records)
    findings: list[Finding] = []
    if lookup.canonical_name and lookup.canonical_name.lower() != host.lower():
        why = "MX records must name the host itself (RFC 2181 §10.3, RFC 5321 §5.1)"
        text = f"MX target {host} is an alias (CNAME) of {lookup.canonical_name}; {why}: point the MX there."
        findings.append(_warning("mx-is-cname", host, text))
    if lookup.status == "error":
        mx.error = f"address lookup failed: {lookup.error}"
        text = f"The address lookup for MX host {host} failed ({lookup.error}); it cannot be tried this time."
        findings.append(_warning("mx-dns-error", host, text))
    elif lookup.error:
        text = f"One address lookup for MX host {host} failed ({lookup.error}); only the addresses found are used."
        findings.append(_warning("mx-dns-error", host, text))
    elif not mx.addresses:
        mx.error = _no_address_text(lookup, family)
        if family is not None and lookup.status == "nodata":  # a choice of the prober, not a misconfiguration
            text = f"MX host {host} has {mx.error}; it cannot be tried over IPv{family}."
            findings.append(Finding("mx-no-address", Severity.INFO, text, host))
        else:
            text = (
                f"MX host {host} has no usable address ({mx.error}): it cannot receive mail, and senders do not "
                "fall back to the domain's own address. Give it A/AAAA records or remove the MX record."
            )
            findings.append(_warning("mx-no-address", host, text))
    findings.extend(_private_findings(host, mx.addresses))
    return mx, findings


def _warning(finding_id: str, subject: str, message: str) -> Finding:
    return Finding(finding_id, Severity.WARNING, message, subject)


def _private_findings(host: str, addresses: list[str]) -> list[Finding]:
    """Info when a mail host resolves to loopback, private, link-local or other non-public space."""
    private = [a for a in addresses if not ipaddress.ip_address(a).is_global]
    if not private:
        return []
    return [
        Finding(
            "mx-private-address",
            Severity.INFO,
            f"Mail host {host} resolves to non-public address(es) {', '.join(private)}; "
            "senders on the Internet cannot reach it there.",
            host,
        )
    ]


async def resolve_mx(
    domain: str,
    resolver: dns.asyncresolver.Resolver,
    *,
    family: int | None = None,
    rng: random.Random | None = None,
) -> MxAnswer:
    """The mail hosts of `domain` (A-label form) per RFC 5321 §5.1 and RFC 7505. Never raises."""
    started = time.perf_counter()
    answer = await _walk(domain.rstrip("."), resolver, family, rng or random.Random())
    answer.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return answer


async def _walk(domain: str, resolver: dns.asyncresolver.Resolver, family: int | None, rng: random.Random) -> MxAnswer:
    import dns.name
    import dns.rdatatype

    lookup, rrset = await _ask(domain, dns.rdatatype.MX, resolver)
    if lookup.status == "error":
        return MxAnswer("dns_error", error=lookup.error, failure=lookup.failure)
    if lookup.status == "nxdomain":
        return MxAnswer("nxdomain")
    if lookup.status == "nodata":
        return await _implicit(domain, resolver, family)
    records = sorted({(rdata.preference, rdata.exchange) for rdata in rrset})
    findings: list[Finding] = []
    real = [(p, _plain_name(name)) for p, name in records if name != dns.name.root]
    if len(real) < len(records):  # a "0 ." record: RFC 7505 null MX
        if not real:
            return MxAnswer("null")
        findings.append(
            _warning(
                "null-mx-mixed",
                domain,
                f"{domain} publishes a null MX (0 .) together with other MX records, a misconfiguration "
                "(RFC 7505 §3); senders use the other records: remove one or the other.",
            )
        )
    resolved = await asyncio.gather(*(_mx_host(p, h, resolver, family) for p, h in _order(real, rng)))
    hosts = [mx for mx, _f in resolved]
    findings.extend(f for _mx, host_findings in resolved for f in host_findings)
    return MxAnswer("mx", hosts, findings)


async def _implicit(domain: str, resolver: dns.asyncresolver.Resolver, family: int | None) -> MxAnswer:
    """No MX records: the domain's own addresses are its mail host (RFC 5321 §5.1)."""
    lookup = await lookup_addresses(domain, resolver, family=family)
    if lookup.status == "error":
        error = f"address lookup for {domain} (no MX records): {lookup.error}"
        return MxAnswer("dns_error", error=error, failure=lookup.failure)
    if not lookup.records:
        return MxAnswer("no_mail_hosts")
    host = MxHost(host=domain, preference=0, addresses=list(lookup.records), implicit=True)
    findings = [
        Finding(
            "implicit-mx",
            Severity.INFO,
            f"{domain} has no MX records; senders use its own address records (implicit MX, RFC 5321 §5.1). "
            "Publish an MX record to make the mail host explicit.",
            domain,
        )
    ]
    if lookup.error:
        findings.append(
            _warning(
                "mx-dns-error",
                domain,
                f"One address lookup for {domain} failed ({lookup.error}); only the addresses found are used.",
            )
        )
    findings.extend(_private_findings(domain, host.addresses))
    return MxAnswer("implicit", [host], findings)
