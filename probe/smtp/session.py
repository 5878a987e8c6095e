"""I/O: the SMTP dialogue with ONE address of ONE host, returned as raw exchanges. It must not classify replies.

connect → banner (never talk first) → EHLO (HELO when EHLO is refused) → STARTTLS
(one handshake without verification, the server's chain judged afterwards; where
Python cannot read the chain, verifying first and, untrusted, reconnecting without
verification to collect the certificate; failed → reconnect in plain text when
allowed) → EHLO → VRFY each →
MAIL, RCPT each, the catch-all RCPT last, RSET → QUIT. Never DATA. With no recipient
(a domain-only probe), MAIL, RCPT TO:<postmaster@DOMAIN>, RSET.

With PIPELINING advertised (and allowed) the MAIL/RCPT/RSET transaction goes out in
one write (RFC 2920). VRFY may only end a group (§3.1), so each VRFY is its own
round trip. EHLO, STARTTLS and QUIT always end a group.

Every failure becomes an Exchange with an `event` id and the session's `outcome`;
only misuse (a command that would carry CR/LF or other control characters) raises,
as probe.errors.InputError, before anything is sent.
"""

from __future__ import annotations

import asyncio
import math
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from probe.model import Context, ProbeOptions
from probe.smtp.exchanges import EVENTS, Exchange, SessionRecord
from probe.smtp.facts import (
    NONMAIL_LIMIT,
    NonMailBudget,
    check_inputs,
    is_too_many_recipients,
    parse_extensions,
    random_local_part,
)
from probe.smtp.proxy import ProxyFailed, ProxyUrl, open_via_proxy, parse_proxy_url
from probe.smtp.starttls import default_tls_context, secure
from probe.smtp.wire import (
    ConnectRefused,
    ConnectTimeout,
    Wire,
    WireClosed,
    WireError,
    WireProtocolError,
    WireTimeout,
    WireUnsolicited,
)

_TOO_LONG_KINDS = frozenset({"line-too-long", "reply-too-large"})
_HELO_FALLBACK_CODES = frozenset({500, 502, 504, 550})
_VRFY_UNSUPPORTED_CODES = frozenset({500, 502})
_DETAIL_BYTES = 300  # how much of a broken reply an event's detail quotes (the transcript keeps it all)

TlsContextFactory = Callable[[bool], ssl.SSLContext]

__all__ = [  # the record types live in probe.smtp.exchanges and are re-exported here
    "EVENTS", "Dialogue", "Exchange", "SessionRecord", "TlsContextFactory", "run_session",
]


@dataclass(frozen=True, slots=True)
class _Rcpt:
    key: str  # the address as given (the rcpt map key)
    catch_all: bool = False
    postmaster: bool = False  # a domain-only probe's RCPT TO:<postmaster@DOMAIN> (RFC 5321 §4.5.1)

    @property
    def needs_smtputf8(self) -> bool:
        return not self.key.isascii()


class _Stop(Exception):
    """Internal: the dialogue ends here with this outcome (the exchange explaining it is recorded)."""

    def __init__(self, outcome: str, exchange: Exchange | None) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.exchange = exchange


class Dialogue:
    """The state of one session; every step records its exchange before it can stop the dialogue."""

    def __init__(self, record: SessionRecord, recipients: Sequence[str], options: ProbeOptions,
                 factory: TlsContextFactory, deadline: float | None, sock: socket.socket | None,
                 local_host: str | None = None, catch_all_address: str | None = None,
                 postmaster: str | None = None) -> None:
        self.record, self.options, self.factory = record, options, factory
        self.local_host = local_host or options.source_ip
        self.catch_all_address = catch_all_address
        self.postmaster = postmaster
        self.proxy: ProxyUrl | None = parse_proxy_url(options.proxy) if options.proxy and sock is None else None
        self.recipients = list(dict.fromkeys(recipients))
        self.loop = asyncio.get_running_loop()
        self.deadline = math.inf if deadline is None else deadline
        self.sock = sock
        self.used_sock = sock is not None
        self.wire: Wire | None = None
        self.pipelining = False
        self.verify_error: str | None = None
        self.unanswered: list[str] = []  # later commands of the pipelined group being read
        self.vrfy_queue: list[str] = []  # recipients still to VRFY
        self.nonmail = NonMailBudget()  # of the current connection
        self.transacted = False  # the MAIL/RCPT transactions are done (no RSET still to come)

    # ---- bookkeeping -------------------------------------------------------------------------

    def _now_ms(self, since: float) -> float:
        return round((self.loop.time() - since) * 1000.0, 1)

    def _add(self, exchange: Exchange) -> Exchange:
        self.record.exchanges.append(exchange)
        return exchange

    def _stop(self, outcome: str, exchange: Exchange | None) -> NoReturn:
        raise _Stop(outcome, exchange)

    def _event(self, event: str, context: Context, detail: str, since: float, *,
               command: str | None = None, address: str | None = None) -> Exchange:
        return self._add(Exchange(command, context, None, event, detail, self._now_ms(since), address=address))

    def _budget(self, context: Context, command: str | None) -> float:
        """The time the next step may take: the step timeout, cut short by the deadline."""
        remaining = self.deadline - self.loop.time()
        if remaining <= 0:
            where = f"before {command}" if command else f"at the {context} step"
            ex = self._event("deadline-exceeded", context, f"the session's deadline passed {where}",
                             self.loop.time(), command=command)
            self._stop("timeout", ex)
        return min(self.options.timeout_s, remaining)

    def _fail(self, exc: WireError, context: Context, command: str | None, since: float,
              address: str | None = None) -> NoReturn:
        """Record what a WireError means and end the dialogue."""
        waiting = f"while waiting for the reply to {command}" if command else f"while waiting for the {context}"
        if isinstance(exc, WireUnsolicited):
            ex = self._add(Exchange(None, context, exc.reply, None, f"sent unasked, before {command}",
                                    self._now_ms(since), unsolicited=True))
            self._stop("deferred", ex)
        if isinstance(exc, WireTimeout):
            late = self.loop.time() >= self.deadline
            event = "deadline-exceeded" if late else "reply-timeout"
            outcome = "timeout"
        elif isinstance(exc, WireClosed):
            event, outcome = ("connection-reset" if exc.reset else "connection-closed"), "reset"
        elif isinstance(exc, WireProtocolError):
            event = "reply-too-long" if exc.kind in _TOO_LONG_KINDS else "protocol-error"
            outcome = "protocol_error"
        else:
            event, outcome = "protocol-error", "protocol_error"
        detail = waiting if not isinstance(exc, WireProtocolError) else str(exc)
        if isinstance(exc, WireClosed) and exc.broken_tls:  # e.g. Exim 4.96's 554 to the 11th non-mail command
            detail += (f"; the server's last bytes were not TLS ({exc.broken_tls}): a reply written in plain "
                       "text inside the TLS session, which no TLS client can read")
        if exc.partial:
            detail += f"; received {exc.partial[:_DETAIL_BYTES].decode('utf-8', 'replace')!r}"
            if len(exc.partial) > _DETAIL_BYTES:
                detail += f" (and {len(exc.partial) - _DETAIL_BYTES} more bytes)"
        if self.unanswered:
            detail += "; also sent in the same group, unanswered: " + ", ".join(self.unanswered)
        ex = self._event(event, context, detail, since, command=command, address=address)
        self._stop(outcome, ex)

    # ---- wire steps --------------------------------------------------------------------------

    async def _ask(self, command: str, context: Context, address: str | None = None) -> Exchange:
        await self._send([(command, context, address)])
        return await self._receive(command, context, address, self.loop.time())

    async def _send(self, group: Sequence[tuple[str, Context, str | None]]) -> float:
        assert self.wire is not None
        command, context, address = group[0]
        self._budget(context, command)
        since = self.loop.time()
        try:
            await self.wire.send(*(cmd for cmd, _, _ in group))
        except WireError as exc:
            self._fail(exc, context, command, since, address)
        self.nonmail.spend([cmd for cmd, _, _ in group])
        return since

    async def _receive(self, command: str | None, context: Context, address: str | None,
                       since: float) -> Exchange:
        assert self.wire is not None
        budget = self._budget(context, command)
        step = f"waiting for the reply to {command}" if command else f"waiting for the {context}"
        try:
            reply = await self.wire.read_reply(budget, step=step)
        except WireError as exc:
            self._fail(exc, context, command, since, address)
        ex = self._add(Exchange(command, context, reply, None, "", self._now_ms(since), address=address))
        if reply.code == 421 and context is not Context.BANNER:  # RFC 5321 §3.8: the server is closing
            self._stop("deferred", ex)
        return ex

    async def _open(self) -> None:
        """Connect, read the banner, greet. Stops on anything but a 2xx banner and greeting."""
        since = self.loop.time()
        budget = self._budget(Context.CONNECT, None)
        sock, self.sock = self.sock, None  # a pre-connected socket serves one connection only
        self.nonmail = NonMailBudget()
        try:
            if self.proxy is not None:
                sock = await open_via_proxy(self.proxy, self.record.address, self.record.port, timeout_s=budget)
            self.wire = await Wire.connect(self.record.address, self.record.port, timeout_s=budget, sock=sock,
                                           local_host=self.local_host)
        except ProxyFailed as exc:
            outcome = ("refused" if exc.kind == "mx-refused"
                       else "timeout" if exc.kind == "proxy-timeout" else "unreachable")
            ex = self._event("proxy-failed", Context.CONNECT, f"{exc} [{exc.kind}]", since)
            self._stop(outcome, ex)
        except WireError as exc:
            kind = ("refused" if isinstance(exc, ConnectRefused) else
                    "timeout" if isinstance(exc, ConnectTimeout) else "unreachable")
            ex = self._event(f"connect-{kind}", Context.CONNECT, str(exc), since)
            self._stop(kind, ex)
        self.record.local_address = self.wire.local_address if self.wire else None
        banner = await self._receive(None, Context.BANNER, None, self.loop.time())
        assert banner.reply is not None
        if banner.reply.code >= 500:
            self._stop("rejected", banner)
        if banner.reply.code >= 300:
            self._stop("deferred", banner)
        await self._greet()

    async def _greet(self) -> None:
        helo = self.options.helo
        ex = await self._ask(f"EHLO {helo}", Context.EHLO)
        reply = ex.reply
        assert reply is not None
        if reply.code in _HELO_FALLBACK_CODES:
            ehlo = ex
            try:
                ex = await self._ask(f"HELO {helo}", Context.HELO)
            except _Stop as stop:
                # A 550 to EHLO is a refusal (500/502/504 say EHLO is unknown): a server that closed the
                # connection after it refused the name, not just the command (qpsmtpd's helo plugin,
                # reject_type disconnect by default: "550 HELO hostname does not exist", then it hangs up).
                # Its 550 decides the session (walk.last_exchange: a rejected session's last reply); the
                # HELO's lost connection stays in the record after it.
                if stop.outcome == "reset" and reply.code == 550:
                    self._stop("rejected", ehlo)
                raise
            reply = ex.reply
            assert reply is not None
            self.record.extensions = {}
        elif 200 <= reply.code < 300:
            self.record.extensions = parse_extensions(reply)
        if not 200 <= reply.code < 300:
            self._stop("rejected" if reply.code >= 500 else "deferred", ex)
        self.pipelining = self.options.pipelining and "PIPELINING" in self.record.extensions

    async def _reopen(self, why: str) -> None:
        """A new connection after a failed TLS attempt (none possible over a one-shot socket)."""
        await self._hangup(quit=False)
        if self.used_sock:
            ex = self._event("tls-handshake-failed", Context.TLS,
                             f"{why}; cannot reconnect through a pre-connected socket", self.loop.time())
            self._stop("tls_failed", ex)
        await self._open()

    async def _hangup(self, *, quit: bool) -> None:
        wire, self.wire = self.wire, None
        if wire is None:
            return
        # Say QUIT to a peer that has spoken SMTP and still listens, even after a protocol error (the
        # dialogue is desynchronised, the socket is not). See Wire.hang_up for what it waits for.
        polite = quit and self.loop.time() < self.deadline
        since = self.loop.time()
        said, reply = await wire.hang_up(quit=polite, timeout_s=max(0.0, min(self.options.timeout_s,
                                                                            self.deadline - self.loop.time())))
        if said:  # shown in the report like any step; nothing is concluded from it
            self._add(Exchange("QUIT", Context.QUIT, reply, None if reply else "quit-sent",
                               "" if reply else "no 221 came within the wait", self._now_ms(since)))
        self.record.transcript.extend(wire.transcript)

    # ---- the dialogue ------------------------------------------------------------------------

    async def converse(self) -> None:
        await self._open()
        mode = self.options.starttls
        if mode != "never" and "STARTTLS" in self.record.extensions:
            await secure(self, verify=True)
        elif mode == "require":
            ex = self._event("starttls-not-offered", Context.STARTTLS,
                             "--starttls require is set, so the probe stopped",
                             self.loop.time())
            self._stop("tls_failed", ex)
        await self._verify_recipients()
        await self._transactions()
        await self._verify_rest()

    async def _verify_recipients(self) -> None:
        """VRFY each recipient. With PIPELINING the first VRFY ends the MAIL/RCPT/RSET group instead
        (RFC 2920 §3.1: VRFY may end a group) and the others follow it (`_verify_rest`)."""
        if not self.options.vrfy:
            return
        smtputf8 = "SMTPUTF8" in self.record.extensions
        # a non-ASCII address without SMTPUTF8 is not asked: the RCPT step records smtputf8-required
        self.vrfy_queue = [k for k in self.recipients if smtputf8 or not _Rcpt(k).needs_smtputf8]
        if not self.pipelining:
            await self._verify_rest()

    def _vrfy_command(self, key: str) -> str:
        return f"VRFY {key}" + (" SMTPUTF8" if _Rcpt(key).needs_smtputf8 else "")

    def _vrfy_seen(self, key: str, ex: Exchange) -> None:
        self.record.vrfy[key] = ex
        if ex.reply is not None and ex.reply.code in _VRFY_UNSUPPORTED_CODES:
            self.vrfy_queue.clear()  # VRFY is off on this server; asking again only costs round trips

    def _vrfy_fits(self, before: Sequence[str] = ()) -> bool:
        """One more VRFY (after `before`) stays within the non-mail commands servers allow a session;
        before the transactions one is kept back for a second RSET (a "too many recipients" split)."""
        reserve = 0 if self.transacted else 1
        return self.nonmail.cost([*before, "VRFY"]) <= self.nonmail.left - reserve

    def _vrfy_not_asked(self) -> None:
        """The VRFYs that do not fit: recorded as not asked (RCPT answers for these addresses)."""
        for key in self.vrfy_queue:  # not a step of the dialogue: kept beside it, in the VRFY results
            self.record.vrfy[key] = Exchange(
                None, Context.VRFY, None, "not-asked",
                f"not sent: this session already used the {NONMAIL_LIMIT} non-mail commands "
                "servers commonly allow (Exim closes the connection at the next one)", 0.0, address=key)
        self.vrfy_queue.clear()

    async def _verify_rest(self) -> None:
        while self.vrfy_queue:
            if not self._vrfy_fits():
                self._vrfy_not_asked()
                return
            key = self.vrfy_queue.pop(0)
            self._vrfy_seen(key, await self._ask(self._vrfy_command(key), Context.VRFY, key))

    async def _transactions(self) -> None:
        smtputf8 = "SMTPUTF8" in self.record.extensions
        batch: list[_Rcpt] = []
        for key in self.recipients:
            rcpt = _Rcpt(key)
            if rcpt.needs_smtputf8 and not smtputf8:
                self.record.rcpt[key] = self._event(
                    "smtputf8-required", Context.RCPT,
                    f"{key} needs SMTPUTF8 (non-ASCII local part) and the server does not offer it; not sent",
                    self.loop.time(), address=key)
            else:
                batch.append(rcpt)
        # a random address after the real ones; for the domain alone only when asked from the server's own address:
        # a server relays any address for its own host (Postfix's mynetworks), so postmaster@'s 250 would prove
        # nothing, and a random address of the domain refused shows the server serves the domain
        # (probe.judge.conclude, probe-on-server-host)
        ask_random = self.recipients[0] if self.recipients else (
            self.postmaster if self.postmaster and self.record.from_own_address() else None)
        if self.options.catch_all and ask_random:
            domain = ask_random.rpartition("@")[2]
            self.record.catch_all_address = self.catch_all_address or f"{random_local_part()}@{domain}"
            batch.append(_Rcpt(self.record.catch_all_address, catch_all=True))
        if self.postmaster and (smtputf8 or self.postmaster.isascii()):
            # a domain-only probe asks whether mail to the domain is taken at all, with the one address every
            # server that delivers for it must accept (RFC 5321 §4.5.1), in the same group as MAIL (the caller
            # asks it beside recipients only for a batch unit that also holds the domain alone)
            self.record.postmaster_address = self.postmaster
            batch.append(_Rcpt(self.postmaster, postmaster=True))
        sender_utf8 = not self.options.mail_from.isascii()
        if sender_utf8 and not smtputf8:
            ev = self._event("smtputf8-required", Context.MAIL,
                             "the sender address needs SMTPUTF8 and the server does not offer it",
                             self.loop.time())
            await self._verify_rest()
            self._stop("completed", ev)
        utf8 = smtputf8 and (sender_utf8 or any(r.needs_smtputf8 for r in batch))
        mail = f"MAIL FROM:<{self.options.mail_from}>" + (" SMTPUTF8" if utf8 else "")
        while True:
            batch = await self._transaction(mail, batch)
            if not batch:
                break
        await self._recheck(mail)
        self.transacted = True

    async def _recheck(self, mail: str) -> None:
        """The random address was accepted after real recipients the same transaction accepted: ask it again
        in a transaction of its own, and, if it is refused there, each of those recipients alone too. A server
        may stop checking a transaction's later recipients once one of them matched: Postfix's access(5)
        DISCARD "currently affects all recipients of the message" (smtpd_check.c generic_checks: `if
        (state->discard != 0) break`), so every RCPT after it gets 250, the random one included, and the
        domain looked catch-all and unknown addresses deliverable. Asked alone, each gets the server's own
        answer; the random address still comes after the real ones, in the same session."""
        first = self.record.catch_all
        if first is None or first.reply is None or not 200 <= first.reply.code < 300:
            return
        accepted = [key for key in self.recipients
                    if (ex := self.record.rcpt.get(key)) is not None and ex.reply is not None
                    and ex.context is Context.RCPT and 200 <= ex.reply.code < 300]
        address = self.record.catch_all_address
        if not accepted or address is None:
            return
        answers = await self._alone(mail, address, reserve=1)  # keep one non-mail command for a VRFY
        if answers is None or answers.reply is None:
            return  # the server said no more, or no budget was left
        self.record.rechecked[address] = first
        self.record.catch_all = answers
        if 200 <= answers.reply.code < 300:
            return  # accepted alone too: a catch-all, or a server that checks no recipient of this client's
        for key in accepted:
            answer = await self._alone(mail, key)
            if answer is not None:
                self.record.rechecked[key] = self.record.rcpt[key]
                self.record.rcpt[key] = answer

    async def _alone(self, mail: str, key: str, *, reserve: int = 0) -> Exchange | None:
        """MAIL, RCPT for `key` alone, RSET (one group with PIPELINING): the RCPT's exchange; None when MAIL was
        refused, or when the group would leave fewer than `reserve` of the non-mail commands allowed."""
        group: list[tuple[str, Context, str | None]] = [
            (mail, Context.MAIL, None), (f"RCPT TO:<{key}>", Context.RCPT, key), ("RSET", Context.RSET, None)]
        if self.nonmail.cost([cmd for cmd, _, _ in group]) > self.nonmail.left - reserve:
            return None
        answer: Exchange | None = None
        mail_ok = True
        async for context, _, ex in self._exchanges(group):
            assert ex.reply is not None
            if context is Context.MAIL:
                mail_ok = 200 <= ex.reply.code < 300
            elif context is Context.RCPT:
                answer = ex
        return answer if mail_ok else None

    async def _exchanges(self, group: list[tuple[str, Context, str | None]]
                         ) -> AsyncIterator[tuple[Context, str | None, Exchange]]:
        """Each command of `group` with its answer, in order: the group in one write with PIPELINING, else command
        by command, with no RCPT after a refused MAIL."""
        since = await self._send(group) if self.pipelining else 0.0
        mail_ok = True
        for index, (command, context, key) in enumerate(group):
            if not self.pipelining:
                if context is Context.RCPT and not mail_ok:
                    continue  # no RCPT after a refused MAIL
                since = await self._send([(command, context, key)])
            else:
                self.unanswered = [cmd for cmd, _, _ in group[index + 1:]]
            ex = await self._receive(command, context, key, since)
            self.unanswered = []
            assert ex.reply is not None
            if context is Context.MAIL:
                mail_ok = 200 <= ex.reply.code < 300
            yield context, key, ex

    async def _transaction(self, mail: str, batch: list[_Rcpt]) -> list[_Rcpt]:
        """MAIL, the RCPTs, RSET. Returns the recipients to retry after a "too many recipients"."""
        group: list[tuple[str, Context, str | None]] = [(mail, Context.MAIL, None)]
        group += [(f"RCPT TO:<{r.key}>", Context.RCPT, r.key) for r in batch]
        group.append(("RSET", Context.RSET, None))
        if self.pipelining and self.vrfy_queue and self._vrfy_fits([cmd for cmd, _, _ in group]):
            # VRFY may end a group (RFC 2920 §3.1)
            vrfy_key = self.vrfy_queue.pop(0)
            group.append((self._vrfy_command(vrfy_key), Context.VRFY, vrfy_key))
        by_key = {r.key: r for r in batch}
        mail_ok, rcpts_seen, retry = True, 0, []
        async for context, key, ex in self._exchanges(group):
            assert ex.reply is not None
            if context is Context.VRFY and key is not None:
                self._vrfy_seen(key, ex)
            elif context is Context.MAIL:
                mail_ok = 200 <= ex.reply.code < 300
                if not mail_ok:
                    for rcpt in batch:
                        self._decide(rcpt, ex)
            elif context is Context.RCPT and key is not None and mail_ok:
                rcpt = by_key[key]
                if is_too_many_recipients(ex.reply) and rcpts_seen > 0:
                    retry.append(rcpt)
                else:
                    self._decide(rcpt, ex)
                rcpts_seen += 1
        return retry

    def _decide(self, rcpt: _Rcpt, exchange: Exchange) -> None:
        if rcpt.catch_all:
            self.record.catch_all = exchange
        elif rcpt.postmaster:
            self.record.postmaster = exchange
        else:
            self.record.rcpt[rcpt.key] = exchange

    def stopped(self, stop: _Stop) -> None:
        """Every recipient not yet decided is decided by what stopped the session, and listed as unasked."""
        self.record.outcome = stop.outcome
        self.record.unasked = [key for key in self.recipients if key not in self.record.rcpt]
        if stop.exchange is None:
            return
        for key in self.recipients:
            self.record.rcpt.setdefault(key, stop.exchange)


async def run_session(host: str, address: str, port: int, recipients: Sequence[str], options: ProbeOptions, *,
                      tls_context_factory: TlsContextFactory | None = None,
                      deadline: float | None = None,
                      sock: socket.socket | None = None,
                      local_host: str | None = None,
                      catch_all_address: str | None = None,
                      postmaster: str | None = None) -> SessionRecord:
    """Talk to `address`:`port` (the MX `host`) and return what happened. Never sends DATA.

    Raises InputError (before connecting) only for recipients, sender or EHLO name that
    hold control characters; everything a server or the network does is in the record.
    `deadline` is a loop.time() by which the session is over; `sock` a connected socket
    (e.g. through a SOCKS proxy) used instead of connecting; without one, `options.proxy`
    (socks5://) carries every connection. `local_host` binds the source address (a
    greylisting retry must come from the same one; else `options.source_ip`); `catch_all_address` reuses the
    random address of an earlier session (so its greylisting triplet passes too). `postmaster`
    (postmaster@DOMAIN) is asked by RCPT when there are no recipients: a domain-only probe's test of whether
    the host takes mail for the domain from this client (RFC 5321 §4.5.1); its answer is `record.postmaster`.
    """
    check_inputs(recipients, options)
    loop = asyncio.get_running_loop()
    started = loop.time()
    record = SessionRecord(host, address, port)
    dialogue = Dialogue(record, recipients, options, tls_context_factory or default_tls_context, deadline, sock,
                         local_host, catch_all_address, postmaster)
    if deadline is not None and started >= deadline:
        record.outcome = "skipped"
        dialogue.stopped(_Stop("skipped", dialogue._event(
            "deadline-exceeded", Context.CONNECT, "the deadline passed before this host was tried", started)))
        return record
    try:
        await dialogue.converse()
    except _Stop as stop:
        dialogue.stopped(stop)
    finally:
        await dialogue._hangup(quit=True)
        record.elapsed_ms = round((loop.time() - started) * 1000.0, 1)
    return record
