"""The IPv6 addresses of an MX host that answered over IPv4: is anything listening there? (connect, greeting, QUIT)

A sender that has IPv6 tries the AAAA address first where both exist (RFC 6724 prefers IPv6; RFC 5321 §5.1 leaves the
order to the client): a dead one delays its mail until it falls back to IPv4, and a sender with IPv6 only cannot
deliver. Nothing but the greeting is read and QUIT said, through the bounded client (probe.smtp.wire: a reply's
lines and bytes are limited, the whole greeting within the timeout), so a hostile or broken peer costs one timeout.
"""

from __future__ import annotations

import asyncio

from probe.judge.walk import Walk
from probe.model import Finding, MxHost, ProbeOptions, Severity
from probe.run.greeting import greeting_of
from probe.smtp.exchanges import SessionRecord
from probe.smtp.polite import HostLimiter

IPV6_CHECKED = 2  # IPv6 addresses of an answering host whose port is checked (connect, banner, QUIT)


async def check_ipv6(walk: Walk, host: MxHost, records: list[SessionRecord], options: ProbeOptions,
                     deadline: float, limiter: HostLimiter) -> None:
    """When `host` answered over IPv4 and has IPv6 addresses nothing was asked at, connect to (at most
    IPV6_CHECKED of) them at once: a dead one is a WARNING finding (mx-ipv6-dead), one that could not be checked
    from here an INFO (mx-ipv6-unchecked)."""
    tried = {r.address for r in records}
    if not any(":" not in ip for ip in tried):
        return
    untried = [ip for ip in host.addresses if ":" in ip and ip not in tried][:IPV6_CHECKED]
    left = deadline - asyncio.get_running_loop().time()
    if not untried or left <= 0:
        return

    async def check(ip: str) -> tuple[str, tuple[bool, str] | None]:
        async with limiter.slot(host.host, ip):
            return ip, await greeting_of(ip, host.port, min(options.timeout_s, left))

    for ip, said in await asyncio.gather(*(check(ip) for ip in untried)):  # at once: a filtered one costs one wait
        host.checked[ip] = "greeted" if said is None else said[1]  # what the MX table says of it
        if said is None:
            continue
        dead, words = said
        if dead:
            walk.finding(Finding("mx-ipv6-dead", Severity.WARNING, (
                f"{host.host} has the IPv6 address {ip} (AAAA record), which {words} on port {host.port}; the "
                "probe asked over IPv4, which answered. Senders with IPv6 try that address first (most large "
                "providers prefer it) and deliver late, after falling back to IPv4, or, with IPv6 only, not at "
                "all. Make the mail server listen on that address, or remove the AAAA record."), host.host))
        else:
            walk.finding(Finding("mx-ipv6-unchecked", Severity.INFO, (
                f"{host.host} has the IPv6 address {ip} (AAAA record), which could not be checked from here: "
                f"{words}."), host.host))
