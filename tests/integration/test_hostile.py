"""End to end against a hostile world (issue 5): the real probe path (runner → session → wire) on loopback.

Every case runs `probe.runner.probe_domain` with --mx pointing at a misbehaving server and checks
that the probe ends within its deadline (an upper bound only, with slack), that the result is
classified with a SPEC reason, that the steps keep what the server sent, and that DATA is never sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dns.asyncresolver
import pytest

from probe import classify
from probe.batch import run_batch
from probe.cli import main
from probe.health import evaluate
from probe.inputs import parse_target
from probe.model import Context, DomainStatus, ProbeOptions, Reason, Report, Session, Step, Verdict
from probe.render.json import report_json
from probe.render.nagios import render_nagios
from probe.render.text import render_text
from probe.runner import probe_domain
from probe.testing.certs import TestCA
from probe.testing.fakesmtp import FakeSMTP, RcptRequest
from probe.testing.hostile import BAD_CODE_REPLIES, HTTP_400, Behaviour, HostileServer

ADDRESS = "user@example.test"
SLACK_S = 1.5  # loopback is fast; this only absorbs a loaded CI machine
MEMORY_BOUND = 5 * 1024 * 1024


async def probe(port: int, resolver: dns.asyncresolver.Resolver, *, timeout_s: float = 1.0,
                deadline_s: float = 5.0, address: str = ADDRESS, **options: Any) -> Report:
    """One probe of `address` through the real runner, asserting it ended within the deadline."""
    target = parse_target(address)
    opts = ProbeOptions(mx=(("127.0.0.1", port),), timeout_s=timeout_s, deadline_s=deadline_s,
                        helo="probe.test", **options)
    started = time.monotonic()
    report = await probe_domain(target.domain, target.addresses, opts, resolver=resolver)
    assert time.monotonic() - started < deadline_s + SLACK_S
    return report


def only_session(report: Report) -> Session:
    assert len(report.sessions) == 1, [s.outcome for s in report.sessions]
    return report.sessions[0]


def failing_step(report: Report) -> Step:
    """The step that ended the (single) session: the last one that is not the polite QUIT."""
    return [s for s in only_session(report).steps if s.context is not Context.QUIT][-1]


def assert_learned_nothing(report: Report, srv: HostileServer, *, outcome: str, reason: Reason) -> Step:
    """The session broke off: outcome and reason as given, the address `unknown` for that reason, no DATA."""
    session = only_session(report)
    step = failing_step(report)
    assert (session.outcome, step.reason) == (outcome, reason), (session.outcome, step.text)
    assert report.status is DomainStatus.UNREACHABLE
    [result] = report.addresses
    assert (result.verdict, result.reason) == (Verdict.UNKNOWN, reason)
    assert not srv.saw_data and srv.errors == []
    return step


# ---------------------------------------------------------------- servers that break off the dialogue

BROKEN = [
    # id, behaviour, server options, outcome, reason, text that must be shown in the failing step
    ("drip-too-slow", Behaviour.DRIP, {"interval_s": 0.05}, "timeout", Reason.NETWORK_ERROR, "220 mx"),
    ("100k-line", Behaviour.LONG_LINE, {}, "protocol_error", Reason.PROTOCOL_ERROR, "longer than 4096"),
    ("endless-multiline", Behaviour.ENDLESS_MULTILINE, {}, "protocol_error", Reason.PROTOCOL_ERROR,
     "more than 200 lines"),
    ("garbage", Behaviour.GARBAGE, {}, "protocol_error", Reason.PROTOCOL_ERROR, "not an SMTP reply"),
    ("http-silent", Behaviour.HTTP, {}, "timeout", Reason.NETWORK_ERROR, "waiting for the banner"),
    ("http-speaks-first", Behaviour.GARBAGE, {"reply": HTTP_400}, "protocol_error", Reason.PROTOCOL_ERROR,
     "HTTP/1.1 400 Bad Request"),
    ("ssh", Behaviour.SSH, {}, "protocol_error", Reason.PROTOCOL_ERROR, "SSH-2.0-OpenSSH_9.6p1"),
    ("reset-mid-reply", Behaviour.RESET_MID_REPLY, {}, "reset", Reason.NETWORK_ERROR, "250-second li"),
    ("unsolicited-421", Behaviour.UNSOLICITED_421, {"reply": b"421 4.3.2 mx.test Service shutting down\r\n"},
     "deferred", Reason.SERVICE_UNAVAILABLE, "421 4.3.2 mx.test Service shutting down"),
    *[(f"bad-code-{bad[:4].decode().strip()}", Behaviour.BAD_CODES, {"reply": bad}, "protocol_error",
       Reason.PROTOCOL_ERROR, bad.decode().strip()) for bad in BAD_CODE_REPLIES],
]


@pytest.mark.parametrize(("behaviour", "server_options", "outcome", "reason", "shown"),
                         [pytest.param(*case[1:], id=case[0]) for case in BROKEN])
async def test_broken_server_ends_classified_with_what_it_sent(
        no_dns: dns.asyncresolver.Resolver, behaviour: Behaviour, server_options: dict[str, Any],
        outcome: str, reason: Reason, shown: str) -> None:
    async with HostileServer(behaviour, **server_options) as srv:
        report = await probe(srv.port, no_dns, timeout_s=0.5, deadline_s=3.0)
    step = assert_learned_nothing(report, srv, outcome=outcome, reason=reason)
    assert shown in step.text
    assert shown in report.to_dict()["sessions"][0]["steps"][-1]["text"]  # kept in the JSON shape too
    assert "Traceback" not in render_text(report, verbose=True)


async def test_garbage_is_shown_escaped_in_text_output(no_dns: dns.asyncresolver.Resolver) -> None:
    garbage = b"\x1b[2J\x9b31m\x00\xff\xfe junk\r\n"
    async with HostileServer(Behaviour.GARBAGE, reply=garbage) as srv:
        report = await probe(srv.port, no_dns)
    assert_learned_nothing(report, srv, outcome="protocol_error", reason=Reason.PROTOCOL_ERROR)
    text = render_text(report, verbose=True)
    assert "junk" in text and "\x1b" not in text and "\x9b" not in text and "\x00" not in text


async def test_dripped_reply_is_read_whole(no_dns: dns.asyncresolver.Resolver) -> None:
    async with HostileServer(Behaviour.DRIP, at="RCPT", interval_s=0.002) as srv:
        report = await probe(srv.port, no_dns, pipelining=False)
    assert only_session(report).outcome == "completed"
    assert report.addresses[0].text == "250 2.1.5 Ok" and report.addresses[0].reason is Reason.ACCEPTED
    assert srv.commands[-1] == "QUIT" and not srv.saw_data


async def test_mixed_codes_in_a_rcpt_reply_are_a_protocol_error(no_dns: dns.asyncresolver.Resolver) -> None:
    async with HostileServer(Behaviour.MIXED_CODES) as srv:
        report = await probe(srv.port, no_dns)
    assert only_session(report).outcome == "protocol_error"
    step = failing_step(report)
    assert (step.context, step.reason, step.command) == (Context.RCPT, Reason.PROTOCOL_ERROR, f"RCPT TO:<{ADDRESS}>")
    assert "different codes (250 then 550)" in step.text
    [result] = report.addresses
    assert (result.verdict, result.reason) == (Verdict.UNKNOWN, Reason.PROTOCOL_ERROR)  # not the 221 to QUIT
    assert report.reason is Reason.PROTOCOL_ERROR
    assert not srv.saw_data and srv.errors == []


# ---------------------------------------------------------------- the unsolicited 421

async def test_unsolicited_421_text_is_kept_in_steps_json_and_text(no_dns: dns.asyncresolver.Resolver) -> None:
    sent = "421 4.4.2 mx.test Error: timeout exceeded"
    async with HostileServer(Behaviour.UNSOLICITED_421) as srv:
        report = await probe(srv.port, no_dns)
    step = failing_step(report)
    assert step.unsolicited and step.command is None and (step.code, step.text) == (421, sent)
    expected = classify(sent, "VRFY").reason
    assert expected in (Reason.SERVICE_UNAVAILABLE, Reason.NETWORK_ERROR, Reason.RATE_LIMITED)
    assert_learned_nothing(report, srv, outcome="deferred", reason=expected)
    assert report.addresses[0].text == sent
    data = json.loads(report_json(report))
    assert data["sessions"][0]["steps"][-1]["unsolicited"] is True
    assert data["addresses"][0]["text"] == sent
    assert sent in render_text(report) and "S (unsolicited): " + sent in render_text(report, verbose=True)
    assert srv.commands == ["EHLO probe.test"]  # nothing was written after the 421


# ---------------------------------------------------------------- STARTTLS that never completes

async def test_starttls_hang_auto_goes_on_in_plain_text(no_dns: dns.asyncresolver.Resolver) -> None:
    async with HostileServer(Behaviour.STARTTLS_HANG) as srv:
        report = await probe(srv.port, no_dns, timeout_s=0.5)
    session = only_session(report)
    tls_steps = [s for s in session.steps if s.context is Context.TLS]
    assert [s.reason for s in tls_steps] == [Reason.TLS_FAILURE]
    assert session.outcome == "completed" and srv.connections == 2
    assert report.addresses[0].reason is Reason.ACCEPTED
    assert srv.commands.count("STARTTLS") == 1 and not srv.saw_data


async def test_starttls_hang_require_is_tls_failed(no_dns: dns.asyncresolver.Resolver) -> None:
    async with HostileServer(Behaviour.STARTTLS_HANG) as srv:
        report = await probe(srv.port, no_dns, timeout_s=0.5, starttls="require")
    assert_learned_nothing(report, srv, outcome="tls_failed", reason=Reason.TLS_FAILURE)
    assert srv.connections == 1 and "MAIL FROM:<>" not in srv.commands


# ---------------------------------------------------------------- postscreen-style greeting delay

async def test_slow_greeting_is_waited_for_and_never_talked_over(no_dns: dns.asyncresolver.Resolver) -> None:
    async with HostileServer(Behaviour.SLOW_GREETING, delay_s=1.0) as srv:
        report = await probe(srv.port, no_dns, timeout_s=2.5)
    assert srv.early_talkers == 0
    assert only_session(report).outcome == "completed" and srv.commands[-1] == "QUIT"
    assert report.addresses[0].verdict is not Verdict.UNKNOWN


async def test_banner_timeout_leaves_without_a_word(no_dns: dns.asyncresolver.Resolver) -> None:
    """Even when the probe gives up on the banner it does not talk first (no QUIT before the greeting)."""
    async with HostileServer(Behaviour.SLOW_GREETING, delay_s=2.0) as srv:
        report = await probe(srv.port, no_dns, timeout_s=0.3)
        await asyncio.sleep(0.05)  # let the server see the client leave
    assert_learned_nothing(report, srv, outcome="timeout", reason=Reason.NETWORK_ERROR)
    assert srv.early_talkers == 0 and srv.received == b""


# ---------------------------------------------------------------- deadline and memory

@pytest.mark.parametrize(("behaviour", "server_options"), [
    pytest.param(Behaviour.DRIP, {"interval_s": 0.2}, id="drip-tarpit"),
    pytest.param(Behaviour.SLOW_GREETING, {"delay_s": 10.0}, id="silent-tarpit"),
    pytest.param(Behaviour.DRIP, {"at": "RCPT", "interval_s": 0.3}, id="drip-at-rcpt"),
])
async def test_deadline_wins_over_a_long_step_timeout(no_dns: dns.asyncresolver.Resolver, behaviour: Behaviour,
                                                      server_options: dict[str, Any]) -> None:
    started = time.monotonic()
    async with HostileServer(behaviour, **server_options) as srv:
        report = await probe(srv.port, no_dns, timeout_s=30.0, deadline_s=1.5)
    assert time.monotonic() - started < 2.5
    session = only_session(report)
    assert session.outcome == "timeout"
    assert "deadline-exceeded" in (session.error or "") or any(f.id == "deadline-exceeded" for f in report.findings)
    assert report.addresses[0].verdict is Verdict.UNKNOWN and not srv.saw_data


@pytest.mark.parametrize(("behaviour", "server_options"), [
    pytest.param(Behaviour.ENDLESS_MULTILINE, {}, id="endless-multiline"),
    pytest.param(Behaviour.HUGE_EHLO, {}, id="huge-ehlo"),
    pytest.param(Behaviour.LONG_LINE, {"line_bytes": 20_000_000}, id="20mb-line"),
])
async def test_memory_stays_bounded(no_dns: dns.asyncresolver.Resolver, behaviour: Behaviour,
                                    server_options: dict[str, Any]) -> None:
    async with HostileServer(behaviour, **server_options) as srv:
        tracemalloc.start()
        try:
            report = await probe(srv.port, no_dns, timeout_s=1.0, deadline_s=4.0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < MEMORY_BOUND, peak
    step = failing_step(report)
    assert only_session(report).outcome == "protocol_error" and step.reason is Reason.PROTOCOL_ERROR
    assert not srv.saw_data and srv.errors == []
