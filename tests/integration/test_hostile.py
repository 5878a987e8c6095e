"""End to end against a hostile world (issue 5): the real probe path (runner → session → wire) on loopback.

Every case runs `probe.run.probe.probe_domain` with --mx pointing at a misbehaving server and checks
that the probe ends within its deadline (an upper bound only, with slack), that the result is
classified with a SPEC reason, that the steps keep what the server sent, and that DATA is never sent.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import dns.asyncresolver
import pytest

from probe import classify
from probe.cli.main import main
from probe.inputs import parse_target
from probe.judge.health import evaluate, parse_expectation
from probe.model import Context, DomainStatus, ExitCode, ProbeOptions, Reason, Report, Session, Step, Verdict
from probe.render.json import report_json
from probe.render.nagios import render_nagios
from probe.render.text import render_text
from probe.run.batch import run_batch
from probe.run.probe import probe_domain
from probe.smtp.wire import Wire, WireError
from probe.testing.certs import TestCA
from probe.testing.fakesmtp import FakeSMTP, RcptRequest
from probe.testing.hostile import BAD_CODE_REPLIES, HTTP_400, Behaviour, HostileServer

ADDRESS = "user@example.test"
SLACK_S = 1.5  # loopback is fast; this only absorbs a loaded CI machine
MEMORY_BOUND = 5 * 1024 * 1024
# Cases a size bound must end (a reply's bytes, a line's length): the step timeout and the deadline are so
# long that no clock can end them first, however loaded the machine; PATIENT_S still bounds the test.
PATIENT_S = 60.0
SIZE_BOUNDED = {Behaviour.ENDLESS_MULTILINE, Behaviour.LONG_LINE, Behaviour.HUGE_EHLO}


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
     "reply longer than 262144 bytes"),
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
    patient = behaviour in SIZE_BOUNDED
    async with HostileServer(behaviour, **server_options) as srv:
        report = await probe(srv.port, no_dns, timeout_s=PATIENT_S if patient else 0.5,
                             deadline_s=PATIENT_S if patient else 3.0)
    step = assert_learned_nothing(report, srv, outcome=outcome, reason=reason)
    assert shown in step.text
    steps = [s for s in report.to_dict()["sessions"][0]["steps"] if s["context"] != "QUIT"]
    assert shown in steps[-1]["text"]  # kept in the JSON shape too
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


async def test_an_ehlo_reply_of_3000_lines_is_read_whole(no_dns: dns.asyncresolver.Resolver) -> None:
    """RFC 5321 sets no line count for a reply and Postfix reads such replies: ~70 KB of EHLO lines are a
    server's answer, not a protocol error (issue 11, defect 6)."""
    async with HostileServer(Behaviour.HUGE_EHLO, line_count=3_000) as srv:
        report = await probe(srv.port, no_dns)
    session = only_session(report)
    assert session.outcome == "completed"
    assert {"X-EXTENSION-00001", "X-EXTENSION-02998", "SIZE"} <= set(session.extensions)
    assert len(session.extensions) == 2_999  # 3,000 lines: the greeting line and 2,999 keywords
    assert report.addresses[0].reason is Reason.ACCEPTED and not srv.saw_data


async def test_mixed_codes_in_a_rcpt_reply_are_the_final_lines_reply_with_a_finding(
        no_dns: dns.asyncresolver.Resolver) -> None:
    """The documented rule (RFC 5321 §4.2.1 wants one code; Postfix's client takes the final line's): "250-ok"
    then "550 no" is the server's 550, shown exactly as sent, with a finding that it mixed codes."""
    async with HostileServer(Behaviour.MIXED_CODES) as srv:
        report = await probe(srv.port, no_dns)
    session = only_session(report)
    assert session.outcome == "completed"
    [step] = [s for s in session.steps if s.command == f"RCPT TO:<{ADDRESS}>"]
    assert (step.context, step.code) == (Context.RCPT, 550)
    assert step.text == "250-ok\n550 no"  # the lines exactly as the server sent them
    [result] = report.addresses
    assert result.verdict is Verdict.UNDELIVERABLE  # the 550, never the 250 of its first line
    [mixed] = [f for f in report.findings if f.id == "reply-mixed-codes"]
    assert "250 then 550" in mixed.message and mixed.subject == "127.0.0.1"
    assert not srv.saw_data and srv.errors == []


async def test_mixed_codes_ending_in_garbage_stay_a_protocol_error(no_dns: dns.asyncresolver.Resolver) -> None:
    """Only a final line with a valid code makes a reply: "250-ok" then a line that is no reply is broken."""
    async with HostileServer(Behaviour.MIXED_CODES, reply=b"250-ok\r\n600 no\r\n") as srv:
        report = await probe(srv.port, no_dns)
    assert only_session(report).outcome == "protocol_error"
    assert failing_step(report).reason is Reason.PROTOCOL_ERROR
    assert report.addresses[0].verdict is Verdict.UNKNOWN and not srv.saw_data


# ---------------------------------------------------------------- the unsolicited 421

async def test_unsolicited_421_text_is_kept_in_steps_json_and_text(no_dns: dns.asyncresolver.Resolver,
                                                                   validate_report: Any) -> None:
    sent = "421 4.4.2 mx.test Error: timeout exceeded"
    async with HostileServer(Behaviour.UNSOLICITED_421) as srv:
        report = await probe(srv.port, no_dns)
    step = failing_step(report)
    assert step.unsolicited and step.command is None and (step.code, step.text) == (421, sent)
    expected = classify(sent, "VRFY").reason
    assert expected in (Reason.SERVICE_UNAVAILABLE, Reason.NETWORK_ERROR, Reason.RATE_LIMITED)
    assert_learned_nothing(report, srv, outcome="deferred", reason=expected)
    assert report.addresses[0].text == sent
    data = validate_report(report_json(report))
    assert data["sessions"][0]["steps"][-1]["unsolicited"] is True
    assert data["addresses"][0]["text"] == sent
    assert sent in render_text(report, width=500) and "S (unsolicited): " + sent in render_text(report, verbose=True)
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


async def test_starttls_hang_is_not_tls_for_health_or_text(no_dns: dns.asyncresolver.Resolver) -> None:
    async with HostileServer(Behaviour.STARTTLS_HANG) as srv:
        report = await probe(srv.port, no_dns, timeout_s=0.5)
    session = only_session(report)
    assert session.tls is None or session.tls.get("version") is None  # the handshake never completed
    assert evaluate(report, [parse_expectation("starttls")]).exit_code is ExitCode.CRITICAL
    assert evaluate(report, starttls_required=True).exit_code is ExitCode.CRITICAL
    line = next(ln for ln in render_text(report, width=500).splitlines() if "127.0.0.1" in ln and "ms" in ln)
    assert "TLSv" not in line and "  TLS  " not in line, line


async def test_starttls_hang_require_is_tls_failed(no_dns: dns.asyncresolver.Resolver) -> None:
    async with HostileServer(Behaviour.STARTTLS_HANG) as srv:
        report = await probe(srv.port, no_dns, timeout_s=0.5, starttls="require")
    session = only_session(report)
    assert (session.outcome, failing_step(report).reason) == ("tls_failed", Reason.TLS_FAILURE)
    # the host greeted and answered EHLO: it accepts mail, but not over TLS, so the address was not asked
    assert (report.status, report.reason) == (DomainStatus.ACCEPTS_MAIL, Reason.TLS_FAILURE)
    [result] = report.addresses
    assert (result.verdict, result.reason) == (Verdict.UNKNOWN, Reason.TLS_FAILURE)
    assert srv.connections == 1 and "MAIL FROM:<>" not in srv.commands and not srv.saw_data


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
    pytest.param(Behaviour.HUGE_EHLO, {}, id="huge-ehlo"),  # 20,000 lines, ~460 KB
    pytest.param(Behaviour.LONG_LINE, {"line_bytes": 20_000_000}, id="20mb-line"),
])
async def test_memory_stays_bounded(no_dns: dns.asyncresolver.Resolver, behaviour: Behaviour,
                                    server_options: dict[str, Any]) -> None:
    async with HostileServer(behaviour, **server_options) as srv:
        tracemalloc.start()
        try:
            report = await probe(srv.port, no_dns, timeout_s=PATIENT_S, deadline_s=PATIENT_S)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < MEMORY_BOUND, peak
    step = failing_step(report)
    # only the size bounds can end it (no timeout comes near): bounded memory AND the session ended by them
    assert (only_session(report).outcome, step.reason) == ("protocol_error", Reason.PROTOCOL_ERROR)
    assert not srv.saw_data and srv.errors == []


# ---------------------------------------------------------------- terminal safety

EVIL = ("\x1b[2J\x1b[31mred \x1b]8;;http://evil.test/\x07click\x1b]8;;\x07 \x9b1m csi "
        "\u202egnp.exe\u202c \u2066iso\u2069 nul\x00 del\x7f bell\x07 \rOVERWRITTEN")
UNSAFE_CHARS = "\x00\x07\x0d\x1b\x7f\x9b\u202c\u202e\u2066\u2069"


async def test_server_text_is_escaped_for_terminals_and_exact_in_json(no_dns: dns.asyncresolver.Resolver,
                                                                      validate_report: Any) -> None:
    banner = f"220 mx.test {EVIL}"
    rcpt = f"550 5.1.1 <{ADDRESS}> {EVIL} no such user"
    async with HostileServer(Behaviour.SCRIPTED, banner=banner.encode() + b"\r\n",
                             script={f"RCPT TO:<{ADDRESS}>": rcpt.encode() + b"\r\n"}) as srv:
        report = await probe(srv.port, no_dns)
    assert report.addresses[0].verdict is Verdict.UNDELIVERABLE and report.addresses[0].text == rcpt
    health = evaluate(report)
    for output in (render_text(report, verbose=True), render_nagios(report, health)):
        assert not any(ch in output for ch in UNSAFE_CHARS), repr(output)
        assert "\\x1b[2J\\x1b[31mred" in output and "OVERWRITTEN" in output  # shown, made visible
        assert "\\x1b]8;;http://evil.test/\\x07click" in output and "\\u202egnp.exe" in output
    coloured = render_text(report, color=True, verbose=True)  # our own SGR codes, never the server's
    assert "\x1b[2J" not in coloured and "\x1b]8" not in coloured and "\\x1b[2J" in coloured
    assert "\\x0dOVERWRITTEN" in render_text(report, verbose=True)  # a bare CR cannot rewrite the line
    raw = report_json(report)
    assert not any(ch in raw for ch in UNSAFE_CHARS), "JSON text stays inert when cat-ed"
    data = validate_report(raw)
    assert data["addresses"][0]["text"] == rcpt
    assert data["sessions"][0]["steps"][0]["text"] == banner
    assert not srv.saw_data


# ---------------------------------------------------------------- the CLI end to end

@contextmanager
def server_in_thread(behaviour: Behaviour, **options: Any) -> Iterator[HostileServer]:
    """A HostileServer on its own event loop in a thread, for code that runs asyncio.run() itself."""
    loop = asyncio.new_event_loop()
    srv = HostileServer(behaviour, **options)
    ready = threading.Event()

    def serve() -> None:
        loop.run_until_complete(srv.__aenter__())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield srv
    finally:
        asyncio.run_coroutine_threadsafe(srv.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_cli_json_keeps_the_unsolicited_421(capsys: pytest.CaptureFixture[str], validate_report: Any) -> None:
    sent = "421 4.4.2 mx.test Error: timeout exceeded"
    with server_in_thread(Behaviour.UNSOLICITED_421) as srv:
        started = time.monotonic()
        code, out, err = run_cli(capsys, "probe", ADDRESS, "--mx", f"127.0.0.1:{srv.port}", "--json",
                                 "--helo", "probe.test", "--timeout", "1", "--deadline", "3", "--no-tls-policies")
        assert time.monotonic() - started < 3 + SLACK_S
    data = validate_report(out)
    assert code == data["exit_code"] == 1 and "Traceback" not in err  # a 421 is transient: WARNING
    assert data["status"] == "unreachable" and data["sessions"][0]["outcome"] == "deferred"
    assert data["addresses"][0]["verdict"] == "unknown" and data["addresses"][0]["text"] == sent
    assert [s["text"] for s in data["sessions"][0]["steps"] if s["unsolicited"]] == [sent]
    assert not srv.saw_data


def test_cli_deadline_against_a_tarpit(capsys: pytest.CaptureFixture[str]) -> None:
    with server_in_thread(Behaviour.DRIP, interval_s=0.25) as srv:
        started = time.monotonic()
        code, out, err = run_cli(capsys, "probe", ADDRESS, "--mx", f"127.0.0.1:{srv.port}", "-v",
                                 "--helo", "probe.test", "--timeout", "30", "--deadline", "1.5", "--no-tls-policies")
        assert time.monotonic() - started < 2.5
    assert code == 2 and "Traceback" not in err
    assert "deadline" in out and "UNKNOWN" in out and "220 mx" in out  # the partial banner is shown
    assert srv.commands == []


# ---------------------------------------------------------------- never harm

async def eventually(condition: Any, limit_s: float = 2.0) -> None:
    """Wait (bounded) for the fake server to process what the client already sent."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not condition() and loop.time() < end:  # noqa: ASYNC110 -- polls a plain predicate; no event to await
        await asyncio.sleep(0.01)


def too_many_after_first(request: RcptRequest) -> str | None:
    return "452 4.5.3 Too many recipients" if request.earlier else None


RCPT_USER = f"RCPT TO:<{ADDRESS}>"
# path -> (FakeSMTP script, a check on the commands it received that proves the path was walked)
DIALOGUE_PATHS: dict[str, tuple[dict[str, Any], Callable[[list[str]], bool]]] = {
    "banner-554": ({"banner": "554 5.7.1 mx.test no service for you"}, lambda c: c == ["QUIT"]),
    "banner-421": ({"banner": "421 4.3.2 mx.test busy, closing"}, lambda c: c == []),
    "ehlo-refused-helo": ({"ehlo_reply": "502 5.5.2 EHLO not implemented"}, lambda c: "HELO probe.test" in c),
    "starttls": ({"tls": True}, lambda c: "STARTTLS" in c and RCPT_USER in c),
    "vrfy-252": ({}, lambda c: f"VRFY {ADDRESS}" in c),
    "vrfy-550": ({"vrfy": "550 5.1.1 no such user"}, lambda c: f"VRFY {ADDRESS}" in c),
    "vrfy-502": ({"vrfy": "502 5.5.1 VRFY disabled"}, lambda c: sum(x.startswith("VRFY") for x in c) == 1),
    "mail-refused": ({"mail": "550 5.7.1 sender refused"},
                     lambda c: "MAIL FROM:<>" in c and not any(x.startswith("RCPT") for x in c)),
    "rcpt-refused": ({"rcpt_default": "550 5.1.1 no such user"}, lambda c: RCPT_USER in c),
    "rcpt-greylisted": ({"rcpt_default": "450 4.2.0 greylisted, try again in 300 seconds"},
                        lambda c: RCPT_USER in c),
    "rcpt-452-too-many": ({"pipelining": True, "rcpt_policy": too_many_after_first},
                          lambda c: c.count("MAIL FROM:<>") >= 2),
    "pipelining-mixed-rcpt": ({"pipelining": True, "rcpt": {"gone@example.test": "550 5.1.1 gone"}},
                              lambda c: "RSET" in c and "RCPT TO:<gone@example.test>" in c),
}


def trusting(ca: TestCA) -> Callable[[bool], ssl.SSLContext]:
    def factory(verify: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(ca.bundle_path))
        if not verify:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        return ctx

    return factory


@pytest.mark.parametrize("probe_options", [
    pytest.param({}, id="defaults"),
    pytest.param({"pipelining": False, "catch_all": False}, id="no-pipelining-no-catch-all"),
])
@pytest.mark.parametrize("path", list(DIALOGUE_PATHS))
async def test_never_data_and_quit_wherever_the_server_listens(
        no_dns: dns.asyncresolver.Resolver, tmp_path: Path, path: str, probe_options: dict[str, Any]) -> None:
    script, walked = DIALOGUE_PATHS[path]
    script = dict(script)
    factory = None
    if script.pop("tls", False):
        ca = TestCA(tmp_path)
        script["tls_context"] = ca.server_context(ca.issue(["mx.test", "127.0.0.1"]))
        factory = trusting(ca)
    hung_up = path == "banner-421"
    async with FakeSMTP(**script) as server:
        addresses = [*parse_target(ADDRESS).addresses, *parse_target("gone@example.test").addresses]
        options = ProbeOptions(mx=(("127.0.0.1", server.port),), timeout_s=1.0, deadline_s=5.0,
                               helo="probe.test", **probe_options)
        report = await probe_domain("example.test", addresses, options, resolver=no_dns,
                                    tls_context_factory=factory)
        await eventually(lambda: hung_up or all(log.commands[-1:] == ["QUIT"] for log in server.connections))
    commands = server.commands
    assert walked(commands), commands
    verbs = [command.split(" ", 1)[0].upper() for command in commands]
    assert "DATA" not in verbs and "BDAT" not in verbs
    assert server.connections and all(log.before_banner == b"" for log in server.connections)
    for log in server.connections:
        assert log.commands == [] if hung_up else log.commands[-1] == "QUIT", log.commands
    if path == "starttls":
        assert only_session(report).tls is not None and server.connections[-1].tls
    if probe_options.get("catch_all") is False:
        assert not any("smtp-probe-" in command for command in commands)


@pytest.mark.parametrize(("per_host", "expect_max"), [(1, 1), (3, 3)])
async def test_batch_opens_one_connection_per_mx_host_at_a_time(
        no_dns: dns.asyncresolver.Resolver, per_host: int, expect_max: int) -> None:
    """Six domains make six probes that share one MX host; the limiter serialises them."""
    lines = [f"user{n}@d{n}.test" for n in range(6)]
    async with HostileServer(Behaviour.SLOW_GREETING, delay_s=0.15) as srv:
        options = ProbeOptions(mx=(("127.0.0.1", srv.port),), timeout_s=2.0, deadline_s=10.0, helo="probe.test",
                               tls_policies=False)
        results: list[dict[str, Any]] = []
        await run_batch(lines, options, results.append, finish=lambda report: None, concurrency=10,
                        per_host=per_host, resolver=no_dns)
    assert len(results) == 6 and srv.connections == 6
    assert srv.max_active == expect_max if per_host == 1 else 1 < srv.max_active <= expect_max
    assert srv.early_talkers == 0 and not srv.saw_data


# ---------------------------------------------------------------- the wire itself never talks first

@pytest.mark.parametrize(("behaviour", "server_options"), [
    pytest.param(Behaviour.SLOW_GREETING, {"delay_s": 2.0}, id="no-greeting-yet"),
    pytest.param(Behaviour.GARBAGE, {}, id="not-smtp"),
    pytest.param(Behaviour.DRIP, {"interval_s": 0.05}, id="half-a-greeting"),
])
async def test_wire_close_says_no_quit_before_a_complete_greeting(behaviour: Behaviour,
                                                                 server_options: dict[str, Any]) -> None:
    async with HostileServer(behaviour, **server_options) as srv:
        wire = await Wire.connect("127.0.0.1", srv.port, timeout_s=0.3)
        with pytest.raises(WireError):
            await wire.read_reply()
        assert wire.replies_read == 0
        assert await wire.close(quit=True) is None
        await asyncio.sleep(0.05)  # give the server a moment to record anything we might have written
    assert srv.received == b"" and srv.early_talkers == 0
    assert all(t.direction == "S" for t in wire.transcript)  # nothing was written


# ---------------------------------------------------------------- a session the server ends early (issue 11)

CLOSING_421 = b"421 4.7.0 mx.test Error: too many errors\r\n"  # Postfix smtpd at smtpd_hard_error_limit


async def test_answers_received_before_the_server_closes_are_kept(no_dns: dns.asyncresolver.Resolver) -> None:
    """PIPELINING: the RCPTs are answered, then the VRFY that ends the group gets 421 and the server closes."""
    async with HostileServer(Behaviour.SCRIPTED, script={"VRFY": CLOSING_421,
                                                         "RCPT TO:<gone@": b"550 5.1.1 <gone@example.test>: "
                                                         b"Recipient address rejected: User unknown in local "
                                                         b"recipient table\r\n"}) as srv:
        report = await probe(srv.port, no_dns, address="user@example.test", catch_all=False)
        gone = await probe(srv.port, no_dns, address="gone@example.test", catch_all=False)
    assert only_session(report).outcome == "deferred"
    assert report.status is DomainStatus.ACCEPTS_MAIL and report.addresses[0].verdict is Verdict.DELIVERABLE
    assert gone.addresses[0].reason is Reason.USER_UNKNOWN and gone.addresses[0].command == "RCPT"


async def test_addresses_never_asked_are_asked_in_a_new_session(no_dns: dns.asyncresolver.Resolver) -> None:
    """No PIPELINING: VRFY first; the server answers one, then ends the session with 421 before any RCPT.
    A second session without VRFY asks them, and the report says so. (A server that closes at its first
    answer is not asked again: test_unsolicited_421_... keeps one session.)"""
    addresses = [parse_target(a).addresses[0] for a in ("a@example.test", "b@example.test")]
    options = ProbeOptions(mx=(("127.0.0.1", 0),), timeout_s=1.0, deadline_s=5.0, helo="probe.test",
                           pipelining=False, catch_all=False)
    async with HostileServer(Behaviour.SCRIPTED, script={"VRFY B@": CLOSING_421}) as srv:
        options = replace(options, mx=(("127.0.0.1", srv.port),))
        report = await probe_domain("example.test", addresses, options, resolver=no_dns)
    first, second = report.sessions
    assert (first.outcome, second.outcome) == ("deferred", "completed")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    assert [(a.verdict, a.command) for a in report.addresses] == [(Verdict.DELIVERABLE, "RCPT")] * 2
    assert [c.split(" ")[0] for c in srv.commands].count("VRFY") == 2  # the new session does not VRFY
    (ended,) = [f for f in report.findings if f.id == "session-ended-early"]
    assert "421 4.7.0 mx.test Error: too many errors to VRFY b@example.test" in ended.message
