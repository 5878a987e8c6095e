"""I/O: what a probe run's sessions say about reachability from here — port 25 blocked or not,
MX reverse DNS, and an audit of the public source address a server echoed back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dns.asyncresolver

from probe.dns.resolve import lookup_ptr
from probe.model import Context, Finding, ProbeOptions, Session, Severity
from probe.run.blocklists import DEFAULT_DNSBL_ZONES
from probe.run.selfaudit import as_ip, audit_source, bounded_lookup, plain_name, public_address_from_ehlo

_NOT_CONNECTED = frozenset({Context.CONNECT, Context.DNS})
_KIND_MEANINGS = {"silent": "timed out (silently dropped: a firewall, yours or theirs)",
                  "refused": "refused (host up, nothing listening)", "reset": "cut by the peer or a middlebox",
                  "unreachable": "unreachable (no route from here)"}


def _attempt_kind(session: Session) -> str | None:
    """silent | refused | reset | unreachable | connected; None for a session never attempted (deadline)."""
    if session.outcome == "skipped":
        return None
    if not session.address or all(step.context is Context.DNS for step in session.steps):
        return None  # a host without an address (of the forced family): nothing was sent, no route was needed
    connected = any(step.context not in _NOT_CONNECTED for step in session.steps)
    if session.outcome == "timeout":
        return "connected" if connected else "silent"  # a banner or reply timeout reached the server
    if session.outcome in ("refused", "reset", "unreachable"):
        return session.outcome
    return "connected"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def port25_diagnosis(sessions: Sequence[Session]) -> Finding | None:
    """Why no MX host could be reached, when none could: blocked egress (all silent), refused, reset, or a mix.

    None when any connection got through (then the sessions speak for themselves) or nothing was tried.
    Connect timeouts are "silent"; a server that accepted and then went quiet is not.
    """
    kinds = [(s, kind) for s in sessions if (kind := _attempt_kind(s)) is not None]
    if not kinds or any(kind == "connected" for _s, kind in kinds):
        return None
    ports = sorted({s.port for s, _kind in kinds})
    port = " and ".join(str(p) for p in ports)
    hosts = len({s.host for s, _kind in kinds})
    tried = f"{_count(len(kinds), 'connection attempt')} to {_count(hosts, 'MX host')}"
    counts = {k: sum(1 for _s, kind in kinds if kind == k) for k in _KIND_MEANINGS}
    if counts["silent"] == len(kinds):
        return Finding("port25-blocked", Severity.WARNING, (
            f"Outbound port {port} looks blocked from this network: all {tried} timed out without any answer, "
            "which is what a firewall that drops the traffic looks like, not proof the domain is unreachable. "
            "Many clouds and ISPs block port 25: try from another network, ask the provider to unblock it, "
            "or use --proxy socks5://HOST:PORT."))
    if counts["refused"] == len(kinds):
        return Finding("mx-all-refused", Severity.INFO, (
            f"All {tried} were refused (the host answered with a TCP reset): the mail servers are down or not "
            f"listening on port {port}, so your outbound port {port} is not what is blocking (unless your own "
            "firewall rejects rather than drops); check the MX records and whether the servers run."))
    if counts["reset"] == len(kinds):
        return Finding("mx-all-reset", Severity.INFO, (
            f"All {tried} were accepted and then cut before the dialogue finished: a firewall, anti-spam "
            "appliance or the server itself dropped them, often because it distrusts this client - see the "
            "self-check (PTR, DNS blocklists) and retry later or from another network."))
    meaning = "; ".join(f"{counts[kind]} {text}" for kind, text in _KIND_MEANINGS.items() if counts[kind])
    hint = ""
    if counts["unreachable"] == len(kinds):
        hint = (" This machine has no route to them: check its network connection, or force IPv4 with -4 when "
                "IPv6 is not set up here.")
    elif counts["silent"] and not counts["refused"] and not counts["reset"]:
        hint = (f" Nothing answered at all, so outbound port {port} may be blocked on this network: try from "
                "another network or with --proxy.")
    elif counts["refused"] or counts["reset"]:
        hint = f" Some host answered, so port {port} is not blocked wholesale from here; the servers are at fault."
    return Finding("mx-no-connection", Severity.WARNING, f"No MX host could be reached ({tried}): {meaning}.{hint}")


# -- reverse DNS of the MX hosts ---------------------------------------------------------------


def _banner_name(session: Session) -> str | None:
    """The first word after 220 in the session's banner, or None without a 220 banner."""
    for step in session.steps:
        if step.context is Context.BANNER and step.code == 220 and not step.unsolicited:
            first = step.lines[0].split() if step.lines else []
            return first[0] if first else ""
    return None


async def mx_reverse_findings(sessions: Sequence[Session], resolver: dns.asyncresolver.Resolver, *,
                              timeout_s: float = 5.0) -> list[Finding]:
    """MXToolbox's check: each probed MX address's PTR, and whether the 220 banner's host name matches it."""
    banners: dict[str, tuple[str, str | None]] = {}  # address -> (MX host, banner name)
    for session in sessions:
        if as_ip(session.address) is None or session.outcome == "skipped":
            continue
        host, name = banners.get(session.address, (session.host, None))
        banners[session.address] = (host, name if name is not None else _banner_name(session))
    addresses = list(banners)
    lookups = await asyncio.gather(*(bounded_lookup(lookup_ptr(a, resolver), timeout_s) for a in addresses))
    findings: list[Finding] = []
    for address, ptr in zip(addresses, lookups, strict=True):
        host, banner = banners[address]
        names = [plain_name(n) for n in ptr.records]
        if ptr.status == "error":
            findings.append(Finding("mx-ptr-unchecked", Severity.INFO, (
                f"The reverse DNS (PTR) of {host} ({address}) could not be checked: {ptr.error}."), address))
        elif not names:
            findings.append(Finding("mx-no-ptr", Severity.WARNING, (
                f"MX host {host} ({address}) has no reverse DNS (PTR) record: when it also sends mail, receivers "
                "distrust it; ask whoever owns the address to set a PTR naming the host."), address))
        elif banner is not None and plain_name(banner) not in names and as_ip(banner) != as_ip(address):
            said = f"names {banner}" if banner else "names no host"
            findings.append(Finding("mx-banner-mismatch", Severity.INFO, (
                f"The banner of {host} ({address}) {said}, but its PTR is {', '.join(names)}: make the "
                "server's greeting name match its PTR (Postfix myhostname, Exim primary_hostname). "
                "Tarpits and anti-spam banners cause false alarms here."), address))
    return findings


def echoed_source(sessions: Sequence[Session]) -> str | None:
    """This machine's public address as a server echoed it in its banner or EHLO/HELO reply."""
    for session in sessions:
        for step in session.steps:
            if step.context in (Context.EHLO, Context.HELO, Context.BANNER) and step.code is not None:
                echoed = public_address_from_ehlo(step.text)
                if echoed is not None and echoed.is_global:
                    return echoed.address
    return None


async def audit_run(sessions: Sequence[Session], options: ProbeOptions, resolver: dns.asyncresolver.Resolver,
                    cache: dict[str, asyncio.Future[Any]] | None = None,
                    ) -> tuple[list[Finding], dict[str, Any] | None]:
    """Findings about reachability from here, and an audit of this machine's public address.

    The source audit runs whenever a server echoed a public address back (issue 6: learn it from
    the EHLO reply and check it), whether or not a reply blamed the client. `cache` (one per run,
    e.g. the batch's HostLimiter.audits) holds each address's audit, so a batch asks once per IP.
    """
    findings: list[Finding] = []
    if options.proxy is None:  # through a proxy, timeouts say nothing about this network's port 25
        blocked = port25_diagnosis(sessions)
        if blocked is not None:
            findings.append(blocked)
    findings.extend(await mx_reverse_findings(sessions, resolver, timeout_s=options.timeout_s))
    source = echoed_source(sessions)
    if source is None:
        return findings, None
    cache = {} if cache is None else cache
    key = f"{source} {options.helo} {' '.join(options.dnsbl_zones)}"
    pending = cache.get(key)
    if pending is None:
        pending = cache[key] = asyncio.ensure_future(audit_source(
            source, resolver, dnsbl_zones=options.dnsbl_zones or DEFAULT_DNSBL_ZONES,
            helo=options.helo, timeout_s=options.timeout_s))
    audit = await asyncio.shield(pending)  # a probe cut short by its deadline leaves it to the others
    findings.extend(audit.findings())
    return findings, audit.to_dict()
