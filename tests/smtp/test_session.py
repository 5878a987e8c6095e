"""probe.smtp.session against loopback fakes: every path of the dialogue, the exchanges it records, and never DATA."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from probe.errors import InputError
from probe.model import Context, ProbeOptions, Reply
from probe.smtp.facts import is_too_many_recipients
from probe.smtp.session import SessionRecord, run_session
from probe.testing.fakesmtp import FakeSMTP, RcptRequest, start_raw_server

if TYPE_CHECKING:
    from conftest import ServerCert  # tests/smtp/conftest.py (a fixture type only)

Factory = Callable[..., Any]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[Factory]:
    """Factory for started FakeSMTP servers; at teardown, asserts that no client ever sent DATA."""
    servers: list[FakeSMTP] = []

    async def make(**script: Any) -> FakeSMTP:
        server = await FakeSMTP(**script).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()
    for server in servers:
        assert not any(c.upper().startswith("DATA") for c in server.commands), server.commands


def opts(**changes: Any) -> ProbeOptions:
    base: dict[str, Any] = {"helo": "probe.test", "timeout_s": 2.0, "catch_all": False}
    return ProbeOptions(**{**base, **changes})


async def probe(server: FakeSMTP | int, recipients: list[str], options: ProbeOptions, **kw: Any) -> SessionRecord:
    port = server if isinstance(server, int) else server.port
    return await run_session("mx.test", "127.0.0.1", port, recipients, options, **kw)


def sent(record: SessionRecord) -> list[str | None]:
    return [e.command for e in record.exchanges]


def verbs(server: FakeSMTP) -> list[str]:
    return [c.split(" ")[0].split(":")[0].upper() for c in server.commands]


async def test_a_plain_dialogue_in_order_ends_with_rset_and_quit(fake: Factory) -> None:
    server = await fake(rcpt={"gone@x.test": "550-5.1.1 The email account that you tried to reach does not"
                                              " exist.\r\n550 5.1.1 https://support.example/?p=NoSuchUser"})
    record = await probe(server, ["a@x.test", "gone@x.test"], opts(catch_all=True))
    catch_all = record.catch_all_address
    assert catch_all is not None and catch_all.endswith("@x.test")
    # the random address, accepted after a@ was, is asked again alone (Dialogue._recheck): accepted there too
    assert sent(record) == [None, "EHLO probe.test", "VRFY a@x.test", "VRFY gone@x.test", "MAIL FROM:<>",
                            "RCPT TO:<a@x.test>", "RCPT TO:<gone@x.test>", f"RCPT TO:<{catch_all}>", "RSET",
                            "MAIL FROM:<>", f"RCPT TO:<{catch_all}>", "RSET", "QUIT"]
    assert server.commands[-1] == "QUIT"
    # its 221 is awaited (RFC 5321 §4.1.1.10): the server has ended the session when the host's slot is freed
    assert record.exchanges[-1].reply is not None and record.exchanges[-1].reply.code == 221
    assert record.outcome == "completed"
    assert record.rcpt["a@x.test"].reply == Reply(250, ("2.1.5 OK",))
    assert record.rcpt["gone@x.test"].reply == Reply(550, (
        "5.1.1 The email account that you tried to reach does not exist.",
        "5.1.1 https://support.example/?p=NoSuchUser"))
    # the answer alone decides; the first transaction's is kept in `rechecked` (the judge tells the two apart)
    assert record.catch_all is record.exchanges[10] and record.catch_all.address == catch_all
    assert record.rechecked == {catch_all: record.exchanges[7]}
    assert record.vrfy["a@x.test"].reply is not None and record.vrfy["a@x.test"].reply.code == 252
    assert "SIZE" in record.extensions and record.tls is None
    assert [t.direction for t in record.transcript][:2] == ["S", "C"]
    assert all(e.elapsed_ms >= 0 for e in record.exchanges)


@pytest.mark.parametrize("banner", ["521 5.3.2 mx.test does not accept mail",
                                    "554-mx.test no SMTP service here\r\n554 5.7.1 go away"])
async def test_5xx_banner_is_rejected_and_quit_politely(fake: Factory, banner: str) -> None:
    server = await fake(banner=banner)
    record = await probe(server, ["a@x.test"], opts())
    assert record.outcome == "rejected"
    assert record.exchanges[0].reply is not None and record.exchanges[0].reply.text == banner.replace("\r\n", "\n")
    assert record.rcpt["a@x.test"] is record.exchanges[0]
    assert server.commands == ["QUIT"]


async def test_421_banner_is_deferred(fake: Factory) -> None:
    server = await fake(banner="421 4.3.2 mx.test too busy, try later")
    record = await probe(server, ["a@x.test"], opts())
    assert record.outcome == "deferred"
    assert record.rcpt["a@x.test"].reply == Reply(421, ("4.3.2 mx.test too busy, try later",))
    assert "MAIL" not in verbs(server)


async def test_a_delayed_banner_is_awaited_and_nothing_is_said_before_it(fake: Factory) -> None:
    server = await fake(banner_delay_s=0.3)
    record = await probe(server, ["a@x.test"], opts(timeout_s=5))
    assert record.outcome == "completed"
    assert server.connections[0].before_banner == b""


async def test_refused_ehlo_falls_back_to_helo(fake: Factory) -> None:
    server = await fake(ehlo_reply="502 5.5.2 Error: command not recognized")
    record = await probe(server, ["a@x.test"], opts())
    assert sent(record)[1:3] == ["EHLO probe.test", "HELO probe.test"]
    assert record.outcome == "completed" and record.extensions == {}
    assert record.rcpt["a@x.test"].reply is not None and record.rcpt["a@x.test"].reply.code == 250


async def test_starttls_with_a_trusted_certificate(fake: Factory, server_cert: ServerCert) -> None:
    server = await fake(tls_context=server_cert.server_context())
    record = await probe(server, ["a@x.test"], opts(), tls_context_factory=server_cert.trusting_client_context)
    assert sent(record)[1:4] == ["EHLO probe.test", "STARTTLS", "EHLO probe.test"]
    assert record.tls is not None and record.tls["verified"] is True and record.tls["verify_error"] is None
    assert record.tls["der"] and record.tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert "STARTTLS" not in record.extensions  # the extensions are those of the EHLO after TLS
    assert len(server.connections) == 1 and server.connections[0].tls and record.outcome == "completed"


async def test_untrusted_certificate_is_recorded_in_the_one_handshake(fake: Factory, server_cert: ServerCert) -> None:
    server = await fake(tls_context=server_cert.server_context())
    record = await probe(server, ["a@x.test"], opts())  # default factory: the system trust store
    events = [e for e in record.exchanges if e.event]
    assert [e.event for e in events] == ["tls-untrusted"]
    assert events[0].detail.endswith("; certificate untrusted: self-signed certificate")
    assert len(server.connections) == 1 and server.connections[0].tls
    assert record.tls is not None and record.tls["verified"] is False
    assert record.tls["verify_error"] == "self-signed certificate" and record.tls["der"]
    assert record.outcome == "completed" and record.rcpt["a@x.test"].reply is not None


async def test_untrusted_certificate_with_require_stops_before_mail(fake: Factory, server_cert: ServerCert) -> None:
    server = await fake(tls_context=server_cert.server_context())
    record = await probe(server, ["a@x.test"], opts(starttls="require"))
    assert record.outcome == "tls_failed" and record.rcpt["a@x.test"].event == "tls-untrusted"
    detail = record.rcpt["a@x.test"].detail
    assert detail == "STARTTLS required: certificate untrusted (self-signed certificate)"
    assert record.tls is not None and record.tls["der"] and record.tls["verified"] is False
    assert record.tls["error"] == detail
    assert len(server.connections) == 1 and server.connections[0].tls
    assert "MAIL" not in verbs(server) and verbs(server)[-1] == "QUIT"


@pytest.mark.parametrize("mode", ["auto", "require"])
async def test_without_a_readable_chain_the_certificate_is_collected_on_a_new_connection(
        fake: Factory, server_cert: ServerCert, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """A Python that cannot give the chain: a verifying handshake, then an unverified reconnect."""
    monkeypatch.setattr("probe.smtp.starttls.chain_readable", lambda: False)
    server = await fake(tls_context=server_cert.server_context())
    record = await probe(server, ["a@x.test"], opts(starttls=mode))
    events = [e for e in record.exchanges if e.event and e.event != "quit-sent"]
    assert [e.event for e in events] == ["tls-untrusted"] and "self" in events[0].detail
    assert len(server.connections) == 2 and server.connections[1].tls
    assert record.tls is not None and record.tls["verified"] is False and record.tls["der"]
    if mode == "auto":
        assert record.tls["verify_error"] == events[0].detail and record.outcome == "completed"
    else:
        assert record.outcome == "tls_failed" and "MAIL" not in verbs(server)


async def test_a_chain_unreadable_after_all_falls_back_to_a_verifying_handshake(
        fake: Factory, server_cert: ServerCert, monkeypatch: pytest.MonkeyPatch) -> None:
    """Feature detection said yes but no chain came: verify during a handshake on a new connection."""
    from probe.smtp.wire import Wire

    real = Wire.tls_info
    monkeypatch.setattr(Wire, "tls_info", lambda self: {**(real(self) or {}), "chain": None})
    server = await fake(tls_context=server_cert.server_context())
    record = await probe(server, ["a@x.test"], opts(), tls_context_factory=server_cert.trusting_client_context)
    assert len(server.connections) == 2 and record.outcome == "completed"
    assert record.tls is not None and record.tls["verified"] is True


async def test_failed_handshake_goes_on_in_plain_text_with_auto(fake: Factory, server_cert: ServerCert) -> None:
    server_context = server_cert.server_context()
    server_context.minimum_version = ssl.TLSVersion.TLSv1_3

    def old_client(verify: bool) -> ssl.SSLContext:
        ctx = server_cert.trusting_client_context(verify)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    server = await fake(tls_context=server_context)
    record = await probe(server, ["a@x.test"], opts(), tls_context_factory=old_client)
    assert [e.event for e in record.exchanges if e.event] == ["tls-handshake-failed"]
    assert record.tls is None and len(server.connections) == 2
    assert server.connections[1].commands[:2] == ["EHLO probe.test", "VRFY a@x.test"]  # no second STARTTLS
    assert record.outcome == "completed"

    strict = await probe(server, ["a@x.test"], opts(starttls="require"), tls_context_factory=old_client)
    assert strict.outcome == "tls_failed" and strict.rcpt["a@x.test"].event == "tls-handshake-failed"


async def test_starttls_refused_by_the_server(fake: Factory, server_cert: ServerCert) -> None:
    server = await fake(tls_context=server_cert.server_context(), starttls_reply="454 4.7.0 TLS not available")
    record = await probe(server, ["a@x.test"], opts())
    assert record.outcome == "completed" and len(server.connections) == 1
    assert record.exchanges[2].reply == Reply(454, ("4.7.0 TLS not available",))
    strict = await probe(server, ["a@x.test"], opts(starttls="require"))
    assert strict.outcome == "tls_failed" and strict.rcpt["a@x.test"].command == "STARTTLS"


async def test_starttls_not_offered(fake: Factory) -> None:
    server = await fake()
    assert (await probe(server, ["a@x.test"], opts())).outcome == "completed"
    record = await probe(server, ["a@x.test"], opts(starttls="require"))
    assert record.outcome == "tls_failed" and record.rcpt["a@x.test"].event == "starttls-not-offered"
    assert verbs(server).count("MAIL") == 1


async def test_starttls_never_is_not_attempted(fake: Factory, server_cert: ServerCert) -> None:
    server = await fake(tls_context=server_cert.server_context())
    record = await probe(server, ["a@x.test"], opts(starttls="never"))
    assert "STARTTLS" not in verbs(server) and record.tls is None and record.outcome == "completed"


@pytest.mark.parametrize(("vrfy", "sent_vrfys"), [
    ("252 2.5.2 Cannot VRFY user", 2),
    ({"a@x.test": "250 2.1.5 Alice <a@x.test>", "b@x.test": "550 5.1.1 unknown"}, 2),
    ("502 5.5.1 VRFY command is disabled", 1),  # disabled: asking again only costs round trips
])
async def test_vrfy_replies_are_recorded_per_address(fake: Factory, vrfy: Any, sent_vrfys: int) -> None:
    server = await fake(vrfy=vrfy)
    record = await probe(server, ["a@x.test", "b@x.test"], opts())
    assert verbs(server).count("VRFY") == sent_vrfys == len(record.vrfy)
    first = record.vrfy["a@x.test"].reply
    expected = vrfy if isinstance(vrfy, str) else vrfy["a@x.test"]
    assert first is not None and first.text == expected
    assert (await probe(server, ["a@x.test"], opts(vrfy=False))).vrfy == {}


async def test_rcpt_replies_decide_each_address(fake: Factory) -> None:
    replies = {"ok@x.test": "250 2.1.5 OK", "gone@x.test": "550 5.1.1 <gone@x.test>: user unknown",
               "grey@x.test": "450 4.2.0 <grey@x.test>: Recipient address rejected: Greylisted, see "
                              "http://postgrey.schweikert.ch/help/x.test.html",
               "full@x.test": "452 4.2.2 The email account that you tried to reach is over quota."}
    server = await fake(rcpt=replies)
    record = await probe(server, list(replies), opts())
    assert {a: e.reply.text for a, e in record.rcpt.items() if e.reply} == replies
    assert verbs(server).count("MAIL") == 1  # 452 4.2.2 is about the mailbox: no new transaction


async def test_too_many_recipients_starts_a_new_transaction(fake: Factory) -> None:
    def one_per_transaction(request: RcptRequest) -> str | None:
        return "452 4.5.3 Too many recipients" if request.earlier else None

    server = await fake(rcpt_policy=one_per_transaction, pipelining=True)
    recipients = ["a@x.test", "b@x.test", "c@x.test"]
    record = await probe(server, recipients, opts(catch_all=True))
    assert all(record.rcpt[a].reply == Reply(250, ("2.1.5 OK",)) for a in recipients)
    assert record.catch_all is not None and record.catch_all.reply == Reply(250, ("2.1.5 OK",))
    # three transactions, then the random address alone (accepted after accepted recipients: Dialogue._recheck)
    assert verbs(server).count("MAIL") == 5 and record.outcome == "completed"


async def test_too_many_recipients_on_the_first_rcpt_is_the_answer(fake: Factory) -> None:
    server = await fake(rcpt_default="452 4.5.3 Too many recipients")
    record = await probe(server, ["a@x.test"], opts())
    assert record.rcpt["a@x.test"].reply == Reply(452, ("4.5.3 Too many recipients",))
    assert verbs(server).count("MAIL") == 1


def test_too_many_recipients_is_told_apart_from_a_full_mailbox() -> None:
    assert is_too_many_recipients(Reply(452, ("4.5.3 Too many recipients",)))
    assert is_too_many_recipients(Reply(452, ("Error: too many recipients",)))
    assert not is_too_many_recipients(Reply(452, ("4.2.2 Mailbox full",)))
    # RFC 5321 §4.5.3.1.10: RFC 821's 552 for the limit SHOULD be treated as temporary (Exim's recipients_max_reject)
    assert is_too_many_recipients(Reply(552, ("5.5.3 Too many recipients",)))
    assert is_too_many_recipients(Reply(552, ("too many recipients",)))
    assert not is_too_many_recipients(Reply(552, ("5.2.2 Mailbox full",)))
    assert not is_too_many_recipients(Reply(550, ("5.5.3 Too many recipients",)))


@pytest.mark.parametrize("pipelining", [False, True])
async def test_refused_mail_decides_every_recipient(fake: Factory, pipelining: bool) -> None:
    server = await fake(mail="553 5.7.1 <>: Sender address rejected", pipelining=pipelining)
    record = await probe(server, ["a@x.test", "b@x.test"], opts(catch_all=True))
    mail = next(e for e in record.exchanges if e.context is Context.MAIL)
    assert record.rcpt == {"a@x.test": mail, "b@x.test": mail} and record.catch_all is mail
    assert ("RCPT" in verbs(server)) is pipelining  # without pipelining no RCPT follows a refused MAIL
    # with PIPELINING the VRFYs end the MAIL/RCPT/RSET group and follow it (RFC 2920 §3.1)
    assert verbs(server)[-2:] == (["VRFY", "QUIT"] if pipelining else ["RSET", "QUIT"])


async def test_pipelining_only_when_advertised(fake: Factory) -> None:
    group = b"MAIL FROM:<>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRSET\r\nVRFY a@x.test\r\n"
    advertised = await fake(pipelining=True)
    record = await probe(advertised, ["a@x.test", "b@x.test"], opts())
    assert advertised.connections[0].segments[1:] == [group, b"VRFY b@x.test\r\n", b"QUIT\r\n"]
    assert set(record.vrfy) == {"a@x.test", "b@x.test"}
    silent = await fake()
    await probe(silent, ["a@x.test", "b@x.test"], opts())
    assert all(seg.count(b"\r\n") == 1 for seg in silent.connections[0].segments)
    await probe(advertised, ["a@x.test", "b@x.test"], opts(pipelining=False))
    assert all(seg.count(b"\r\n") == 1 for seg in advertised.connections[1].segments)


async def test_an_unsolicited_421_is_kept_and_stops_the_session() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.test ESMTP\r\n")
        await reader.readline()
        writer.write(b"250-mx.test\r\n250 PIPELINING\r\n421 4.4.2 mx.test Error: timeout exceeded\r\n")
        await writer.drain()
        await reader.read()

    async with start_raw_server(script) as server:
        record = await probe(server.port, ["a@x.test"], opts(vrfy=False))
    last = [e for e in record.exchanges if e.context is not Context.QUIT][-1]
    assert last.unsolicited and last.command is None
    assert last.reply == Reply(421, ("4.4.2 mx.test Error: timeout exceeded",))
    assert record.outcome == "deferred" and record.rcpt["a@x.test"] is last
    assert not any(t.data.startswith(b"MAIL") for t in record.transcript)


async def test_a_421_to_a_command_stops_the_session(fake: Factory) -> None:
    server = await fake(rcpt={"a@x.test": "421 4.7.0 Too many errors, closing connection"})
    record = await probe(server, ["a@x.test", "b@x.test"], opts())
    assert record.outcome == "deferred"
    assert record.rcpt["a@x.test"] is record.rcpt["b@x.test"] and record.rcpt["a@x.test"].reply is not None
    assert "RCPT TO:<b@x.test>" not in server.commands


@pytest.mark.parametrize("bad", ["a@x.test\r\nDATA", "a@x.test\nRSET", "a\x00@x.test", "a@x.test> NOTIFY=NEVER"])
async def test_injection_is_refused_before_connecting(bad: str) -> None:
    received: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(b"connected")

    async with start_raw_server(script) as server:
        with pytest.raises(InputError):
            await probe(server.port, [bad], opts())
        with pytest.raises(InputError):
            await probe(server.port, ["a@x.test"], opts(helo="probe.test\r\nDATA"))
    assert received == [] and server.connections == 0


async def test_smtputf8_recipient_needs_the_extension(fake: Factory) -> None:
    plain = await fake()
    record = await probe(plain, ["jösé@x.test", "a@x.test"], opts())
    assert record.rcpt["jösé@x.test"].event == "smtputf8-required"
    assert all("jösé" not in c for c in plain.commands) and record.rcpt["a@x.test"].reply is not None
    utf8 = await fake(smtputf8=True)
    record = await probe(utf8, ["jösé@x.test"], opts())
    assert "MAIL FROM:<> SMTPUTF8" in utf8.commands and "RCPT TO:<jösé@x.test>" in utf8.commands
    assert record.rcpt["jösé@x.test"].reply == Reply(250, ("2.1.5 OK",))


async def test_connect_refused_decides_every_recipient() -> None:
    async with start_raw_server(lambda r, w: asyncio.sleep(0)) as server:
        port = server.port
    record = await probe(port, ["a@x.test"], opts())
    assert record.outcome == "refused" and record.rcpt["a@x.test"].event == "connect-refused"
    assert record.exchanges[0].context is Context.CONNECT


async def test_a_silent_server_times_out_naming_the_command() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.test ESMTP\r\n")
        await reader.read()

    async with start_raw_server(script) as server:
        record = await probe(server.port, ["a@x.test"], opts(timeout_s=0.3))
    event = [e for e in record.exchanges if e.context is not Context.QUIT][-1]
    assert (event.event, event.command, record.outcome) == ("reply-timeout", "EHLO probe.test", "timeout")
    assert "EHLO" in event.detail


@pytest.mark.parametrize(("greeting", "event"), [
    (b"SSH-2.0-OpenSSH_9.6\r\n", "protocol-error"),
    (b"220-" + b"x" * 5000, "reply-too-long"),
    (b"220-mx.test\r\n" * 30_000, "reply-too-long"),  # ~390 KB: more than Limits.max_reply_bytes
])
async def test_a_peer_that_is_not_smtp_is_a_protocol_error(greeting: bytes, event: str) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        await reader.read()

    async with start_raw_server(script) as server:
        record = await probe(server.port, ["a@x.test"], opts())
    assert record.outcome == "protocol_error" and record.exchanges[0].event == event
    if event == "protocol-error":
        assert "SSH-2.0-OpenSSH_9.6" in record.exchanges[0].detail


async def test_a_server_hanging_up_midway_is_recorded() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.test ESMTP\r\n")
        await reader.readline()
        writer.write(b"250 mx.test\r\n")
        await reader.readline()

    async with start_raw_server(script) as server:
        record = await probe(server.port, ["a@x.test"], opts(vrfy=False))
    assert record.outcome == "reset" and record.exchanges[-1].event == "connection-closed"
    assert record.exchanges[-1].command == "MAIL FROM:<>"


async def test_the_deadline_bounds_the_session(fake: Factory) -> None:
    loop = asyncio.get_running_loop()
    server = await fake(banner_delay_s=5)
    record = await probe(server, ["a@x.test"], opts(timeout_s=10), deadline=loop.time() + 0.3)
    assert record.outcome == "timeout" and record.exchanges[-1].event == "deadline-exceeded"
    skipped = await probe(server, ["a@x.test"], opts(), deadline=loop.time() - 1)
    assert skipped.outcome == "skipped" and skipped.rcpt["a@x.test"].event == "deadline-exceeded"
    assert len(server.connections) == 1


async def test_the_source_address_is_recorded_and_can_be_bound(fake: Factory) -> None:
    server = await fake()
    first = await probe(server, ["a@x.test"], opts())
    assert first.local_address == "127.0.0.1"
    again = await probe(server, ["a@x.test"], opts(), local_host=first.local_address)
    assert again.outcome == "completed" and again.local_address == first.local_address


async def test_a_given_catch_all_address_is_reused(fake: Factory) -> None:
    server = await fake()
    record = await probe(server, ["a@x.test"], opts(catch_all=True), catch_all_address="smtp-probe-same@x.test")
    assert record.catch_all_address == "smtp-probe-same@x.test"
    assert "RCPT TO:<smtp-probe-same@x.test>" in server.commands


async def test_a_proxy_that_cannot_be_reached_is_a_proxy_failed_event() -> None:
    pytest.importorskip("python_socks")
    async with start_raw_server(_hang_up) as closed:
        dead = closed.port
    record = await run_session("mx.test", "127.0.0.1", 25, ["a@x.test"],
                               opts(proxy=f"socks5://127.0.0.1:{dead}", timeout_s=1.0))
    event = record.exchanges[0]
    assert (record.outcome, event.event, event.context) == ("unreachable", "proxy-failed", Context.CONNECT)
    assert "cannot connect to the SOCKS proxy" in event.detail and "[proxy-unreachable]" in event.detail
    assert record.rcpt["a@x.test"] is event


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None


async def test_postmaster_is_asked_in_the_mail_group_when_there_is_no_recipient(fake: Factory) -> None:
    """A domain-only session asks RCPT TO:<postmaster@DOMAIN> (RFC 5321 §4.5.1) in the MAIL/RSET group where
    PIPELINING is offered: no extra round trip; one command a write where it is not."""
    group = b"MAIL FROM:<>\r\nRCPT TO:<postmaster@x.test>\r\nRSET\r\n"
    advertised = await fake(pipelining=True)
    # from another address than the server's own (from its own, the random address is asked too: test below)
    record = await probe(advertised, [], opts(catch_all=True, source_ip="127.0.0.2"), postmaster="postmaster@x.test")
    assert advertised.connections[0].segments[1:] == [group, b"QUIT\r\n"]
    assert record.postmaster is not None and record.postmaster.reply is not None
    assert record.postmaster.command == "RCPT TO:<postmaster@x.test>" and record.postmaster.reply.code == 250
    assert record.postmaster_address == "postmaster@x.test" and record.rcpt == {} and record.catch_all is None
    silent = await fake()
    await probe(silent, [], opts(), postmaster="postmaster@x.test")
    assert verbs(silent) == ["EHLO", "MAIL", "RCPT", "RSET", "QUIT"]


async def test_from_the_servers_own_address_the_domain_alone_asks_a_random_address_too(fake: Factory) -> None:
    """Connected from the server's own address (127.0.0.1 to 127.0.0.1: the probe runs on the mail server), a
    domain-only session asks a random address of the domain beside postmaster@: a server relays any address for
    its own host (Postfix's mynetworks), and only a random address refused shows it serves the domain."""
    server = await fake()
    record = await probe(server, [], opts(catch_all=True), postmaster="postmaster@x.test")
    assert record.local_address == record.address == "127.0.0.1"
    assert record.catch_all is not None and record.catch_all_address is not None
    assert record.catch_all_address.endswith("@x.test") and record.postmaster is not None
    assert [c for c in server.connections[0].commands if c.startswith("RCPT")] == [
        f"RCPT TO:<{record.catch_all_address}>", "RCPT TO:<postmaster@x.test>"]
    quiet = await fake()  # without the catch-all test (--no-catch-all), postmaster@ alone
    await probe(quiet, [], opts(catch_all=False), postmaster="postmaster@x.test")
    assert [c for c in quiet.connections[0].commands if c.startswith("RCPT")] == ["RCPT TO:<postmaster@x.test>"]


async def test_postmaster_is_asked_when_the_caller_says_so(fake: Factory) -> None:
    """The session asks postmaster@ when given it, after the recipients (the caller gives it for a domain-only
    probe, and beside recipients for a batch unit that also holds a line with the domain alone); without the
    argument it is never added."""
    server = await fake()
    record = await probe(server, ["a@x.test"], opts(catch_all=False), postmaster="postmaster@x.test")
    assert record.postmaster is not None and "a@x.test" in record.rcpt and "postmaster@x.test" not in record.rcpt
    rcpts = [c for c in server.connections[0].commands if c.startswith("RCPT")]
    assert rcpts == ["RCPT TO:<a@x.test>", "RCPT TO:<postmaster@x.test>"]
    record = await probe(server, [], opts())
    assert record.postmaster is None
    assert not any(c.startswith("RCPT") for c in server.connections[1].commands)


async def test_a_refused_mail_decides_the_postmaster_rcpt(fake: Factory) -> None:
    server = await fake(mail="553 5.7.1 <>: Sender address rejected")
    record = await probe(server, [], opts(), postmaster="postmaster@x.test")
    assert record.postmaster is next(e for e in record.exchanges if e.context is Context.MAIL)
    assert "RCPT" not in verbs(server)  # no pipelining: no RCPT after a refused MAIL
