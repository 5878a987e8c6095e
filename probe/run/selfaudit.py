"""I/O layer: audits the prober itself (address, PTR, HELO, DNSBLs, port 25); never speaks SMTP or classifies.

Before blaming the target, a probe should say when the trouble is on its own side: port 25
blocked on this network, no reverse DNS for the address the servers see, a HELO name that
does not match it, or a listing on a DNS blocklist. DNS goes through probe.dns.resolve only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import dns.asyncresolver

from probe.dns.resolve import Lookup, lookup_addresses, lookup_ptr, lookup_txt
from probe.errors import InputError
from probe.model import Finding, Severity, to_plain
from probe.run.blocklists import DEFAULT_DNSBL_ZONES, KNOWN_BLOCKLISTS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DnsblStatus = Literal["listed", "not_listed", "refused", "error", "skipped"]


_MAX_PTR_NAMES = 8  # forward-confirm at most this many PTR names
_MAX_EHLO_TEXT = 8192
_BRACKETED = re.compile(r"\[([^\[\]\s]{2,60})(?:\s[^\[\]]{0,80})?\]")  # "[203.0.113.5]", Gmail "[ip   15]"
_CODE_PREFIX = re.compile(r"^\s*\d{3}(?:[ -]|$)")
_REFUSED_NET = ipaddress.ip_network("127.255.255.0/24")
_LOOPBACK_NET = ipaddress.ip_network("127.0.0.0/8")


# -- pure helpers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EchoedAddress:
    """The client address a server echoed back; `is_global`: routable on the Internet (not private, loopback...)."""

    address: str
    is_global: bool


def as_ip(text: str) -> IPAddress | None:
    """'203.0.113.5', 'IPv6:2001:db8::5', '::ffff:203.0.113.5' -> the address (IPv4-mapped made IPv4)."""
    candidate = text.strip().strip("[]")
    candidate = candidate[5:] if candidate.lower().startswith("ipv6:") else candidate
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return (ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else ip


def public_address_from_ehlo(text: str) -> EchoedAddress | None:
    """This machine's address as a server echoed it in an EHLO/HELO reply or banner, or None.

    Exim/Sendmail 'Hello host [203.0.113.5]', Gmail 'at your service, [203.0.113.5]', Microsoft
    'Hello [203.0.113.5]', '[IPv6:2001:db8::5]'. The first word of the reply is the server's own
    name (RFC 5321 §4.1.1.1), so an address literal there is never taken for ours.
    """
    lines = [_CODE_PREFIX.sub("", line, count=1) for line in text[:_MAX_EHLO_TEXT].splitlines()]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return None
    lines[0] = lines[0].strip().partition(" ")[2]  # drop the server's own name
    for line in lines:
        for match in _BRACKETED.finditer(line):
            ip = as_ip(match.group(1))
            if ip is not None:
                return EchoedAddress(str(ip), ip.is_global)
    return None


def plain_name(name: str) -> str:
    """A DNS name or zone as compared here: no surrounding dots or blanks, lower case."""
    return name.strip().strip(".").lower()


def dnsbl_query_name(ip: str, zone: str) -> str:
    """The DNSBL question: reversed octets (IPv4) or nibbles (IPv6) + zone. Raises InputError for a non-IP."""
    address = as_ip(ip)
    if address is None:
        raise InputError(f"{ip!r} is not an IP address")
    import dns.reversename

    reverse = dns.reversename.from_address(str(address)).to_text(omit_final_dot=True)
    suffix = ".in-addr.arpa" if address.version == 4 else ".ip6.arpa"
    return f"{reverse.removesuffix(suffix)}.{plain_name(zone)}"


def dnsbl_status(codes: Sequence[str]) -> tuple[DnsblStatus, str | None]:
    """What a DNSBL's A answer means: (status, why) - 127.255.255.x is the list refusing the query."""
    if not codes:
        return "not_listed", None
    addresses = [as_ip(code) for code in codes]
    if any(a is not None and a in _REFUSED_NET for a in addresses):
        return "refused", "the list refused the query (127.255.255.x: public resolver, over quota or unknown zone)"
    unexpected = [c for c, a in zip(codes, addresses, strict=True)
                  if a is None or a not in _LOOPBACK_NET or (int(a) & 0xFFFFFF) < 2]
    if unexpected:
        return "error", (f"unexpected answer {', '.join(unexpected)}: not a listing code (your resolver may rewrite "
                         "NXDOMAIN, or the list is shut down and answers for every address)")
    return "listed", None


def dnsbl_meaning(zone: str, codes: Sequence[str]) -> str:
    """The documented meaning of a listing's return codes on a known list, else a generic one."""
    known = dict(KNOWN_BLOCKLISTS[zone].codes) if zone in KNOWN_BLOCKLISTS else {}
    meanings = list(dict.fromkeys(known.get(code, f"listed (return code {code})") for code in codes))
    return "; ".join(meanings)


# -- the source audit --------------------------------------------------------------------------


@dataclass(slots=True)
class DnsblResult:
    """One blocklist's answer about one address."""

    zone: str
    query: str
    status: DnsblStatus
    codes: list[str] = field(default_factory=list)  # the A records the list answered
    meaning: str | None = None  # for "listed": what the return codes mean
    reason: str | None = None  # for "listed": the list's TXT record, when it gave one
    removal_url: str | None = None  # known lists: where to look the address up and request removal
    error: str | None = None  # for "refused", "error" and "skipped": why there is no answer


@dataclass(slots=True)
class SourceAudit:
    """What the world sees of this machine as a mail client. JSON: the self-check object."""

    ip: str | None  # the audited address; None when it is unknown
    is_global: bool | None = None
    helo: str | None = None
    ptr: list[str] = field(default_factory=list)  # PTR names of ip
    ptr_status: str | None = None  # ok | nxdomain | nodata | error (None: not checked)
    ptr_error: str | None = None
    forward_confirmed: bool | None = None  # a PTR name resolves back to ip (FCrDNS); None: unknown
    confirmed_name: str | None = None
    helo_matches_ptr: bool | None = None
    helo_resolves_to_ip: bool | None = None  # None: not checked, or the lookup failed
    helo_error: str | None = None
    dnsbl: list[DnsblResult] = field(default_factory=list)
    error: str | None = None  # why nothing could be audited

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    def findings(self) -> list[Finding]:
        """Each problem as one Finding a person can act on (stable ids source-*)."""
        if self.ip is None:
            return [Finding("source-address-unknown", Severity.INFO, self.error or (
                "This machine's public address is unknown, so it was not audited: name it with --source-ip."))]
        found: list[Finding] = []
        if self.is_global is False:
            found.append(Finding("source-not-public", Severity.INFO, (
                f"{self.ip} is not a public address: mail servers see this network's public (NAT) address instead, "
                "so audit that one with --source-ip."), self.ip))
        found.extend(self._ptr_findings())
        found.extend(self._helo_findings())
        found.extend(_dnsbl_finding(self.ip, r) for r in self.dnsbl if r.status in ("listed", "refused"))
        found.extend(_dnsbl_failures([r for r in self.dnsbl if r.status == "error"]))
        return found

    def _ptr_findings(self) -> list[Finding]:
        assert self.ip is not None
        if self.ptr_status in ("nxdomain", "nodata"):
            return [Finding("source-no-ptr", Severity.WARNING, (
                f"{self.ip} has no reverse DNS (PTR) record, and many receivers (Gmail, Microsoft, most "
                "Postfix sites) refuse or defer mail from such addresses: ask the owner of the address (your ISP "
                "or cloud provider) to set a PTR naming a host that resolves back to it."), self.ip)]
        if self.ptr_status == "error":
            return [Finding("source-ptr-unchecked", Severity.INFO, (
                f"The reverse DNS (PTR) of {self.ip} could not be checked ({self.ptr_error}); "
                "retry, or ask another resolver with --resolver."), self.ip)]
        if self.ptr and self.forward_confirmed is False:
            names = ", ".join(self.ptr)
            return [Finding("source-ptr-not-confirmed", Severity.WARNING, (
                f"The PTR name of {self.ip} ({names}) does not resolve back to {self.ip}, so forward-confirmed "
                f"reverse DNS fails and strict receivers reject the connection: add an A/AAAA record for "
                f"{self.ptr[0]} pointing to {self.ip}, or change the PTR to a name that does."), self.ip)]
        return []

    def _helo_findings(self) -> list[Finding]:
        assert self.ip is not None
        if self.helo is None or self.helo_matches_ptr or self.helo_resolves_to_ip:
            return []
        problem = ("does not resolve to it" if self.helo_resolves_to_ip is False
                   else f"could not be resolved ({self.helo_error})")
        if "." not in self.helo.strip("[]"):
            problem += ", and it is not a fully qualified domain name"
        usable = next((n for n in self.ptr if _fully_qualified(n)), None)  # never advise "localhost"
        fix = f"use --helo {usable}" if usable else "use a fully qualified name whose A/AAAA record is this address"
        return [Finding("source-helo-mismatch", Severity.WARNING, (
            f"The HELO name {self.helo} is not the PTR name of {self.ip} and {problem}; servers that check HELO "
            f"reject or score such clients: {fix}."), self.helo)]


def _fully_qualified(name: str) -> bool:
    """A name fit for HELO: dotted, and not localhost or a special-use name that means nothing outside."""
    name = name.rstrip(".").lower()
    return "." in name and not any(name == s or name.endswith("." + s) or name.startswith(s + ".")
                                   for s in ("localhost", "local", "localdomain", "invalid"))


def _dnsbl_finding(ip: str, result: DnsblResult) -> Finding:
    known = KNOWN_BLOCKLISTS.get(result.zone)
    name = known.name if known else result.zone
    if result.status == "listed":
        where = (f"request removal at {result.removal_url}" if result.removal_url
                 else f"look {ip} up on the operator's site of {result.zone} to request removal")
        why = f" The list says: {result.reason}." if result.reason else ""
        return Finding("source-listed", Severity.CRITICAL, (
            f"{ip} is listed on {name} ({result.zone}, {', '.join(result.codes)}: {result.meaning}), so receivers "
            f"that use it refuse this machine and probe answers may reflect that, not the mailbox: fix the cause, "
            f"then {where}.{why}"), result.zone)
    if result.status == "refused":
        return Finding("source-dnsbl-refused", Severity.INFO, (
            f"{name} ({result.zone}) refused the query ({', '.join(result.codes)}), so the listing is unknown: "
            "the list refuses public resolvers and heavy users - use your own resolver, not a public one "
            "(--resolver), or the operator's query service."), result.zone)
    return Finding("source-dnsbl-failed", Severity.INFO, (
        f"Could not check {name} ({result.zone}): {result.error}; retry, or ask another resolver with --resolver."),
        result.zone)


def _dnsbl_failures(failed: list[DnsblResult]) -> list[Finding]:
    """Blocklists that could not be asked: one finding per distinct failure, not one per list (five lists
    refused by the same resolver are one problem)."""
    by_error: dict[str, list[DnsblResult]] = {}
    for result in failed:
        by_error.setdefault(str(result.error), []).append(result)
    findings = []
    for error, results in by_error.items():
        if len(results) == 1:
            findings.append(_dnsbl_finding("", results[0]))
            continue
        zones = ", ".join(r.zone for r in results)
        findings.append(Finding("source-dnsbl-failed", Severity.INFO, (
            f"Could not check {len(results)} DNS blocklists ({zones}): {error}; retry, or ask another resolver "
            "with --resolver."), zones))
    return findings


async def bounded_lookup(lookup: Awaitable[Lookup], timeout_s: float) -> Lookup:
    """One lookup, never longer than timeout_s (the resolver's own lifetime may be longer)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await lookup
    except TimeoutError:
        return Lookup([], "error", f"no answer within {timeout_s:g} s", failure="timeout")


async def check_dnsbl(ip: str, zone: str, resolver: dns.asyncresolver.Resolver, *, timeout_s: float) -> DnsblResult:
    """Ask one blocklist about one address; every failure is the result's status, never an exception."""
    address = as_ip(ip)
    zone = plain_name(zone)
    if address is None:
        return DnsblResult(zone, "", "error", error=f"{ip!r} is not an IP address")
    known = KNOWN_BLOCKLISTS.get(zone)
    url = known.removal_url if known else None
    if not zone:
        return DnsblResult(zone, "", "error", error="empty blocklist zone name")
    query = dnsbl_query_name(str(address), zone)
    if address.version == 6 and known is not None and not known.ipv6:
        return DnsblResult(zone, query, "skipped", removal_url=url, error="this list covers IPv4 addresses only")
    answer = await bounded_lookup(lookup_addresses(query, resolver, family=4), timeout_s)
    if answer.status == "error":
        return DnsblResult(zone, query, "error", removal_url=url, error=answer.error)
    codes = sorted({str(code) for code in answer.records}, key=lambda c: ipaddress.ip_address(c))
    status, why = dnsbl_status(codes)
    result = DnsblResult(zone, query, status, codes, removal_url=url, error=why)
    if status == "listed":
        result.meaning = dnsbl_meaning(zone, codes)
        txt = await bounded_lookup(lookup_txt(query, resolver), timeout_s)
        result.reason = " / ".join(txt.records)[:300] or None
    return result


async def _forward_confirm(address: IPAddress, names: Sequence[str], resolver: dns.asyncresolver.Resolver,
                           timeout_s: float) -> tuple[bool | None, str | None]:
    """(does one of names resolve back to address, which one); None when no name did and a lookup failed."""
    lookups = await asyncio.gather(*(bounded_lookup(lookup_addresses(name, resolver, family=address.version), timeout_s)
                                     for name in names[:_MAX_PTR_NAMES]))
    for name, lookup in zip(names, lookups, strict=False):
        if any(as_ip(str(record)) == address for record in lookup.records):
            return True, name
    return (None if any(lookup.status == "error" for lookup in lookups) else False), None


async def _helo_resolves(address: IPAddress, helo: str, resolver: dns.asyncresolver.Resolver,
                         timeout_s: float) -> tuple[bool | None, str | None]:
    literal = as_ip(helo) if helo.strip().startswith("[") else None
    if literal is not None:
        return literal == address, None
    lookup = await bounded_lookup(lookup_addresses(helo.strip(), resolver), timeout_s)
    if any(as_ip(str(record)) == address for record in lookup.records):
        return True, None
    return (None, lookup.error) if lookup.status == "error" else (False, None)


async def audit_source(ip: str, resolver: dns.asyncresolver.Resolver, *,
                       dnsbl_zones: Sequence[str] = DEFAULT_DNSBL_ZONES, helo: str | None = None,
                       timeout_s: float) -> SourceAudit:
    """PTR and forward confirmation of ip, the HELO name against both, and each DNSBL, concurrently.

    Raises InputError when ip is not an IP address (nothing is sent); every DNS failure is a field.
    """
    address = as_ip(ip)
    if address is None:
        raise InputError(f"the source address {ip!r} is not an IP address")
    audit = SourceAudit(str(address), address.is_global, helo=helo.strip() if helo else None)
    zones = list(dict.fromkeys(plain_name(zone) for zone in dnsbl_zones))

    async def reverse() -> None:
        ptr = await bounded_lookup(lookup_ptr(str(address), resolver), timeout_s)
        audit.ptr, audit.ptr_status, audit.ptr_error = [plain_name(n) for n in ptr.records], ptr.status, ptr.error
        if audit.ptr:
            audit.forward_confirmed, audit.confirmed_name = await _forward_confirm(address, audit.ptr, resolver,
                                                                                   timeout_s)

    async def helo_check() -> None:
        if audit.helo:
            audit.helo_resolves_to_ip, audit.helo_error = await _helo_resolves(address, audit.helo, resolver,
                                                                               timeout_s)

    async def blocklists() -> None:
        audit.dnsbl = list(await asyncio.gather(*(check_dnsbl(str(address), zone, resolver, timeout_s=timeout_s)
                                                  for zone in zones)))

    await asyncio.gather(reverse(), helo_check(), blocklists())
    if audit.helo:
        audit.helo_matches_ptr = plain_name(audit.helo) in audit.ptr
    return audit


async def self_check(resolver: dns.asyncresolver.Resolver, *, source_ip: str | None, helo: str,
                     dnsbl_zones: Sequence[str] = DEFAULT_DNSBL_ZONES, timeout_s: float) -> SourceAudit:
    """`smtp-probe self-check`: audit_source for the given address; without one, an audit saying why not."""
    if source_ip is None or not source_ip.strip():
        return SourceAudit(None, helo=helo, error=(
            "self-check contacts no mail server, so it does not know this machine's public address: name it "
            "with --source-ip (a probe's -v transcript often shows it, in the server's EHLO reply)."))
    return await audit_source(source_ip, resolver, dnsbl_zones=dnsbl_zones, helo=helo, timeout_s=timeout_s)
