"""Tests of the test equipment: each hostile server misbehaves as promised and records what the client sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from probe.testing.hostile import (
    BAD_CODE_REPLIES,
    HTTP_400,
    MIXED_CODES_REPLY,
    SSH_BANNER,
    SYNCHRONIZATION_ERROR,
    UNSOLICITED_421_REPLY,
    Behaviour,
    HostileServer,
)

STEP = 2.0  # generous per-read limit: a server that misbehaves wrongly fails fast instead of hanging


@asynccontextmanager
async def client(srv: HostileServer) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port, limit=1024 * 1024)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def read_reply(reader: asyncio.StreamReader) -> list[bytes]:
    """One SMTP reply's lines, as a careful client reads them (stops at 'NNN ')."""
    lines: list[bytes] = []
    while True:
        line = await asyncio.wait_for(reader.readline(), STEP)
        if not line:
            return lines
        lines.append(line)
        if line[3:4] != b"-":
            return lines


async def command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str) -> list[bytes]:
    writer.write(text.encode() + b"\r\n")
    await writer.drain()
    return await read_reply(reader)


async def test_normal_dialogue_is_recorded_and_polite() -> None:
    async with HostileServer(Behaviour.NORMAL) as srv:
        async with client(srv) as (reader, writer):
            assert (await read_reply(reader))[0].startswith(b"220 mx.test")
            ehlo = await command(reader, writer, "EHLO probe.test")
            assert ehlo[0] == b"250-mx.test greets probe.test\r\n" and ehlo[-1].startswith(b"250 ")
            assert (await command(reader, writer, "MAIL FROM:<>"))[0].startswith(b"250 ")
            assert (await command(reader, writer, "RCPT TO:<a@example.test>"))[0].startswith(b"250 ")
            assert (await command(reader, writer, "VRFY a"))[0].startswith(b"252 ")
            assert (await command(reader, writer, "RSET"))[0].startswith(b"250 ")
            assert (await command(reader, writer, "QUIT"))[0].startswith(b"221 ")
            assert await asyncio.wait_for(reader.read(), STEP) == b""  # the server closed after QUIT
    assert srv.commands == ["EHLO probe.test", "MAIL FROM:<>", "RCPT TO:<a@example.test>", "VRFY a", "RSET", "QUIT"]
    assert srv.received.startswith(b"EHLO probe.test\r\nMAIL FROM:<>\r\n")
    assert not srv.saw_data and srv.connections == 1 and not srv.errors


async def test_saw_data_notices_data_and_bdat() -> None:
    async with HostileServer(Behaviour.NORMAL) as srv:
        async with client(srv) as (reader, writer):
            await read_reply(reader)
            assert (await command(reader, writer, "data"))[0].startswith(b"554 ")
    assert srv.saw_data


async def test_drip_sends_one_byte_then_waits() -> None:
    async with HostileServer(Behaviour.DRIP, interval_s=30.0) as srv:
        async with client(srv) as (reader, _):
            assert await asyncio.wait_for(reader.read(100), STEP) == b"2"
            with pytest.raises(TimeoutError):  # the second byte is 30 s away
                await asyncio.wait_for(reader.read(100), 0.2)
    assert not srv.errors


async def test_drip_delivers_the_whole_banner_in_pieces_then_talks() -> None:
    async with HostileServer(Behaviour.DRIP, interval_s=0.001) as srv:
        async with client(srv) as (reader, writer):
            banner = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
            assert banner == srv.banner
            assert (await command(reader, writer, "EHLO x.test"))[-1].startswith(b"250 ")
    assert srv.commands == ["EHLO x.test"] and not srv.errors


async def test_drip_can_drip_another_reply() -> None:
    async with HostileServer(Behaviour.DRIP, at="EHLO", interval_s=0.0) as srv:
        async with client(srv) as (reader, writer):
            assert (await read_reply(reader)) == [srv.banner]
            assert (await command(reader, writer, "EHLO x.test"))[-1].startswith(b"250 ")
    assert not srv.errors


async def test_drip_stops_when_the_client_leaves() -> None:
    async with HostileServer(Behaviour.DRIP, interval_s=0.01) as srv:
        async with client(srv) as (reader, _):
            await asyncio.wait_for(reader.read(1), STEP)
        for _ in range(200):  # the handler notices the close and ends on its own
            if not srv._tasks:
                break
            await asyncio.sleep(0.01)
        assert not srv._tasks
    assert not srv.errors


async def test_long_line_has_no_end() -> None:
    async with HostileServer(Behaviour.LONG_LINE, line_bytes=100_000) as srv:
        async with client(srv) as (reader, writer):
            data = await asyncio.wait_for(reader.readexactly(100_000), STEP)
            assert data.startswith(b"220 xxx") and b"\n" not in data
            writer.write(b"QUIT\r\n")
            await writer.drain()
            with pytest.raises(TimeoutError):  # nothing more: no end of line, no reply
                await asyncio.wait_for(reader.read(1), 0.3)
    assert srv.received == b"QUIT\r\n" and not srv.errors


async def test_endless_multiline_never_ends_its_reply() -> None:
    async with HostileServer(Behaviour.ENDLESS_MULTILINE, line_count=3_000) as srv:
        async with client(srv) as (reader, writer):
            await read_reply(reader)
            writer.write(b"EHLO x.test\r\n")
            await writer.drain()
            lines = (await asyncio.wait_for(reader.read(), STEP)).split(b"\r\n")
    assert lines[-1] == b""  # closed after the last line, which still said "more follows"
    assert len(lines[:-1]) == 3_000 and all(line.startswith(b"250-") for line in lines[:-1])
    assert srv.commands == ["EHLO x.test"] and not srv.errors


async def test_garbage_banner_then_polite_dialogue() -> None:
    async with HostileServer(Behaviour.GARBAGE) as srv:
        async with client(srv) as (reader, writer):
            garbage = await asyncio.wait_for(reader.readexactly(len(srv.garbage)), STEP)
            assert garbage == srv.garbage and any(byte >= 0x80 for byte in garbage)
            assert (await command(reader, writer, "QUIT"))[-1].startswith(b"221 ")
    assert srv.commands == ["QUIT"] and not srv.errors


async def test_http_server_answers_400_after_reading() -> None:
    async with HostileServer(Behaviour.HTTP) as srv:
        async with client(srv) as (reader, writer):
            with pytest.raises(TimeoutError):  # an HTTP server never greets
                await asyncio.wait_for(reader.read(1), 0.2)
            writer.write(b"EHLO probe.test\r\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), STEP) == HTTP_400
    assert srv.received == b"EHLO probe.test\r\n" and not srv.errors


async def test_ssh_banner_then_error_and_close() -> None:
    async with HostileServer(Behaviour.SSH) as srv:
        async with client(srv) as (reader, writer):
            assert await asyncio.wait_for(reader.readline(), STEP) == SSH_BANNER
            writer.write(b"QUIT\r\n")
            await writer.drain()
            assert b"Invalid SSH identification" in await asyncio.wait_for(reader.read(), STEP)
    assert srv.commands == ["QUIT"] and not srv.errors


async def test_reset_mid_reply_sends_half_a_reply_then_rst() -> None:
    async with HostileServer(Behaviour.RESET_MID_REPLY) as srv:
        async with client(srv) as (reader, writer):
            await read_reply(reader)
            writer.write(b"EHLO x.test\r\n")
            await writer.drain()
            received = b""
            with pytest.raises(ConnectionResetError):
                for _ in range(10):
                    chunk = await asyncio.wait_for(reader.read(1024), STEP)
                    received += chunk
                    if not chunk:
                        break
    assert received.startswith(b"250-mx.test first line\r\n250-") and not received.endswith(b"\n")
    assert srv.resets == 1 and srv.commands == ["EHLO x.test"] and not srv.errors


async def test_starttls_hang_accepts_starttls_and_records_the_client_hello() -> None:
    async with HostileServer(Behaviour.STARTTLS_HANG) as srv:
        async with client(srv) as (reader, writer):
            await read_reply(reader)
            ehlo = await command(reader, writer, "EHLO x.test")
            assert any(line[4:] == b"STARTTLS\r\n" for line in ehlo)
            assert (await command(reader, writer, "STARTTLS"))[0].startswith(b"220 ")
            hello = b"\x16\x03\x01\x00\x05fake!"
            writer.write(hello)
            await writer.drain()
            with pytest.raises(TimeoutError):  # the handshake never completes
                await asyncio.wait_for(reader.read(1), 0.3)
    assert srv.received.endswith(hello) and srv.commands[-1] == "STARTTLS" and not srv.errors


async def test_unsolicited_421_after_the_ehlo_reply() -> None:
    async with HostileServer(Behaviour.UNSOLICITED_421) as srv:
        async with client(srv) as (reader, writer):
            await read_reply(reader)
            ehlo = await command(reader, writer, "EHLO x.test")
            assert ehlo[-1].startswith(b"250 ")
            assert await read_reply(reader) == [UNSOLICITED_421_REPLY]  # before any further command
            assert await asyncio.wait_for(reader.read(), STEP) == b""
    assert srv.commands == ["EHLO x.test"] and not srv.errors


async def test_mixed_codes_in_one_reply_to_rcpt() -> None:
    async with HostileServer(Behaviour.MIXED_CODES) as srv:
        async with client(srv) as (reader, writer):
            await read_reply(reader)
            await command(reader, writer, "EHLO x.test")
            await command(reader, writer, "MAIL FROM:<>")
            assert b"".join(await command(reader, writer, "RCPT TO:<a@b.test>")) == MIXED_CODES_REPLY
            assert (await command(reader, writer, "QUIT"))[0].startswith(b"221 ")
    assert not srv.errors


@pytest.mark.parametrize("bad", BAD_CODE_REPLIES)
async def test_bad_codes_in_the_banner(bad: bytes) -> None:
    async with HostileServer(Behaviour.BAD_CODES, reply=bad) as srv:
        async with client(srv) as (reader, writer):
            assert await asyncio.wait_for(reader.readline(), STEP) == bad
            assert (await command(reader, writer, "QUIT"))[0].startswith(b"221 ")
    assert srv.commands == ["QUIT"] and not srv.errors


async def test_slow_greeting_banner_arrives_late_for_a_patient_client() -> None:
    async with HostileServer(Behaviour.SLOW_GREETING, delay_s=0.3) as srv:
        async with client(srv) as (reader, writer):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.05)
            assert (await read_reply(reader)) == [srv.banner]
            assert (await command(reader, writer, "EHLO x.test"))[-1].startswith(b"250 ")
    assert srv.early_talkers == 0 and not srv.errors


async def test_slow_greeting_catches_a_client_that_talks_first() -> None:
    async with HostileServer(Behaviour.SLOW_GREETING, delay_s=5.0) as srv:
        async with client(srv) as (reader, writer):
            writer.write(b"EHLO impatient.test\r\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), STEP) == SYNCHRONIZATION_ERROR
    assert srv.early_talkers == 1 and srv.commands == ["EHLO impatient.test"] and not srv.errors


async def test_huge_ehlo_reply_has_thousands_of_lines() -> None:
    async with HostileServer(Behaviour.HUGE_EHLO, line_count=5_000) as srv:
        async with client(srv) as (reader, writer):
            await read_reply(reader)
            lines = await command(reader, writer, "EHLO x.test")
            assert (await command(reader, writer, "QUIT"))[0].startswith(b"221 ")
    assert len(lines) == 5_000 and lines[-1] == b"250 SIZE 10240000\r\n"
    assert all(line.startswith(b"250-") for line in lines[:-1]) and not srv.errors


async def test_scripted_replies_by_command_prefix_and_421_closes() -> None:
    script = {"RCPT TO:<gone@": b"550 5.1.1 no such user\r\n", "RCPT": b"450 4.2.0 greylisted\r\n",
              "MAIL": b"421 4.7.0 bye now\r\n"}
    async with HostileServer(Behaviour.SCRIPTED, banner=b"220 custom\r\n", script=script) as srv:
        async with client(srv) as (reader, writer):
            assert await read_reply(reader) == [b"220 custom\r\n"]
            assert await command(reader, writer, "rcpt to:<gone@x.test>") == [b"550 5.1.1 no such user\r\n"]
            assert await command(reader, writer, "RCPT TO:<other@x.test>") == [b"450 4.2.0 greylisted\r\n"]
            assert await command(reader, writer, "MAIL FROM:<>") == [b"421 4.7.0 bye now\r\n"]
            assert await asyncio.wait_for(reader.read(), STEP) == b""
    assert len(srv.commands) == 3 and not srv.errors


async def test_max_seconds_ends_a_connection_whatever_the_client_does() -> None:
    async with HostileServer(Behaviour.LONG_LINE, line_bytes=10, max_seconds=0.2) as srv:
        async with client(srv) as (reader, _):
            assert await asyncio.wait_for(reader.read(), STEP) == b"220 xxxxxx"  # then the server gave up
    assert not srv.errors


async def test_close_ends_connections_the_client_left_open() -> None:
    srv = HostileServer(Behaviour.STARTTLS_HANG, at="banner")
    async with srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        assert (await asyncio.wait_for(reader.readline(), STEP)).startswith(b"220 ")
    assert not srv._tasks  # closing the server ended the hanging connection
    assert await asyncio.wait_for(reader.read(), STEP) == b""
    writer.close()
    await writer.wait_closed()
    assert not srv.errors


async def test_ipv6_loopback() -> None:
    try:
        srv = HostileServer(Behaviour.NORMAL, host="::1")
        await srv.__aenter__()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        reader, writer = await asyncio.open_connection("::1", srv.port)
        assert (await read_reply(reader))[0].startswith(b"220 ")
        writer.close()
        await writer.wait_closed()
    finally:
        await srv.close()
    assert not srv.errors
