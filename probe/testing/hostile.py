"""Test equipment (loopback only): misbehaving SMTP servers on plain asyncio; never used against a real network.

    async with HostileServer(Behaviour.DRIP, interval_s=0.01) as srv:
        ...connect to 127.0.0.1:srv.port...
        assert not srv.saw_data

Each behaviour misbehaves at one point of the dialogue (`at`: "banner" or a
command verb such as "EHLO" or "RCPT"), and otherwise speaks a small, polite
SMTP dialogue (EHLO/HELO/MAIL/RCPT/VRFY/RSET/NOOP/QUIT), so a client can get
that far. Everything the client sent is recorded (`received`, `commands`).
Every connection is capped in time (`max_seconds`) and every loop by count; a
client that goes away ends its connection quietly.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import StrEnum
from types import TracebackType
from typing import Any


class Behaviour(StrEnum):
    """How a HostileServer misbehaves (issue 5)."""

    NORMAL = "normal"  # no misbehaviour: the polite dialogue only
    DRIP = "drip"  # the reply at `at` (default: banner) one byte per `interval_s`
    LONG_LINE = "long_line"  # a `line_bytes` line with no end at `at` (default: banner), then silence
    ENDLESS_MULTILINE = "endless_multiline"  # "NNN-" lines at `at` (default EHLO), `line_count` of them, no end
    GARBAGE = "garbage"  # binary garbage at `at` (default: banner), then the polite dialogue
    HTTP = "http"  # an HTTP server: waits for a request, answers 400, closes
    SSH = "ssh"  # an SSH server banner; answers the first line with an error and closes
    RESET_MID_REPLY = "reset_mid_reply"  # half of a multi-line reply at `at` (default EHLO), then RST
    STARTTLS_HANG = "starttls_hang"  # advertises STARTTLS, answers 220, never completes the handshake
    UNSOLICITED_421 = "unsolicited_421"  # the reply at `at` (default EHLO), then an unasked 421, then close
    MIXED_CODES = "mixed_codes"  # a reply whose lines carry different codes at `at` (default RCPT)
    BAD_CODES = "bad_codes"  # a reply with a code that is not 2xx-5xx at `at` (default: banner)
    SLOW_GREETING = "slow_greeting"  # banner after `delay_s`; a client talking first gets 554 and is closed
    HUGE_EHLO = "huge_ehlo"  # an EHLO reply of `line_count` lines
    SCRIPTED = "scripted"  # `script` maps command prefixes to replies; others get the polite dialogue


DEFAULT_AT: Mapping[Behaviour, str] = {
    Behaviour.DRIP: "banner",
    Behaviour.LONG_LINE: "banner",
    Behaviour.ENDLESS_MULTILINE: "EHLO",
    Behaviour.GARBAGE: "banner",
    Behaviour.RESET_MID_REPLY: "EHLO",
    Behaviour.STARTTLS_HANG: "STARTTLS",
    Behaviour.UNSOLICITED_421: "EHLO",
    Behaviour.MIXED_CODES: "RCPT",
    Behaviour.BAD_CODES: "banner",
    Behaviour.HUGE_EHLO: "EHLO",
}
DEFAULT_LINE_COUNT: Mapping[Behaviour, int] = {Behaviour.ENDLESS_MULTILINE: 200_000, Behaviour.HUGE_EHLO: 20_000}
DEFAULT_EXTENSIONS = ("PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8")
MIXED_CODES_REPLY = b"250-ok\r\n550 no\r\n"
BAD_CODE_REPLIES = (b"099 hi\r\n", b"2500 x\r\n", b"600 y\r\n", b"22 hi\r\n")
UNSOLICITED_421_REPLY = b"421 4.4.2 mx.test Error: timeout exceeded\r\n"
SYNCHRONIZATION_ERROR = b"554 5.5.1 SMTP synchronization error\r\n"
SSH_BANNER = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n"
HTTP_400 = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
    b"Content-Length: 52\r\nConnection: close\r\n\r\n<html><head><title>400 Bad Request</title></head></html>"
)
MAX_COMMANDS = 1_000  # per connection
_CHUNK = 64 * 1024


class _ClientGone(Exception):
    """The client closed the connection; the handler ends quietly."""


class _Connection:
    """One client connection: reads commands and writes replies, recording what the client sent."""

    def __init__(self, server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer

    def gone(self) -> bool:
        return self.writer.is_closing() or self.reader.at_eof()

    async def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise _ClientGone
        self.writer.write(data)
        await self.writer.drain()

    async def read_line(self) -> str | None:
        """The next command line without CRLF, or None when the client has gone."""
        try:
            raw = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            self.server._received += exc.partial
            return None
        self.server._received += raw
        line = raw.rstrip(b"\r\n").decode("latin-1")
        self.server.commands.append(line)
        return line

    async def read_until_gone(self) -> None:
        """Swallow (and record) whatever the client sends until it goes away; bounded by max_seconds."""
        while chunk := await self.reader.read(_CHUNK):
            self.server._received += chunk

    async def reset(self) -> None:
        """Close with SO_LINGER 0, so the client sees a TCP RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.server.resets += 1


# A misbehaviour gets the connection and the reply a polite server would have sent at that
# point; it returns True to carry on with the polite dialogue, False to end the connection.
_Misbehaviour = Callable[["HostileServer", _Connection, bytes], Awaitable[bool]]


class HostileServer:
    """A misbehaving SMTP server on loopback, port chosen by the system. Use as `async with`."""

    def __init__(
        self,
        behaviour: Behaviour | str,
        *,
        host: str = "127.0.0.1",
        hostname: str = "mx.test",
        banner: bytes | None = None,
        at: str | None = None,
        reply: bytes | None = None,
        interval_s: float = 0.01,
        delay_s: float = 3.0,
        line_bytes: int = 100_000,
        line_count: int | None = None,
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        script: Mapping[str, bytes] | None = None,
        garbage_seed: int = 25,
        max_seconds: float = 30.0,
    ) -> None:
        self.behaviour = Behaviour(behaviour)
        self.host = host
        self.hostname = hostname
        self.banner = banner if banner is not None else f"220 {hostname} ESMTP hostile test server\r\n".encode()
        self.at = (at or DEFAULT_AT.get(self.behaviour, "banner")).upper()
        self.reply = reply
        self.interval_s = interval_s
        self.delay_s = delay_s
        self.line_bytes = line_bytes
        self.line_count = line_count if line_count is not None else DEFAULT_LINE_COUNT.get(self.behaviour, 5_000)
        self.extensions = tuple(extensions)
        if self.behaviour is Behaviour.STARTTLS_HANG and "STARTTLS" not in self.extensions:
            self.extensions += ("STARTTLS",)
        self.script = {prefix.upper(): answer for prefix, answer in (script or {}).items()}
        self.garbage = random.Random(garbage_seed).randbytes(512)
        self.max_seconds = max_seconds
        self.port = 0
        self.commands: list[str] = []  # every command line the client sent, CRLF removed
        self.connections = 0
        self.active = 0  # connections open right now
        self.max_active = 0  # the most connections that were open at the same time
        self.early_talkers = 0  # clients that talked before the banner (slow_greeting)
        self.resets = 0  # connections ended with a TCP RST
        self.errors: list[str] = []  # bugs in this test equipment: tests assert it stays empty
        self._received = bytearray()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def received(self) -> bytes:
        """Every byte every client sent, in order."""
        return bytes(self._received)

    @property
    def saw_data(self) -> bool:
        """True when a client sent DATA or BDAT (the probe must never do that)."""
        return any(command.split(" ", 1)[0].upper() in ("DATA", "BDAT") for command in self.commands)

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening and end every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)  # let the closed transports run connection_lost before the loop ends

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        connection = _Connection(self, reader, writer)
        try:
            async with asyncio.timeout(self.max_seconds):
                await self._run(connection)
        except (_ClientGone, ConnectionError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # close() cancels this handler; ending it normally keeps asyncio.streams from logging
            # "Exception in callback ... CancelledError" for the cancelled connection task
            pass
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.active -= 1
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _run(self, connection: _Connection) -> None:
        if self.behaviour is Behaviour.HTTP:
            await _http(self, connection)
            return
        if self.behaviour is Behaviour.SSH:
            await _ssh(self, connection)
            return
        if self.behaviour is Behaviour.SLOW_GREETING and not await _slow_greeting(self, connection):
            return
        misbehave = _MISBEHAVIOURS.get(self.behaviour)
        if self.at == "BANNER" and misbehave is not None:
            if not await misbehave(self, connection, self.banner):
                return
        elif self.behaviour is not Behaviour.SLOW_GREETING:
            await connection.send(self.banner)
        await self._dialogue(connection, misbehave)

    async def _dialogue(self, connection: _Connection, misbehave: _Misbehaviour | None) -> None:
        """The polite dialogue; the first command whose verb is `at` gets the misbehaviour instead."""
        pending = misbehave if self.at != "BANNER" else None
        for _ in range(MAX_COMMANDS):
            line = await connection.read_line()
            if line is None:
                return
            verb = line.split(" ", 1)[0].upper()
            answer = self._scripted(line)
            if answer is None:
                answer = self.polite_reply(line)
            if pending is not None and verb == self.at:
                carry_on = await pending(self, connection, answer)
                pending = None
                if not carry_on:
                    return
                continue
            await connection.send(answer)
            if verb == "QUIT" or answer[:3] in (b"221", b"421"):
                return

    def _scripted(self, line: str) -> bytes | None:
        upper = line.upper()
        matches = [prefix for prefix in self.script if upper.startswith(prefix)]
        return self.script[max(matches, key=len)] if matches else None

    def polite_reply(self, line: str) -> bytes:
        """What a well-behaved server answers to `line`."""
        verb, _, argument = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            lines = [f"{self.hostname} greets {argument or 'you'}", *self.extensions]
            return _multiline(250, lines)
        replies = {
            "HELO": f"250 {self.hostname}",
            "MAIL": "250 2.1.0 Ok",
            "RCPT": "250 2.1.5 Ok",
            "VRFY": "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
            "RSET": "250 2.0.0 Ok",
            "NOOP": "250 2.0.0 Ok",
            "QUIT": "221 2.0.0 Bye",
            "DATA": "554 5.5.1 Error: this test server refuses DATA",
            "STARTTLS": "454 4.7.0 TLS not available",
        }
        if verb == "STARTTLS" and "STARTTLS" in self.extensions:
            return b"220 2.0.0 Ready to start TLS\r\n"
        if not verb:
            return b"500 5.5.2 Error: bad syntax\r\n"
        return (replies.get(verb, "502 5.5.2 Error: command not recognized") + "\r\n").encode()


def _multiline(code: int, lines: Sequence[str]) -> bytes:
    last = len(lines) - 1
    return b"".join(f"{code}{' ' if i == last else '-'}{text}\r\n".encode() for i, text in enumerate(lines))


def _code_of(polite: bytes) -> bytes:
    """The three-digit code of a polite reply (b"220" for the banner)."""
    return polite[:3] if polite[:3].isdigit() else b"250"


async def _drip(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    for byte in polite:
        if connection.gone():
            return False
        await connection.send(bytes([byte]))
        await asyncio.sleep(server.interval_s)
    return True


async def _long_line(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    head = _code_of(polite) + b" "
    await connection.send(head)
    left = max(0, server.line_bytes - len(head))
    chunk = b"x" * _CHUNK  # streamed, never built whole: a many-megabyte line costs this server 64 KiB
    while left > 0:
        await connection.send(chunk[:left])
        left -= _CHUNK
    await connection.read_until_gone()
    return False


async def _endless_multiline(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    code = _code_of(polite)
    batch = 1_000  # ~22 KB a write: the client's byte limit is reached in a dozen writes
    name = server.hostname.encode()
    for first in range(0, server.line_count, batch):
        if connection.gone():
            return False
        last = min(first + batch, server.line_count)
        await connection.send(b"".join(code + b"-%s line %d\r\n" % (name, n) for n in range(first, last)))
    return False


async def _garbage(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    await connection.send(server.reply if server.reply is not None else server.garbage)
    return True


async def _reset_mid_reply(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    code = _code_of(polite)
    half = code + b"-" + server.hostname.encode() + b" first line\r\n" + code + b"-second li"
    await connection.send(server.reply if server.reply is not None else half)
    await connection.reset()
    return False


async def _starttls_hang(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    await connection.send(b"220 2.0.0 Ready to start TLS\r\n")
    await connection.read_until_gone()  # the ClientHello is recorded, never answered
    return False


async def _unsolicited_421(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    await connection.send(polite + (server.reply if server.reply is not None else UNSOLICITED_421_REPLY))
    return False


async def _mixed_codes(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    await connection.send(server.reply if server.reply is not None else MIXED_CODES_REPLY)
    return True


async def _bad_codes(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    await connection.send(server.reply if server.reply is not None else BAD_CODE_REPLIES[0])
    return True


async def _huge_ehlo(server: HostileServer, connection: _Connection, polite: bytes) -> bool:
    lines = [f"{server.hostname} greets you"]
    lines += [f"X-EXTENSION-{n:05d}" for n in range(1, max(1, server.line_count - 1))]
    lines.append("SIZE 10240000")
    reply = _multiline(250, lines[: max(1, server.line_count)])
    for start in range(0, len(reply), _CHUNK):
        await connection.send(reply[start : start + _CHUNK])
    return True


async def _slow_greeting(server: HostileServer, connection: _Connection) -> bool:
    """Wait `delay_s` before the banner; a client that talks first gets 554 and is closed."""
    early = b""
    try:
        async with asyncio.timeout(server.delay_s):
            early = await connection.reader.read(_CHUNK)
            if not early:
                return False  # the client left without a word
    except TimeoutError:
        await connection.send(server.banner)
        return True
    server._received += early
    server.commands.extend(early.decode("latin-1").splitlines())
    server.early_talkers += 1
    await connection.send(SYNCHRONIZATION_ERROR)
    return False


async def _http(server: HostileServer, connection: _Connection) -> None:
    request = await connection.reader.read(_CHUNK)
    if not request:
        return
    server._received += request
    server.commands.extend(request.decode("latin-1").splitlines())
    await connection.send(HTTP_400)


async def _ssh(server: HostileServer, connection: _Connection) -> None:
    await connection.send(SSH_BANNER)
    if await connection.read_line() is not None:
        await connection.send(b"Invalid SSH identification string.\r\n")


_MISBEHAVIOURS: Mapping[Behaviour, _Misbehaviour] = {
    Behaviour.DRIP: _drip,
    Behaviour.LONG_LINE: _long_line,
    Behaviour.ENDLESS_MULTILINE: _endless_multiline,
    Behaviour.GARBAGE: _garbage,
    Behaviour.RESET_MID_REPLY: _reset_mid_reply,
    Behaviour.STARTTLS_HANG: _starttls_hang,
    Behaviour.UNSOLICITED_421: _unsolicited_421,
    Behaviour.MIXED_CODES: _mixed_codes,
    Behaviour.BAD_CODES: _bad_codes,
    Behaviour.HUGE_EHLO: _huge_ehlo,
}
