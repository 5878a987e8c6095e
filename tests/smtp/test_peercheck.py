"""probe.run.peercheck: the untried MX hosts of the answering host's preference get a connection (loopback servers)."""

from __future__ import annotations

import asyncio
import socket

from probe.judge.walk import Walk
from probe.model import DomainStatus, MxHost, ProbeOptions, Report, Severity
from probe.run.peercheck import check_equal_peers
from probe.smtp.polite import HostLimiter


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run(walk: Walk, answered: MxHost, untried: list[MxHost], limiter: HostLimiter) -> None:
    deadline = asyncio.get_running_loop().time() + 5.0
    await check_equal_peers(walk, answered, untried, ProbeOptions(timeout_s=2.0), deadline, limiter)


async def test_a_dead_peer_is_a_warning_a_live_one_nothing_and_each_is_asked_once_per_run() -> None:
    """A refused peer of the same preference is mx-equal-dead (WARNING); a peer of another preference is not
    checked; a live peer says nothing (each checked peer keeps what was seen: MxHost.checked). A second walk with the same limiter (a batch) connects to none again."""
    connections: list[int] = []

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.write(b"220 mx.test ESMTP\r\n")
        await writer.drain()
        await reader.readline()  # QUIT
        writer.write(b"221 bye\r\n")
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    live_port = server.sockets[0].getsockname()[1]
    try:
        answered = MxHost("mx1.test", 10, ["127.0.0.1"], port=live_port)
        live = MxHost("mx2.test", 10, ["127.0.0.1"], port=live_port)
        dead = MxHost("mx3.test", 10, ["127.0.0.1"], port=_free_port())
        backup = MxHost("mx4.test", 20, ["127.0.0.1"], port=_free_port())
        limiter = HostLimiter()
        for _ in range(2):
            walk = Walk(Report("example.test", DomainStatus.ACCEPTS_MAIL))
            await _run(walk, answered, [live, dead, backup], limiter)
            (finding,) = walk.report.findings
            assert (finding.id, finding.subject, finding.severity) == ("mx-equal-dead", "mx3.test", Severity.WARNING)
            assert "refused the connection" in finding.message
            # what each check saw is the host's, for the MX table (not read back from the finding's text)
            assert (live.checked, dead.checked, backup.checked) == (
                {"127.0.0.1": "greeted"}, {"127.0.0.1": "refused the connection"}, {})
        assert connections == [1]  # the live peer, once for both walks
    finally:
        server.close()
        await server.wait_closed()
