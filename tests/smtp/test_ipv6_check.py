"""probe.run.greeting.greeting_of: what a connection to an answering host's unasked IPv6 address shows (loopback ::1)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from probe.run.greeting import greeting_of

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

pytestmark = pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[int]:
    """A server on ::1 running `handler` per connection; every connection's handler has ended, and its socket
    is closed, when the block is left."""
    tasks: list[asyncio.Task[None]] = []

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.append(asyncio.ensure_future(run(reader, writer)))

    srv = await asyncio.start_server(accept, "::1", 0)
    try:
        yield srv.sockets[0].getsockname()[1]
    finally:
        srv.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await srv.wait_closed()


def _free_port() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return int(s.getsockname()[1])


async def test_a_greeting_is_answered_with_quit() -> None:
    said: list[bytes] = []

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220-mx.test ESMTP\r\n220 mx.test\r\n")
        said.append(await reader.readline())
        writer.write(b"221 2.0.0 Bye\r\n")
        await writer.drain()

    async with server(greet) as port:
        assert await greeting_of("::1", port, 2.0) is None
    assert said == [b"QUIT\r\n"]


async def test_refused_and_closed_are_dead_a_silent_server_is_not() -> None:
    assert await greeting_of("::1", _free_port(), 2.0) == (True, "refused the connection")

    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return  # the connection is closed without a word

    async with server(close) as port:
        assert await greeting_of("::1", port, 2.0) == (
            True, "accepted the connection and closed it without a greeting")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # says nothing until the client goes: a greeting delayed on purpose looks the same

    async with server(silent) as port:
        dead, words = await greeting_of("::1", port, 0.2) or (None, "")
    assert dead is False and "no greeting within 0.2 s" in words


async def test_a_hostile_greeting_costs_one_timeout_and_no_traceback() -> None:
    # a line longer than the client's limit (asyncio's readline raised ValueError past 64 KiB), and continuation
    # lines without end, each in time: both are bounded by the wire's limits and the one timeout of the greeting
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"2" * 100_000)
        await writer.drain()
        await reader.read()

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            writer.write(b"220-still greeting\r\n")
            await writer.drain()
            await asyncio.sleep(0.01)

    async with asyncio.timeout(10):
        async with server(flood) as port:
            assert await greeting_of("::1", port, 2.0) == (True, "accepted the connection but answered no SMTP greeting")
        async with server(endless) as port:
            dead, words = await greeting_of("::1", port, 0.3) or (None, "")
    assert dead is True and "no complete greeting within 0.3 s" in words


async def test_a_refusing_greeting_counts_only_when_asked() -> None:
    """An equal-preference MX peer (probe.run.peercheck) that greets with 421 is passed over by senders as a dead
    one is: with refusal_counts it is reported, without (an IPv6 address) the server is there and answered."""
    async def busy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 4.3.2 mx.test Service not available, closing transmission channel\r\n")
        await writer.drain()
        await reader.readline()

    async with server(busy) as port:
        assert await greeting_of("::1", port, 2.0) is None
        assert await greeting_of("::1", port, 2.0, refusal_counts=True) == (
            False, "greeted with 421 4.3.2 mx.test Service not available, closing transmission channel")
