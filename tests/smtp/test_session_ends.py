"""probe.smtp.session: how a dialogue ends (QUIT after protocol errors, the TLS close), what a broken pipelined
group leaves in the record, STARTTLS refused, pipelined VRFY, and the round trips a whole session costs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from probe.model import Context, ProbeOptions, Session, Severity
from probe.smtp.facts import NONMAIL_LIMIT
from probe.smtp.session import SessionRecord, run_session
from probe.testing.fakesmtp import DelayProxy, FakeSMTP
from probe.testing.hostile import Behaviour, HostileServer
from probe.tls import checks as security

if TYPE_CHECKING:
    from conftest import ServerCert  # tests/smtp/conftest.py (a fixture type only)

STEP_S = 2.0
# a reply that starts well and ends in a line that is no reply (600 is outside 2xx-5xx): a protocol error, where
# mixed codes with a valid final line are that line's reply (test_hostile.py)
BROKEN_REPLY = b"250-ok\r\n600 no\r\n"


def opts(**changes: Any) -> ProbeOptions:
    base: dict[str, Any] = {"helo": "probe.test", "timeout_s": STEP_S, "catch_all": False}
    return ProbeOptions(**{**base, **changes})


async def probe(port: int, recipients: list[str], options: ProbeOptions, **kw: Any) -> SessionRecord:
    return await run_session("mx.test", "127.0.0.1", port, recipients, options, **kw)


def to_session(record: SessionRecord) -> Session:
    """What the transport checks see of a session (the runner builds the full one)."""
    return Session(record.host, record.address, record.port, record.outcome, tls=security.session_tls(record),
                   extensions=sorted(record.extensions))


async def eventually(condition: Callable[[], bool], within_s: float = STEP_S) -> bool:
    """Poll `condition` (the server reads in the same loop) until true or `within_s` passed."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within_s
    for _ in range(int(within_s / 0.01) + 1):
        if condition() or loop.time() >= end:
            break
        await asyncio.sleep(0.01)
    return condition()


# ---- QUIT after a protocol error -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "changes"),
    [
        (Behaviour.MIXED_CODES, {}),  # pipelined: the RSET's reply is still unread when the error strikes
        (Behaviour.MIXED_CODES, {"pipelining": False}),
        (Behaviour.HUGE_EHLO, {}),  # 20,000 lines, ~460 KB: more than Limits.max_reply_bytes
    ],
)
async def test_quit_is_said_after_a_protocol_error_while_the_server_listens(
        behaviour: Behaviour, changes: dict[str, Any]) -> None:
    reply = BROKEN_REPLY if behaviour is Behaviour.MIXED_CODES else None
    async with HostileServer(behaviour, reply=reply) as srv:
        record = await probe(srv.port, ["a@x.test"], opts(vrfy=False, **changes))
        assert record.outcome in ("protocol_error", "completed"), record.outcome
        assert any(e.event in ("protocol-error", "reply-too-long") for e in record.exchanges)
        assert await eventually(lambda: srv.commands[-1:] == ["QUIT"]), srv.commands
    assert any(t.direction == "C" and t.data == b"QUIT\r\n" for t in record.transcript)


async def test_quit_is_sent_to_a_server_still_sending_an_endless_reply() -> None:
    """It never reads again (the hostile script only writes), but the socket is open: QUIT is written."""
    async with HostileServer(Behaviour.ENDLESS_MULTILINE) as srv:
        record = await probe(srv.port, ["a@x.test"], opts(vrfy=False))
    assert record.outcome == "protocol_error"
    assert [t.data for t in record.transcript if t.direction == "C"] == [b"EHLO probe.test\r\n", b"QUIT\r\n"]


async def test_a_broken_pipelined_reply_keeps_its_lines_and_the_unanswered_commands() -> None:
    async with HostileServer(Behaviour.MIXED_CODES, reply=BROKEN_REPLY) as srv:
        record = await probe(srv.port, ["a@x.test", "b@x.test"], opts(vrfy=False))
    event = record.rcpt["a@x.test"]
    assert event.event == "protocol-error" and event.context is Context.RCPT
    assert "'600 no', not an SMTP reply" in event.detail
    assert repr(BROKEN_REPLY.decode()) in event.detail  # the actual lines, not only the bad one
    assert "unanswered: RCPT TO:<b@x.test>, RSET" in event.detail
    sent = b"".join(t.data for t in record.transcript if t.direction == "C")
    assert b"RCPT TO:<b@x.test>\r\nRSET\r\n" in sent
    assert any(BROKEN_REPLY in t.data for t in record.transcript if t.direction == "S")


# ---- STARTTLS refused, the TLS close ---------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "severity"), [("auto", Severity.INFO), ("require", Severity.CRITICAL)])
async def test_a_454_to_starttls_is_reported_as_refused_not_as_a_failed_handshake(
        server_cert: ServerCert, mode: str, severity: Severity) -> None:
    async with FakeSMTP(tls_context=server_cert.server_context(),
                        starttls_reply="454 4.7.0 TLS not available due to local problem") as server:
        record = await probe(server.port, ["a@x.test"], opts(starttls=mode))
    assert record.outcome == ("completed" if mode == "auto" else "tls_failed")
    session = to_session(record)
    assert session.tls == {"version": None, "cipher": None, "certificate": None,
                           "error": "STARTTLS refused (454 4.7.0 TLS not available due to local problem)"}
    findings = security.session_findings(session, opts(starttls=mode))
    assert [(f.id, f.severity) for f in findings] == [("starttls-refused", severity)]
    assert "handshake" not in findings[0].message and "454 4.7.0" in findings[0].message


async def test_require_with_an_untrusted_certificate_reports_it_critical(server_cert: ServerCert) -> None:
    async with FakeSMTP(tls_context=server_cert.server_context()) as server:
        record = await probe(server.port, ["a@x.test"], opts(starttls="require"))
    session = to_session(record)
    assert session.outcome == "tls_failed" and session.tls is not None
    assert session.tls["version"] is None and session.tls["certificate"]["self_signed"] is True
    assert session.tls["error"].startswith("STARTTLS required: certificate untrusted (self")
    findings = {f.id: f for f in security.session_findings(session, opts(starttls="require"))}
    assert findings["starttls-failed"].severity is Severity.CRITICAL
    assert findings["starttls-failed"].message.startswith("The probe stopped at ")
    assert "cert-self-signed" in findings


async def test_a_tls_session_ends_after_the_221_without_waiting_for_close_notify(server_cert: ServerCert) -> None:
    """The server processed QUIT (its 221 is in the transcript) before the connection was dropped."""
    async with FakeSMTP(tls_context=server_cert.server_context(), pipelining=True) as server:
        record = await probe(server.port, ["a@x.test"], opts(),
                             tls_context_factory=server_cert.trusting_client_context)
        assert record.tls is not None and record.outcome == "completed"
        assert server.connections[0].commands[-1] == "QUIT"
    assert record.transcript[-2].data == b"QUIT\r\n" and record.transcript[-1].data.startswith(b"221 ")


# ---- pipelined VRFY --------------------------------------------------------------------------------------


async def test_vrfy_ends_the_pipelined_group_and_stops_when_unsupported() -> None:
    async with FakeSMTP(pipelining=True, vrfy="502 5.5.1 VRFY command is disabled") as server:
        record = await probe(server.port, ["a@x.test", "b@x.test"], opts())
    assert server.connections[0].segments[1] == (b"MAIL FROM:<>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n"
                                                 b"RSET\r\nVRFY a@x.test\r\n")
    assert [c for c in server.commands if c.startswith("VRFY")] == ["VRFY a@x.test"]
    assert list(record.vrfy) == ["a@x.test"] and record.vrfy["a@x.test"].reply is not None
    assert all(record.rcpt[k].reply is not None and record.rcpt[k].reply.code == 250 for k in record.rcpt)


# ---- round trips over a slow link ------------------------------------------------------------------------


ONE_WAY_S = 0.02  # each direction: a slow link; round trips are counted by the proxy, not timed


@pytest.mark.parametrize("pipelining", [True])
async def test_starttls_ehlo_vrfy_mail_rcpt_and_catch_all_fit_in_few_round_trips(
        server_cert: ServerCert, pipelining: bool) -> None:
    """greeting (0.5) + EHLO + STARTTLS + TLS 1.3 handshake (its Finished goes with the second EHLO) +
    [MAIL RCPT RCPT RSET VRFY] + QUIT/221 = 6.5 round trips, counted by the proxy as the times the probe
    spoke again after the server had spoken (no clock involved). The server pushes no TLS session tickets,
    so every flight of the server answers one of the probe's."""
    server_context = server_cert.server_context()
    server_context.num_tickets = 0
    # a@ exists and the random address does not (on a catch-all the random address is asked again alone: one more)
    async with FakeSMTP(pipelining=True, tls_context=server_context, rcpt={"a@x.test": "250 2.1.5 OK"},
                        rcpt_default="550 5.1.1 <x@x.test>: Recipient address rejected: User unknown in local recipient table") as server:
        proxy = await DelayProxy(server.port, ONE_WAY_S).start()
        try:
            record = await probe(proxy.port, ["a@x.test"], opts(catch_all=True, pipelining=pipelining),
                                 tls_context_factory=server_cert.trusting_client_context)
        finally:
            await proxy.stop()
    assert record.outcome == "completed" and record.tls is not None and record.catch_all is not None
    assert record.vrfy["a@x.test"].reply is not None
    round_trips = proxy.client_flights + 0.5
    assert round_trips <= 6.5, f"{round_trips} round trips"


async def test_the_proxy_counts_a_wait_for_every_command_without_pipelining() -> None:
    """The counter itself: without PIPELINING every command waits for its reply (RFC 5321), so the count
    rises with the commands: greeting + EHLO + MAIL + RCPT + RSET + QUIT, and more with the catch-all RCPT."""
    async with FakeSMTP(pipelining=False) as server:
        proxy = await DelayProxy(server.port, 0.0).start()
        try:
            record = await probe(proxy.port, ["a@x.test"], opts(vrfy=False, starttls="never", pipelining=False))
        finally:
            await proxy.stop()
    assert record.outcome == "completed"
    sent = [t.data.split(b" ")[0].rstrip(b"\r\n") for t in record.transcript if t.direction == "C"]
    assert proxy.client_flights == len(sent), sent  # one flight per command: none pipelined


# ---- the non-mail command limit (Exim: smtp_accept_max_nonmail, 10 by default) ----------------------------


@pytest.mark.parametrize("pipelining", [True, False])
async def test_never_more_non_mail_commands_than_servers_allow(pipelining: bool) -> None:
    recipients = [f"user{n}@x.test" for n in range(15)]
    async with HostileServer(Behaviour.NORMAL) as srv:
        record = await probe(srv.port, recipients, opts(pipelining=pipelining))
    assert record.outcome == "completed"
    sent = [c.split(" ", 1)[0].upper() for c in srv.commands]
    nonmail = sent.count("VRFY") + max(0, sent.count("RSET") - 1) + max(0, sent.count("EHLO") - 1)
    assert nonmail <= NONMAIL_LIMIT
    asked = [k for k, e in record.vrfy.items() if e.reply is not None]
    not_asked = [k for k, e in record.vrfy.items() if e.event == "not-asked"]
    assert len(asked) == sent.count("VRFY") and len(asked) + len(not_asked) == 15 and not_asked
    assert all(e.reply is not None and e.reply.code == 250 for e in record.rcpt.values())  # RCPT for every one
    assert not any(e.event == "not-asked" for e in record.exchanges)  # not a step of the dialogue


async def test_recipients_never_asked_are_listed_when_the_server_closes_early() -> None:
    """Without PIPELINING the VRFYs come first; a 421 there ends the session before any RCPT."""
    script = {"VRFY": b"421 4.7.0 mx.test Error: too many errors\r\n"}  # Postfix smtpd's hard error limit
    async with HostileServer(Behaviour.SCRIPTED, script=script) as srv:
        record = await probe(srv.port, ["a@x.test", "b@x.test"], opts(pipelining=False))
    assert record.outcome == "deferred" and record.unasked == ["a@x.test", "b@x.test"]
