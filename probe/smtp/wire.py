"""I/O: a bounded SMTP client on asyncio (bytes on the wire). It must not classify replies or decide the dialogue.

Why not aiosmtplib (a decision, see libraries.md §1): it cannot pipeline (a second
reply written on its transport is lost, §1.4), it drops the text of an unsolicited
421 (§1.6), it has no transcript hook (§1.8) and it stays desynchronised after a
malformed reply. PIPELINING, kept unsolicited replies and a byte-exact transcript
are what issues 5 and 6 need, and they ask for ONE SMTP layer, not two clients
side by side. So this module is that one layer: a small asyncio.Protocol that
owns its receive buffer (so "did the server say something unasked?" is a plain,
synchronous look at the buffer), with every wait bounded.

Bounds: a step timeout covers a WHOLE reply (a server dripping one byte at a time
still ends on time); `Limits` caps the line length and the bytes per reply (never
the number of lines: RFC 5321 sets none, and Postfix reads an EHLO reply of thousands
of lines), and reading pauses when the buffer is full, so a hostile server cannot
make us hold more than about `max_reply_bytes + max_line` bytes.

Text: each reply line is decoded as strict UTF-8 and, when it is not valid UTF-8,
as latin-1 (one character per byte). Every string is therefore valid Unicode
(safe for JSON with ensure_ascii=False and for any terminal), nothing is replaced
or dropped, and the exact bytes are kept in `Wire.transcript`. We chose this over
"surrogateescape" because lone surrogates crash `print()` and UTF-8 JSON writers.

Failures are exceptions only inside this layer (`WireError` and subclasses, defined in
probe.smtp.wireerrors, each carrying the raw bytes received so far); the session turns them into fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from probe.model import Reply
from probe.smtp.wireerrors import (
    ConnectError,
    ConnectRefused,
    ConnectTimeout,
    ConnectUnreachable,
    WireClosed,
    WireError,
    WireProtocolError,
    WireTimeout,
    WireTLSFailed,
    WireUnsolicited,
    connect_error,
)
from probe.tls import certificates as tlsinfo

__all__ = [  # the error classes live in probe.smtp.wireerrors and are re-exported here, the layer's one face
    "ConnectError", "ConnectRefused", "ConnectTimeout", "ConnectUnreachable", "Limits", "TranscriptLine", "Wire",
    "WireClosed", "WireError", "WireProtocolError", "WireTLSFailed", "WireTimeout", "WireUnsolicited",
    "check_command", "connect_error", "decode_line",
]

_REPLY_LINE = re.compile(rb"([0-9]{3})(?:([ -])(.*))?", re.S)
_FORBIDDEN_IN_COMMAND = re.compile(r"[\x00-\x1f\x7f]")
_QUIT_WAIT_S = 1.0  # longest we wait for the 221 to QUIT; the dialogue is over by then
_CLOSE_WAIT_S = 0.5  # longest we wait for the transport to report it is closed


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a server may send us in one reply before we call it a protocol error (bytes, never lines)."""

    max_line: int = 4096  # bytes in one reply line, CRLF included (RFC 5321 §4.5.3.1.5 says 512)
    max_reply_bytes: int = 256 * 1024  # bytes in one reply, all lines together (3,000 EHLO lines are ~70 KB)


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One chunk of the dialogue as it crossed the wire: what we wrote ("C") or a reply we read ("S")."""

    direction: str  # "C" client to server, "S" server to client
    data: bytes  # exactly as sent or received, CRLFs included
    elapsed_ms: float  # since the connection was opened


def decode_line(data: bytes) -> str:
    """Reply text as a str: strict UTF-8, else latin-1 (lossless, one char per byte)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def check_command(command: str) -> None:
    """Raise ValueError when `command` holds CR, LF, NUL or any other control character (or DEL)."""
    bad = _FORBIDDEN_IN_COMMAND.search(command)
    if bad is not None:
        raise ValueError(f"refusing to send a command containing control character "
                         f"{bad.group()!r} at offset {bad.start()}")


class _Inbox(asyncio.Protocol):
    """The receiving end: a bounded buffer, EOF/reset state and a waiter the reader can sleep on."""

    def __init__(self, high_water: int) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.reset = False
        self.broken_tls: str | None = None  # the TLS layer failed on what the server sent ("wrong version number")
        self.lost = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._high_water = high_water
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > self._high_water and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
            self.reset = True
        elif isinstance(exc, ssl.SSLError):
            self.broken_tls = tlsinfo.verify_failure(exc)
        if not self.lost.done():
            self.lost.set_result(None)
        self._wake()

    def take(self, n: int) -> bytes:
        chunk = bytes(self.buffer[:n])
        del self.buffer[:n]
        if self._paused and len(self.buffer) <= self._high_water and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    async def wait(self) -> None:
        """Sleep until more data, EOF or loss of the connection."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Wire:
    """One SMTP connection: send commands (pipelined or not), read bounded replies, STARTTLS, close."""

    def __init__(self, inbox: _Inbox, *, timeout_s: float, limits: Limits) -> None:
        self._inbox = inbox
        self._timeout_s = timeout_s
        self.limits = limits
        self._loop = asyncio.get_running_loop()
        self._opened = self._loop.time()
        self._unsolicited: Reply | None = None
        self.replies_read = 0  # complete SMTP replies read; 0 means the server has not greeted us yet
        self.transcript: list[TranscriptLine] = []

    @classmethod
    async def connect(cls, host: str, port: int, *, timeout_s: float, local_host: str | None = None,
                      sock: socket.socket | None = None, limits: Limits = Limits()) -> Wire:
        """Open a TCP connection (or adopt `sock`, e.g. from a SOCKS proxy). Raises ConnectError."""
        loop = asyncio.get_running_loop()
        inbox = _Inbox(high_water=limits.max_reply_bytes + limits.max_line)
        try:
            async with asyncio.timeout(timeout_s):
                if sock is not None:
                    await loop.create_connection(lambda: inbox, sock=sock)
                else:
                    local_addr = (local_host, 0) if local_host else None
                    await loop.create_connection(lambda: inbox, host, port, local_addr=local_addr)
        except TimeoutError:
            raise ConnectTimeout(f"connection to {host} port {port} timed out after {timeout_s:g} s",
                                 step="connect") from None
        except OSError as exc:
            raise connect_error(exc, host, port) from None
        return cls(inbox, timeout_s=timeout_s, limits=limits)

    def _elapsed_ms(self) -> float:
        return (self._loop.time() - self._opened) * 1000.0

    def _log(self, direction: str, data: bytes) -> None:
        if data:
            self.transcript.append(TranscriptLine(direction, data, round(self._elapsed_ms(), 1)))

    @property
    def is_open(self) -> bool:
        """True while the server has neither closed nor reset the connection."""
        transport = self._inbox.transport
        return not self._inbox.eof and transport is not None and not transport.is_closing()

    async def read_reply(self, timeout_s: float | None = None, *, step: str = "reading a reply") -> Reply:
        """Read one complete reply; `timeout_s` (default: the connect timeout) bounds the WHOLE reply."""
        limit = self._timeout_s if timeout_s is None else timeout_s
        raw = bytearray()
        try:
            async with asyncio.timeout(max(limit, 0.0)):
                reply = await self._read_lines(raw, step)
        except TimeoutError:
            partial = bytes(raw) + self._inbox.take(len(self._inbox.buffer))
            self._log("S", partial)
            raise WireTimeout(f"no complete reply within {limit:g} s while {step}",
                              partial=partial, step=step) from None
        except WireError as exc:
            exc.partial = bytes(raw) + exc.partial
            self._log("S", exc.partial)
            raise
        self._log("S", bytes(raw))
        self.replies_read += 1
        return reply

    async def _read_lines(self, raw: bytearray, step: str) -> Reply:
        limits = self.limits
        codes: list[int] = []
        lines: list[str] = []
        while True:
            line = await self._next_line(step)
            raw += line
            if len(raw) > limits.max_reply_bytes:
                raise WireProtocolError(f"reply longer than {limits.max_reply_bytes} bytes while {step}",
                                        kind="reply-too-large", step=step)
            body = line.rstrip(b"\r\n")
            match = _REPLY_LINE.fullmatch(body)
            line_code = int(match.group(1)) if match else None
            if match is None or line_code is None or not 200 <= line_code <= 599:
                raise WireProtocolError(f"server sent {decode_line(body[:120])!r}, not an SMTP reply",
                                        kind="not-smtp", step=step)
            codes.append(line_code)
            lines.append(decode_line(match.group(3) or b""))
            if match.group(2) != b"-":
                # lines with different codes (postscreen: "220-" teaser, then "521 ..." when it drops the
                # client): the final line's code is the reply's, as Postfix's smtp_chat_resp() takes it
                mixed = tuple(codes) if len(set(codes)) > 1 else ()
                return Reply(line_code, tuple(lines), mixed)

    async def _next_line(self, step: str) -> bytes:
        inbox, max_line = self._inbox, self.limits.max_line
        while True:
            end = inbox.buffer.find(b"\n", 0, max_line)
            if end >= 0:
                return inbox.take(end + 1)
            if len(inbox.buffer) >= max_line:
                raise WireProtocolError(f"reply line longer than {max_line} bytes while {step}",
                                        kind="line-too-long", partial=inbox.take(max_line), step=step)
            if inbox.eof:
                partial = inbox.take(len(inbox.buffer))
                how = "reset" if inbox.reset else "closed"
                raise WireClosed(f"server {how} the connection while {step}", reset=inbox.reset,
                                 partial=partial, step=step, broken_tls=inbox.broken_tls)
            await inbox.wait()

    def unsolicited(self) -> Reply | None:
        """The reply the server sent without being asked, once one has been found (see `send`)."""
        return self._unsolicited

    async def _check_unsolicited(self) -> None:
        await asyncio.sleep(0)  # let bytes already on the socket reach the buffer
        inbox = self._inbox
        if not inbox.buffer:
            return
        try:
            reply = await self.read_reply(min(self._timeout_s, _QUIT_WAIT_S),
                                          step="reading data the server sent unasked")
        except WireError as exc:
            reply = Reply(-1, (decode_line(exc.partial.rstrip(b"\r\n")),))
        self._unsolicited = reply
        raise WireUnsolicited(reply)

    async def send(self, *commands: str) -> None:
        """Write `commands` in ONE write (a pipelined group). ValueError before writing on any control char.

        Raises WireUnsolicited, writing nothing, when the server already sent something unasked,
        and WireClosed when the connection is gone.
        """
        for command in commands:
            check_command(command)
        data = b"".join(command.encode("utf-8") + b"\r\n" for command in commands)
        await self._check_unsolicited()
        transport = self._inbox.transport
        if transport is None or transport.is_closing() or self._inbox.lost.done():
            raise WireClosed("the connection is already closed", reset=self._inbox.reset,
                             step=f"sending {_verb(commands[0]) if commands else 'nothing'}")
        self._log("C", data)
        transport.write(data)

    async def command(self, cmd: str, timeout_s: float | None = None) -> Reply:
        """Send one command and read its reply."""
        await self.send(cmd)
        return await self.read_reply(timeout_s, step=f"waiting for the reply to {_verb(cmd)}")

    async def pipeline(self, *cmds: str, timeout_s: float | None = None) -> list[Reply | WireError]:
        """Send `cmds` in one write, read one reply each, in order.

        When the connection breaks midway, the entry for that command and every later one is the error.
        """
        await self.send(*cmds)
        results: list[Reply | WireError] = []
        for index, cmd in enumerate(cmds):
            try:
                results.append(await self.read_reply(timeout_s, step=f"waiting for the reply to {_verb(cmd)}"))
            except WireError as exc:
                results.extend([exc] * (len(cmds) - index))
                break
        return results

    async def starttls(self, ctx: ssl.SSLContext, server_hostname: str | None,
                       timeout_s: float | None = None) -> None:
        """Upgrade to TLS after the server's 220 to STARTTLS. Raises WireTLSFailed or WireProtocolError."""
        limit = self._timeout_s if timeout_s is None else timeout_s
        inbox = self._inbox
        if inbox.buffer:  # RFC 3207 §5: anything sent before the handshake may be an injection
            partial = inbox.take(len(inbox.buffer))
            self._log("S", partial)
            raise WireProtocolError("server sent data after its 220 reply to STARTTLS",
                                    kind="data-after-starttls", partial=partial, step="STARTTLS")
        transport = inbox.transport
        if transport is None or transport.is_closing():
            raise WireClosed("the connection is already closed", step="TLS handshake")
        try:
            async with asyncio.timeout(max(limit, 0.0)):
                with self._abort_on_error(transport):
                    new = await self._loop.start_tls(transport, inbox, ctx, server_hostname=server_hostname,
                                                     ssl_handshake_timeout=max(limit, 0.001))
        except TimeoutError:
            raise WireTLSFailed(f"TLS handshake did not finish within {limit:g} s") from None
        except ssl.SSLCertVerificationError as exc:
            message = exc.verify_message or exc.reason or str(exc)
            raise WireTLSFailed(f"certificate not trusted: {message}", untrusted=True,
                                verify_message=message) from None
        except (ssl.SSLError, OSError, EOFError) as exc:
            raise WireTLSFailed(f"TLS handshake failed: {_describe(exc)}") from None
        if new is None:  # typeshed allows None; the selector loop always returns a transport
            raise WireTLSFailed("TLS handshake failed: no transport")
        assert isinstance(new, asyncio.Transport)
        inbox.transport = new

    @contextlib.contextmanager
    def _abort_on_error(self, transport: asyncio.Transport) -> Iterator[None]:
        """A failed handshake leaves the connection unusable: drop it now rather than wait on it later."""
        try:
            yield
        except BaseException:
            transport.abort()
            self._inbox.connection_lost(None)
            raise

    def tls_info(self) -> dict[str, Any] | None:
        """{"version", "cipher", "der", "chain"} of the TLS layer, or None before STARTTLS.

        "chain": the DER certificates the server sent, leaf first, or None when this Python cannot tell.
        """
        transport = self._inbox.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if not isinstance(ssl_object, (ssl.SSLObject, ssl.SSLSocket)):
            return None
        cipher = ssl_object.cipher()
        return {"version": ssl_object.version(), "cipher": cipher[0] if cipher else None,
                "der": ssl_object.getpeercert(binary_form=True), "chain": tlsinfo.unverified_chain(ssl_object)}

    @property
    def local_address(self) -> str | None:
        """This end's IP address (the source address the server sees, unless NAT rewrites it)."""
        transport = self._inbox.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        return str(sockname[0]) if isinstance(sockname, tuple) and sockname else None

    async def hang_up(self, *, quit: bool, timeout_s: float) -> tuple[bool, Reply | None]:
        """End the session: QUIT (when asked, to a peer that has spoken SMTP and still listens), then close.

        Bytes still unread (after a protocol error the dialogue is desynchronised) go to the transcript,
        not in the way of the QUIT. The client waits for the 221 (at most `timeout_s`, capped at 1 s), as
        RFC 5321 §4.1.1.10 says it SHOULD: only then has the server ended the session on its side, so a
        per-host connection limit (ours, or the server's own, such as Exim's smtp_accept_max_per_host)
        never sees the next session to that host begin while this one is still open. Then plain TCP
        closes; TLS drops the connection without waiting for the peer's close_notify (a graceful TLS close
        costs another round trip, and the server has processed QUIT by then). Never raises. Returns
        (QUIT was said, the 221 if it was read).
        """
        if self._inbox.buffer:
            self._log("S", self._inbox.take(len(self._inbox.buffer)))
        transport = self._inbox.transport
        said_quit = False
        reply: Reply | None = None
        if quit and self.is_open and self.replies_read > 0 and transport is not None:
            self._log("C", b"QUIT\r\n")
            transport.write(b"QUIT\r\n")
            said_quit = True
        if said_quit:
            with contextlib.suppress(WireError):
                reply = await self.read_reply(min(timeout_s, _QUIT_WAIT_S), step="waiting for the reply to QUIT")
            if self._inbox.buffer:
                self._log("S", self._inbox.take(len(self._inbox.buffer)))
            if self.tls_info() is not None:
                if transport is not None and not self._inbox.lost.done():
                    transport.abort()
                return said_quit, reply
        await self.close(quit=False)
        return said_quit, reply

    async def close(self, *, quit: bool) -> Reply | None:
        """Say QUIT when asked and the server still listens, wait briefly for the 221, then close.

        No QUIT before the server has sent one complete SMTP reply (its greeting): a client that
        talks first is what postscreen-style greeting delays punish, and a peer that never spoke
        SMTP (garbage, SSH, a silent HTTP server) is not listening for it. Never raises. Returns
        the reply to QUIT when one came.
        """
        reply: Reply | None = None
        if self._inbox.buffer:  # unread bytes (after a desync): keep them in the transcript, drop them
            self._log("S", self._inbox.take(len(self._inbox.buffer)))
        if quit and self.is_open and self.replies_read > 0:
            try:
                reply = await self.command("QUIT", timeout_s=min(self._timeout_s, _QUIT_WAIT_S))
            except (WireError, ValueError, OSError):
                reply = None
        if self._inbox.buffer:
            self._log("S", self._inbox.take(len(self._inbox.buffer)))
        transport = self._inbox.transport
        if transport is not None and not self._inbox.lost.done():
            transport.close()
            try:
                async with asyncio.timeout(_CLOSE_WAIT_S):
                    await asyncio.shield(self._inbox.lost)
            except (TimeoutError, OSError):
                transport.abort()
        return reply


def _verb(command: str) -> str:
    """'RCPT TO:<a@b>' -> 'RCPT TO', 'EHLO x' -> 'EHLO': how a step is named in messages."""
    head = command.split(":", 1)[0] if ":" in command[:10] else command.split(" ", 1)[0]
    return head.upper()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    return str(exc) or type(exc).__name__
