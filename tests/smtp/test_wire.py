"""probe.smtp.wire against loopback servers: replies kept exactly, every bound enforced, nothing lost, nothing injected."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from probe.model import Reply
from probe.smtp.wire import (
    ConnectRefused,
    ConnectTimeout,
    ConnectUnreachable,
    Limits,
    Wire,
    WireClosed,
    WireProtocolError,
    WireTimeout,
    WireTLSFailed,
    WireUnsolicited,
    connect_error,
    decode_line,
)
from probe.testing.fakesmtp import FakeSMTP, start_raw_server

if TYPE_CHECKING:
    from conftest import ServerCert  # tests/smtp/conftest.py (a fixture type only)

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BANNER = b"220 mx.test ESMTP\r\n"


@asynccontextmanager
async def scripted(script: Script, *, timeout_s: float = 2.0,
                   limits: Limits = Limits()) -> AsyncIterator[Wire]:
    """A Wire connected to a raw server running `script`, closed afterwards."""
    async with start_raw_server(script) as server:
        wire = await Wire.connect("127.0.0.1", server.port, timeout_s=timeout_s, limits=limits)
        try:
            yield wire
        finally:
            await wire.close(quit=False)


def replies(*chunks: bytes, greeting: bytes = BANNER) -> Script:
    """A server that sends `greeting`, then chunks[i] after reading the i-th command line, then waits."""
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        for chunk in chunks:
            await reader.readline()
            writer.write(chunk)
            await writer.drain()
        await reader.read()
    return script


async def test_multiline_reply_is_kept_exactly_with_raw_bytes_in_the_transcript() -> None:
    ehlo = b"250-mx.test greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 HELP\r\n"
    async with scripted(replies(ehlo)) as wire:
        assert await wire.read_reply() == Reply(220, ("mx.test ESMTP",))
        reply = await wire.command("EHLO probe.test")
    assert reply == Reply(250, ("mx.test greets you", "PIPELINING", "SIZE 1000", "HELP"))
    assert reply.text == ehlo.decode().replace("\r\n", "\n").rstrip("\n")
    assert [(t.direction, t.data) for t in wire.transcript] == [
        ("S", BANNER), ("C", b"EHLO probe.test\r\n"), ("S", ehlo)]


async def test_bare_code_and_lf_only_line_endings_are_read() -> None:
    async with scripted(replies(b"250\n", b"251 forwarding\n")) as wire:
        await wire.read_reply()
        assert await wire.command("NOOP") == Reply(250, ("",))
        assert await wire.command("NOOP") == Reply(251, ("forwarding",))


async def test_text_is_utf8_or_else_latin1_never_replaced() -> None:
    async with scripted(replies("250 naïve\r\n".encode(), b"250 caf\xe9 \x00 nul\x1b[31m\r\n")) as wire:
        await wire.read_reply()
        assert (await wire.command("NOOP")).lines == ("naïve",)
        assert (await wire.command("NOOP")).lines == ("caf\xe9 \x00 nul\x1b[31m",)
    assert wire.transcript[-1].data == b"250 caf\xe9 \x00 nul\x1b[31m\r\n"
    assert decode_line(b"\xff\xfe") == "\xff\xfe"


async def test_pipeline_is_one_write_and_replies_come_back_in_order() -> None:
    async with FakeSMTP(pipelining=True, rcpt={"gone@x.test": "550 5.1.1 no such user"}) as server:
        wire = await Wire.connect("127.0.0.1", server.port, timeout_s=2)
        await wire.read_reply()
        await wire.command("EHLO probe.test")
        got = await wire.pipeline("MAIL FROM:<>", "RCPT TO:<a@x.test>", "RCPT TO:<gone@x.test>", "RSET")
        await wire.close(quit=True)
    assert [r.code for r in got if isinstance(r, Reply)] == [250, 250, 550, 250]
    assert b"MAIL FROM:<>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<gone@x.test>\r\nRSET\r\n" in server.connections[0].segments


async def test_pipeline_broken_midway_fills_the_rest_with_the_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        await reader.readline()
        writer.write(b"250 ok\r\n")
        await writer.drain()
        writer.close()

    async with scripted(script) as wire:
        await wire.read_reply()
        got = await wire.pipeline("MAIL FROM:<>", "RCPT TO:<a@x.test>", "RSET")
    assert got[0] == Reply(250, ("ok",))
    assert all(isinstance(e, WireClosed) for e in got[1:]) and len(got) == 3


@pytest.mark.parametrize("bad", ["\r", "\n", "\x00", "\x1b", "\x7f", "\t"])
async def test_control_characters_never_reach_the_wire(bad: str) -> None:
    received: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        received.append(await reader.readline())
        writer.write(b"250 ok\r\n")
        await reader.read()

    async with scripted(script) as wire:
        await wire.read_reply()
        with pytest.raises(ValueError, match="control character"):
            await wire.send(f"RCPT TO:<a@x.test>{bad}DATA")
        with pytest.raises(ValueError):
            await wire.pipeline("MAIL FROM:<>", f"RCPT TO:<a{bad}@x.test>")
        assert await wire.command("NOOP") == Reply(250, ("ok",))
    assert received == [b"NOOP\r\n"]
    assert all(t.data == b"NOOP\r\n" for t in wire.transcript if t.direction == "C")


async def test_unsolicited_421_is_kept_and_nothing_is_sent_after_it() -> None:
    received: list[bytes] = []
    finished = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        await reader.readline()
        writer.write(b"250 ok\r\n421 4.4.2 mx.test Error: timeout exceeded\r\n")
        await writer.drain()
        received.append(await reader.read())  # everything until the client closes
        finished.set()

    async with start_raw_server(script) as server:
        wire = await Wire.connect("127.0.0.1", server.port, timeout_s=2)
        await wire.read_reply()
        assert await wire.command("EHLO probe.test") == Reply(250, ("ok",))
        assert wire.unsolicited() is None
        with pytest.raises(WireUnsolicited) as caught:
            await wire.send("MAIL FROM:<>")
        assert caught.value.reply == Reply(421, ("4.4.2 mx.test Error: timeout exceeded",))
        assert wire.unsolicited() == caught.value.reply
        await wire.close(quit=False)
        await asyncio.wait_for(finished.wait(), 2)
    assert received == [b""]  # the MAIL never went out
    assert wire.transcript[-1].data == b"421 4.4.2 mx.test Error: timeout exceeded\r\n"


async def test_a_drip_fed_reply_is_bounded_by_one_timeout_for_the_whole_reply() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for byte in b"220-mx.test\r\n" * 1000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.02)

    async with scripted(script) as wire:
        with pytest.raises(WireTimeout) as caught:
            await wire.read_reply(0.4, step="waiting for the banner")
    assert caught.value.partial.startswith(b"220-")
    assert "waiting for the banner" in str(caught.value)


@pytest.mark.parametrize(("flood", "limits", "kind"), [
    (b"A" * 5000, Limits(), "line-too-long"),
    (b"250-x\r\n" * 300, Limits(), "reply-too-large"),  # endless lines end by bytes, not by their count
    (b"250-" + b"y" * 1000 + b"\r\n", Limits(max_reply_bytes=3000), "reply-too-large"),
])
async def test_reply_limits_end_as_protocol_errors(flood: bytes, limits: Limits, kind: str) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not writer.is_closing():  # endless: only the client's limits can end this
            writer.write(flood)
            await writer.drain()

    async with scripted(script, limits=limits) as wire:
        with pytest.raises(WireProtocolError) as caught:
            await wire.read_reply(5)
    assert caught.value.kind == kind
    assert 0 < len(caught.value.partial) <= limits.max_reply_bytes + limits.max_line


@pytest.mark.parametrize(("banner", "kind"), [
    (b"SSH-2.0-OpenSSH_9.6\r\n", "not-smtp"),
    (b"HTTP/1.1 400 Bad Request\r\n", "not-smtp"),
    (b"\x16\x03\x01\x00\xa5\x01\x00\n", "not-smtp"),
    (b"22 hi\r\n", "not-smtp"),
    (b"199 too low\r\n", "not-smtp"),
    (b"600 too high\r\n", "not-smtp"),
    (b"2200 four digits\r\n", "not-smtp"),
])
async def test_not_smtp_is_a_protocol_error_carrying_what_was_received(banner: bytes, kind: str) -> None:
    async with scripted(replies(greeting=banner)) as wire:
        with pytest.raises(WireProtocolError) as caught:
            await wire.read_reply()
    assert caught.value.kind == kind
    assert banner.startswith(caught.value.partial) and caught.value.partial


async def test_a_reply_whose_lines_change_code_is_its_final_lines_reply() -> None:
    """RFC 5321 §4.2.1 wants one code per reply; Postfix's smtp_chat_resp() reads lines until one has a space
    after its three digits and takes THAT line's code (github:NetBSD/src external/ibm-public/postfix/dist/src/
    smtp/smtp_chat.c). postscreen relies on it: its "220-" teaser, then "521 ..." when it drops the client."""
    async with scripted(replies(greeting=b"220-mx.test\r\n220-more\r\n554 changed my mind\r\n")) as wire:
        reply = await wire.read_reply()
    assert (reply.code, reply.line_codes) == (554, (220, 220, 554))
    assert reply.text == "220-mx.test\n220-more\n554 changed my mind"  # exactly as sent
    assert reply.as_final_code == "554-mx.test\n554-more\n554 changed my mind"  # what it means
    assert wire.transcript[-1].data == b"220-mx.test\r\n220-more\r\n554 changed my mind\r\n"


async def test_a_reply_of_one_code_has_no_line_codes() -> None:
    async with scripted(replies(greeting=b"220-mx.test\r\n220 ready\r\n")) as wire:
        reply = await wire.read_reply()
    assert (reply.code, reply.line_codes, reply.text) == (220, (), "220-mx.test\n220 ready")


async def test_clean_close_mid_reply_is_closed_not_reset() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220-mx.test\r\n220-half")
        await writer.drain()

    async with scripted(script) as wire:
        with pytest.raises(WireClosed) as caught:
            await wire.read_reply()
    assert caught.value.reset is False
    assert caught.value.partial == b"220-mx.test\r\n220-half"


async def test_reset_is_told_apart_from_close() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        await writer.drain()
        await reader.readline()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # linger 0: the kernel sends RST

    async with scripted(script) as wire:
        await wire.read_reply()
        with pytest.raises(WireClosed) as caught:
            await wire.command("EHLO probe.test")
    assert caught.value.reset is True


async def test_connect_refused() -> None:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    with pytest.raises(ConnectRefused):
        await Wire.connect("127.0.0.1", port, timeout_s=1)


async def test_connect_timeout_when_the_listener_never_answers() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue: the kernel then drops further SYNs
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        with pytest.raises(ConnectTimeout):
            await Wire.connect("127.0.0.1", port, timeout_s=0.3)
    finally:
        for s in [*fillers, listener]:
            s.close()


async def test_connect_unreachable_when_the_local_address_is_unusable() -> None:
    with pytest.raises(ConnectUnreachable):
        await Wire.connect("127.0.0.1", 25, timeout_s=1, local_host="192.0.2.1")


@pytest.mark.parametrize(("code", "expected"), [
    (errno.ECONNREFUSED, ConnectRefused), (errno.ETIMEDOUT, ConnectTimeout),
    (errno.ENETUNREACH, ConnectUnreachable), (errno.EHOSTUNREACH, ConnectUnreachable),
])
def test_connect_errors_map_from_errno(code: int, expected: type[Exception]) -> None:
    assert type(connect_error(OSError(code, "x"), "mx.test", 25)) is expected


async def test_starttls_gives_version_cipher_and_the_peer_certificate(server_cert: ServerCert) -> None:
    async with FakeSMTP(tls_context=server_cert.server_context()) as server:
        wire = await Wire.connect("127.0.0.1", server.port, timeout_s=2)
        await wire.read_reply()
        assert "STARTTLS" in (await wire.command("EHLO probe.test")).lines
        assert wire.tls_info() is None
        assert (await wire.command("STARTTLS")).code == 220
        await wire.starttls(server_cert.trusting_client_context(True), "mx.test")
        info = wire.tls_info()
        assert (await wire.command("EHLO probe.test")).code == 250
        await wire.close(quit=True)
    assert info is not None and info["version"] in ("TLSv1.2", "TLSv1.3") and info["cipher"]
    pem = server_cert.cert.read_bytes()
    assert info["der"] == x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    assert server.commands[-2:] == ["EHLO probe.test", "QUIT"] and server.connections[0].tls


async def test_untrusted_certificate_says_why(server_cert: ServerCert) -> None:
    async with FakeSMTP(tls_context=server_cert.server_context()) as server:
        wire = await Wire.connect("127.0.0.1", server.port, timeout_s=2)
        await wire.read_reply()
        await wire.command("EHLO probe.test")
        await wire.command("STARTTLS")
        context = ssl.create_default_context()
        context.check_hostname = False
        with pytest.raises(WireTLSFailed) as caught:
            await wire.starttls(context, "mx.test")
        await wire.close(quit=True)
    assert caught.value.untrusted and caught.value.verify_message
    assert "self" in caught.value.verify_message  # "self-signed certificate"


async def test_data_after_the_220_to_starttls_is_refused_as_injection() -> None:
    async with scripted(replies(b"220 go ahead\r\n250 injected\r\n")) as wire:
        await wire.read_reply()
        await wire.command("STARTTLS")  # both lines came in one write, so the second is buffered now
        with pytest.raises(WireProtocolError) as caught:
            await wire.starttls(ssl.create_default_context(), None, 1)
    assert caught.value.kind == "data-after-starttls" and caught.value.partial == b"250 injected\r\n"


async def test_a_server_that_never_starts_tls_ends_within_the_timeout() -> None:
    async with scripted(replies(b"220 go ahead\r\n")) as wire:
        await wire.read_reply()
        await wire.command("STARTTLS")
        with pytest.raises(WireTLSFailed):
            await wire.starttls(ssl.create_default_context(), None, 0.3)
        assert not wire.is_open


async def test_close_says_quit_and_returns_the_221_and_never_raises() -> None:
    async with FakeSMTP() as server:
        wire = await Wire.connect("127.0.0.1", server.port, timeout_s=2)
        await wire.read_reply()
        assert await wire.close(quit=True) == Reply(221, ("Bye",))
        assert await wire.close(quit=True) is None  # second close: nothing to do, no error
    assert server.commands == ["QUIT"]


async def test_close_after_the_server_hung_up_sends_nothing() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 4.3.2 busy\r\n")
        await writer.drain()

    async with scripted(script) as wire:
        assert (await wire.read_reply()).code == 421
        with pytest.raises(WireClosed):
            await wire.read_reply()
        assert await wire.close(quit=True) is None
    assert [t.direction for t in wire.transcript] == ["S"]
