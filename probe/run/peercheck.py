"""MX hosts of the same preference as the one that answered, which the walk never tried: is anything listening?

Senders choose among MX hosts of equal preference at random (RFC 5321 §5.1), and so does the walk. Once one host
answers the walk stops, so a dead host of that preference was tried, and reported, only when the draw put it first:
the same domain gave WARNING on one run and OK on the next. Each untried host of the answering host's preference now
gets a connection (greeting, QUIT: probe.run.greeting.greeting_of), whichever came first, and one that does not
greet with a 2xx is a WARNING finding (mx-equal-dead), as its refused session is when it is drawn first. What the
check saw is kept on the host (MxHost.checked), for the MX table: a checked host was not "not tried".
"""

from __future__ import annotations

import asyncio

from probe.judge.walk import Walk
from probe.model import Finding, MxHost, ProbeOptions, Severity
from probe.run.greeting import greeting_of
from probe.smtp.polite import HostLimiter

PEERS_CHECKED = 4  # untried hosts of the answering host's preference that get a connection (the first address each)


async def check_equal_peers(walk: Walk, answered: MxHost, untried: list[MxHost], options: ProbeOptions,
                            deadline: float, limiter: HostLimiter) -> None:
    """Connect to each host of `untried` that has `answered`'s preference (its first address), all at once."""
    peers = [h for h in untried if h.preference == answered.preference and h.addresses][:PEERS_CHECKED]
    left = deadline - asyncio.get_running_loop().time()
    if not peers or left <= 0 or options.proxy is not None:  # through a proxy, a direct connection is not asked for
        return

    async def greet(peer: MxHost, ip: str) -> tuple[bool, str] | None:
        async with limiter.slot(peer.host, ip):
            return await greeting_of(ip, peer.port, min(options.timeout_s, left), local_host=options.source_ip,
                                     refusal_counts=True)

    async def check(peer: MxHost) -> tuple[MxHost, tuple[bool, str] | None]:
        ip = peer.addresses[0]
        key = f"{ip} {peer.port} {options.source_ip or ''}"  # once per run (a batch's domains share their hosts)
        pending = limiter.greetings.get(key)
        if pending is None:
            pending = limiter.greetings[key] = asyncio.ensure_future(greet(peer, ip))
        return peer, await asyncio.shield(pending)  # a probe cut short by its deadline leaves it to the others

    for peer, said in await asyncio.gather(*(check(p) for p in peers)):
        ip = peer.addresses[0]
        peer.checked[ip] = "greeted" if said is None else said[1]  # what the MX table says of it
        if said is None:
            continue
        walk.finding(Finding("mx-equal-dead", Severity.WARNING, (
            f"{peer.host} has preference {peer.preference}, like {answered.host}, which answered; its address {ip} "
            f"{said[1]} on port {peer.port}. Senders pick among MX hosts of equal preference at random (RFC 5321 "
            "§5.1): those that pick it deliver only after falling back to another host, late when it does not "
            "answer at once. Make it accept mail, or remove its MX record."), peer.host))
