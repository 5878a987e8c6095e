"""Postfix postscreen's pregreet drop, read the way Postfix's own SMTP client reads it.

postscreen sends its "220-" greeting teaser, and when it drops the client sends "521 ..." as the final line of
that same reply. RFC 5321 §4.2.1 wants one code per reply; Postfix's smtp_chat_resp() takes the final line's
code (github:NetBSD/src external/ibm-public/postfix/dist/src/smtp/smtp_chat.c). The probe does the same: the
reply is the server's 521 refusal, its lines are kept exactly as sent, with a finding that the codes changed.

A real postscreen drops on demand only a client that talks before the greeting (postscreen_greet_action =
drop), which the probe never does; so the first test has the real postscreen answer a socket that spoke
early and reads its reply with the probe's own Wire, and the second replays exactly those bytes, captured
in this run, to the full runner (no reply text is written here)."""

from __future__ import annotations

import asyncio
import re
import socket
from dataclasses import replace

from probe.inputs import parse_address
from probe.judge.health import finish_report
from probe.model import Context, DomainStatus, ProbeOptions, Reason, Verdict
from probe.render.text import render_text
from probe.run.probe import probe_domain
from probe.smtp.wire import Wire
from probe.testing.hostile import Behaviour, HostileServer

from lab import LAB_OPTIONS, Lab, LabProbe


async def _pregreeted_reply(lab: Lab) -> tuple[int, tuple[int, ...], bytes]:
    """Connect to the lab's pregreet postscreen, talk before its greeting, read its reply with Wire."""
    sock = await asyncio.to_thread(socket.create_connection, (lab.ip("postscreen-pregreet"), lab.port), 5)
    sock.sendall(b"EHLO early.lab.test\r\n")  # before the greeting: postscreen's pregreet test catches it
    sock.setblocking(False)
    wire = await Wire.connect("", 0, timeout_s=15.0, sock=sock)  # a bound only: postscreen drops at once
    try:
        reply = await wire.read_reply(step="reading the greeting")
    finally:
        await wire.close(quit=False)
    (received,) = [line.data for line in wire.transcript if line.direction == "S"]
    return reply.code, reply.line_codes, received


async def test_postscreen_teaser_then_521_is_read_as_the_521(lab: Lab) -> None:
    code, line_codes, received = await _pregreeted_reply(lab)
    assert (code, line_codes) == (521, (220, 521))
    assert received.startswith(b"220-mx.postfix.lab.test ESMTP Postfix\r\n521 ")  # kept exactly as sent


async def test_the_same_bytes_end_a_probe_as_an_answered_refusal_with_the_521_on_its_row(lab: Lab) -> None:
    _, _, received = await _pregreeted_reply(lab)
    async with HostileServer(Behaviour.MIXED_CODES, at="banner", reply=received) as srv:
        address = parse_address("alice@screened.lab.test")
        options: ProbeOptions = replace(LAB_OPTIONS, mx=(("127.0.0.1", srv.port),))
        report = await probe_domain(address.domain, [address], options, resolver=lab.resolver())
    (session,) = report.sessions
    banner = session.steps[0]
    assert (banner.context, banner.code) == (Context.BANNER, 521)
    assert banner.text == received.decode().replace("\r\n", "\n").rstrip("\n")  # the lines exactly as sent
    assert session.outcome == "rejected"
    # the server answered and refused this client for its manners (postscreen's pregreet test): never
    # "unreachable", a protocol error of the peer, nor RFC 7504's "this host accepts no mail" that a bare
    # 521 greeting means (a DNSBL drop's "521 5.3.2" is refuses_this_client too, test_lab_judgement.py)
    assert report.status is DomainStatus.REFUSES_THIS_CLIENT
    assert report.reason is Reason.BAD_SEQUENCE
    text = " ".join(render_text(report, health=finish_report(report)).split())
    assert re.search(r"127\.0\.0\.1 rejected \d+ ms 521 5\.5\.1 Protocol error",
                     text), text  # the MX row shows the 521, not the teaser
    (mixed,) = [f for f in report.findings if f.id == "reply-mixed-codes"]
    assert "220 then 521" in mixed.message


async def test_a_5xx_greeting_from_the_first_mx_goes_on_to_the_next(lab_probe: LabProbe) -> None:
    """screenedfirst.lab.test: MX 10 is the postscreen that drops us with 521, MX 20 the Postfix that hosts
    alice. Postfix's own client goes on to the next MX after a 5xx greeting (smtp_skip_5xx_greeting = yes,
    the default), so a sender's mail would reach the backup: the probe asks it too, without --all-mx, and
    reports both hosts, the 521 on the first one's row."""
    report = await lab_probe("alice@screenedfirst.lab.test")
    assert [(s.host, s.outcome) for s in report.sessions] == [
        ("mx.postscreen.lab.test", "rejected"), ("mx.postfix.lab.test", "completed")]
    assert report.sessions[0].steps[0].text == "521 5.3.2 Service currently unavailable"
    (alice,) = report.addresses
    assert (alice.verdict, alice.host) == (Verdict.DELIVERABLE, "mx.postfix.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    text = " ".join(render_text(report, health=finish_report(report)).split())
    assert re.search(rf"{re.escape(report.sessions[0].address)} rejected \d+ ms 521 5\.3\.2 Service currently "
                     r"unavailable", text), text


async def test_postscreen_after_greeting_tests_defer_the_first_session_to_vrfy_too(lab_probe: LabProbe) -> None:
    """deep.lab.test: postscreen with its after-greeting tests on (postscreen_pipelining_enable) talks to the
    client itself, so even a client that passes gets "450 4.3.2 Service currently unavailable" to RCPT and to
    VRFY alike (postscreen_smtpd.c: psc_rcpt_cmd and psc_vrfy_cmd both send rcpt_reply) and must reconnect;
    the next session goes to the real smtpd. The VRFY answer is that same deferral, not a server that is
    "shutting down, in maintenance or overloaded". (Only this test uses deep.lab.test: postscreen caches the
    pass.)"""
    first = await lab_probe("alice@deep.lab.test", "nobody@deep.lab.test")
    for result in first.addresses:
        assert (result.verdict, result.reason, result.text) == (
            Verdict.RISKY, Reason.GREYLISTED, "450 4.3.2 Service currently unavailable")
        assert result.vrfy is not None and result.vrfy["text"] == "450 4.3.2 Service currently unavailable"
        assert result.vrfy["reason"] == Reason.GREYLISTED
    vrfy_steps = [s for s in first.sessions[0].steps if s.command and s.command.startswith("VRFY ")]
    assert vrfy_steps and all("reconnect" in s.meaning and "overloaded" not in s.meaning for s in vrfy_steps)
    for _ in range(50):  # postscreen records the pass as the session ends: the next session reaches smtpd
        again = await lab_probe("alice@deep.lab.test", "nobody@deep.lab.test")
        if again.addresses[0].code != 450:
            break
        await asyncio.sleep(0.1)
    alice, nobody = again.addresses
    assert (alice.verdict, alice.code) == (Verdict.DELIVERABLE, 250)
    assert (nobody.verdict, nobody.reason, nobody.code) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, 550)
