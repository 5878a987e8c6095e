"""Test and demo fixture: scriptable fake mail servers on loopback. It must never listen beyond loopback.

`FakeSMTP` is aiosmtpd's SMTP served by `loop.create_server(..., "127.0.0.1", 0)` in the
running loop (aiosmtpd's threaded Controller cannot use port 0). It plays a script:
banner (any code, multi-line, delayed), EHLO extensions (PIPELINING, SMTPUTF8, STARTTLS
through a tls_context), a refused EHLO, VRFY, MAIL and RCPT replies (per address, by
default, or from a policy callable), and it records what every client wrote: each line
(`commands`) and each chunk as it arrived (`segments`, for counting round trips).

`start_raw_server(handler)` serves a plain asyncio handler for the protocol breakers
aiosmtpd cannot play (drip-feed, garbage, endless lines, unsolicited replies).

`DelayProxy` relays a loopback connection adding a delay each way, so a test can count
the round trips a dialogue waits for (elapsed time / round-trip time).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

DEFAULT_BANNER = "220 mx.test ESMTP smtp-probe fake server"
DEFAULT_VRFY = "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery"
DEFAULT_RCPT = "250 2.1.5 OK"


@dataclass(frozen=True, slots=True)
class RcptRequest:
    """What a RCPT policy sees: the address, and the RCPTs already given in this transaction."""

    address: str
    earlier: tuple[str, ...]  # addresses of the earlier RCPTs in the same transaction
    connection: int  # 0 for the first connection to this server, 1 for the next ...
    peer: str = ""  # the client's IP address (a greylisting triplet's first part)
    sender: str = ""  # the MAIL FROM address of this transaction ("" for <>)


RcptPolicy = Callable[[RcptRequest], "str | None"]  # a reply, or None for the scripted one


@dataclass
class ConnectionLog:
    """What one client connection wrote, as lines and as the chunks that arrived."""

    index: int
    commands: list[str] = field(default_factory=list)  # each line, CRLF stripped, decoded
    segments: list[bytes] = field(default_factory=list)  # each chunk as received (after TLS: decrypted)
    before_banner: bytes = b""  # anything the client said before the greeting (it must not)
    tls: bool = False
    _pending: bytes = b""

    def record(self, data: bytes, *, greeted: bool) -> None:
        if not greeted:
            self.before_banner += data
        self.segments.append(data)
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        self.commands.extend(line.rstrip(b"\r").decode("utf-8", "backslashreplace") for line in lines)


class _Handler:
    """aiosmtpd hooks that play the script."""

    def __init__(self, fake: FakeSMTP) -> None:
        self.fake = fake

    async def handle_EHLO(self, server: _ScriptedSMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        fake = self.fake
        if fake.ehlo_reply is not None:
            session.extended_smtp = False
            return [fake.ehlo_reply]
        session.host_name = hostname  # the 5-argument hook must set it, or MAIL answers 503
        lines = [r[4:] for r in responses]
        hidden = {h.upper() for h in fake.hide}
        lines = [ln for ln in lines if ln.split()[0].upper() not in hidden]
        extra = list(fake.advertise) + (["PIPELINING"] if fake.pipelining else [])
        lines[-1:-1] = extra
        return [f"250-{ln}" for ln in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_HELO(self, server: _ScriptedSMTP, session: Session, envelope: Envelope,
                          hostname: str) -> str:
        if self.fake.helo_reply is not None:
            return self.fake.helo_reply
        session.host_name = hostname
        return f"250 {self.fake.hostname}"

    async def handle_VRFY(self, server: _ScriptedSMTP, session: Session, envelope: Envelope,
                          address: str) -> str:
        vrfy = self.fake.vrfy
        if isinstance(vrfy, Mapping):
            return vrfy.get(address, self.fake.vrfy_default)
        return vrfy if vrfy is not None else self.fake.vrfy_default

    async def handle_MAIL(self, server: _ScriptedSMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self.fake.mail is not None:
            return self.fake.mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: _ScriptedSMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        fake = self.fake
        earlier = tuple(server.transaction_rcpts)
        server.transaction_rcpts.append(address)
        reply = None
        if fake.rcpt_policy is not None:
            peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
            reply = fake.rcpt_policy(RcptRequest(address, earlier, server.log.index, peer,
                                                 envelope.mail_from or ""))
        if reply is None:
            reply = fake.rcpt.get(address, fake.rcpt_default)
        if reply[:1] == "2":
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_RSET(self, server: _ScriptedSMTP, session: Session, envelope: Envelope) -> str:
        server.transaction_rcpts.clear()
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server: _ScriptedSMTP, session: Session, envelope: Envelope) -> str:
        if self.fake.quit_delay_s > 0:  # a server slow to say goodbye (issue 13 measured Exim at about 200 ms)
            await asyncio.sleep(self.fake.quit_delay_s)
        return "221 Bye"  # aiosmtpd's own words

    def handle_STARTTLS(self, server: _ScriptedSMTP, session: Session, envelope: Envelope) -> bool:
        server.log.tls = True  # aiosmtpd calls this hook synchronously, after the handshake
        return True


class _ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP with a scripted greeting and a log of every byte received."""

    def __init__(self, fake: FakeSMTP, log: ConnectionLog, **kwargs: Any) -> None:
        super().__init__(_Handler(fake), hostname=fake.hostname, **kwargs)
        self.fake = fake
        self.log = log
        self.transaction_rcpts: list[str] = []
        self._greeted = False

    def data_received(self, data: bytes) -> None:
        self.log.record(data, greeted=self._greeted)
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fake.open_now -= 1
        super().connection_lost(exc)

    async def push(self, status: Any) -> None:
        if self._greeted:
            await super().push(status)
            return
        fake = self.fake
        if fake.banner_delay_s > 0:
            await asyncio.sleep(fake.banner_delay_s)
        self._greeted = True
        await super().push(fake.banner)
        if fake.banner.startswith("421") and self.transport is not None:
            self.transport.close()  # RFC 5321 §3.1: 421 and hang up

    async def smtp_MAIL(self, arg: str | None) -> None:
        self.transaction_rcpts.clear()
        await super().smtp_MAIL(arg)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.fake.starttls_reply is not None:
            await super().push(self.fake.starttls_reply)
            return
        await super().smtp_STARTTLS(arg)


class FakeSMTP:
    """A scriptable mail server on loopback (127.0.0.1 unless `host`), port chosen by the system.

    `async with FakeSMTP(...) as s: s.port`
    """

    def __init__(
        self,
        *,
        banner: str = DEFAULT_BANNER,  # any code; lines joined with "\r\n"; a 421 hangs up after it
        banner_delay_s: float = 0.0,  # postscreen-style greeting delay
        quit_delay_s: float = 0.0,  # wait this long before the 221 to QUIT
        hostname: str = "mx.test",
        ehlo_reply: str | None = None,  # refuse EHLO with this reply (HELO then works)
        helo_reply: str | None = None,
        pipelining: bool = False,
        smtputf8: bool = False,
        advertise: Sequence[str] = (),  # more EHLO keywords
        hide: Sequence[str] = (),  # EHLO keywords to leave out ("SIZE", "8BITMIME")
        tls_context: ssl.SSLContext | None = None,  # offer STARTTLS with this server context
        starttls_reply: str | None = None,  # answer STARTTLS with this instead of 220
        vrfy: str | Mapping[str, str] | None = None,
        vrfy_default: str = DEFAULT_VRFY,
        mail: str | None = None,  # answer MAIL with this instead of 250
        rcpt: Mapping[str, str] | None = None,
        rcpt_default: str = DEFAULT_RCPT,
        rcpt_policy: RcptPolicy | None = None,  # checked first; None from it means "use the script"
        host: str = "127.0.0.1",  # a loopback address to listen on: 127.x.y.z or ::1
        port: int = 0,  # 0: chosen by the system
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"FakeSMTP listens on loopback only, not {host}")
        self.host = host
        self.banner, self.banner_delay_s, self.hostname = banner, banner_delay_s, hostname
        self.quit_delay_s = quit_delay_s
        self.ehlo_reply, self.helo_reply = ehlo_reply, helo_reply
        self.pipelining, self.smtputf8 = pipelining, smtputf8
        self.advertise, self.hide = tuple(advertise), tuple(hide)
        self.tls_context, self.starttls_reply = tls_context, starttls_reply
        self.vrfy, self.vrfy_default, self.mail = vrfy, vrfy_default, mail
        self.rcpt, self.rcpt_default, self.rcpt_policy = dict(rcpt or {}), rcpt_default, rcpt_policy
        self.connections: list[ConnectionLog] = []
        self.open_now = 0  # client connections open at this moment
        self.most_open = 0  # ... and the most ever open at once (a politeness limit holds if it stays low)
        self.port = port
        self._server: asyncio.Server | None = None
        self._protocols: list[_ScriptedSMTP] = []

    @property
    def commands(self) -> list[str]:
        """Every line every client wrote, in order, across connections."""
        return [c for log in self.connections for c in log.commands]

    def _make_protocol(self) -> _ScriptedSMTP:
        log = ConnectionLog(len(self.connections))
        self.connections.append(log)
        protocol = _ScriptedSMTP(self, log, loop=asyncio.get_running_loop(), tls_context=self.tls_context,
                                 enable_SMTPUTF8=self.smtputf8)
        self._protocols.append(protocol)
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        return protocol

    async def start(self) -> FakeSMTP:
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # aborted handshakes log tracebacks
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._make_protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for protocol in self._protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        tasks = [p._handler_coroutine for p in self._protocols if p._handler_coroutine is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> FakeSMTP:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """A plain asyncio server on 127.0.0.1 running a scripted handler per connection."""

    port: int
    connections: int = 0


@contextlib.asynccontextmanager
async def start_raw_server(handler: RawHandler) -> AsyncIterator[RawServer]:
    """Serve `handler(reader, writer)` on 127.0.0.1:<free port>; connection errors in it are ignored."""
    tasks: set[asyncio.Task[Any]] = set()
    info = RawServer(port=0)

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        info.connections += 1
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                tasks.discard(task)

    server = await asyncio.start_server(run, "127.0.0.1", 0)
    info.port = server.sockets[0].getsockname()[1]
    try:
        yield info
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


MAX_CHUNKS = 10_000  # per direction and connection: a bound on the relay loop


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float,
                 arrived: Callable[[], None]) -> None:
    """Copy one direction, each chunk delivered `delay_s` after it arrived (order kept); `arrived()` per chunk."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        for _ in range(MAX_CHUNKS):
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(deliver())
    try:
        for _ in range(MAX_CHUNKS):
            data = await reader.read(65536)
            if data:
                arrived()
            queue.put_nowait((loop.time() + delay_s, data))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        pass
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


class DelayProxy:
    """A TCP proxy on 127.0.0.1 to 127.0.0.1:target_port that adds `delay_s` each way.

    It counts round trips as events, not from the clock: `client_flights` is how many times the client
    spoke again after the server had spoken (each is one wait for the server); a session that starts with
    the server's greeting costs `client_flights + 0.5` round trips. Exact when the server only ever answers
    (e.g. no TLS 1.3 session tickets pushed after the handshake: server context num_tickets = 0).
    """

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.target_port, self.delay_s = target_port, delay_s
        self.port = 0
        self.client_flights = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        server_spoke = True  # the greeting (or the connection itself) comes before the client's first flight

        def client_chunk() -> None:
            nonlocal server_spoke
            if server_spoke:
                self.client_flights += 1
            server_spoke = False

        def server_chunk() -> None:
            nonlocal server_spoke
            server_spoke = True

        try:
            await asyncio.gather(_relay(client_reader, up_writer, self.delay_s, client_chunk),
                                 _relay(up_reader, client_writer, self.delay_s, server_chunk),
                                 return_exceptions=True)
        except asyncio.CancelledError:
            pass  # stop() ends connections still open
        finally:
            client_writer.close()
            up_writer.close()

    async def start(self) -> DelayProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
