"""Probe intelligence end to end (issue 6): catch-all honesty, providers where RCPT proves nothing,
greylisting (delay, --retry-greylist), --all-mx, IPv6 and family fallback, SOCKS5. Loopback only."""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jsonschema
import pytest

from probe.cli.main import main
from probe.dns import resolve
from probe.inputs import parse_address
from probe.judge import catchall
from probe.judge.greylist import planned_wait_s, retry_delay_s
from probe.judge.health import finish_report
from probe.model import AddressResult, DomainStatus, ProbeOptions, Reason, Reply, Report, Severity, Verdict
from probe.render.json import report_json
from probe.render.text import render_text
from probe.run.batch import run_batch
from probe.run.probe import probe_domain
from probe.smtp.polite import HostLimiter
from probe.smtp.proxy import MISSING_DEPENDENCY, parse_proxy_url
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP, RcptRequest, start_raw_server

ZONE = """$ORIGIN in.test.
$TTL 60
@            SOA ns.in.test. hostmaster.in.test. 1 3600 600 86400 60
mx           A    127.0.0.1
plain        MX   10 mx
two          MX   10 mx1.two
two          MX   20 mx2.two
mx1.two      A    127.0.0.1
mx2.two      A    127.0.0.2
v6           MX   10 mx6.v6
mx6.v6       AAAA ::1
noaddr       MX   10 mx.noaddr
mx.noaddr    TXT  "no address at all"
dual         MX   10 mx.dual
mx.dual      A    127.0.0.1
mx.dual      AAAA ::1
dual4dead    MX   10 mx.dual4dead
mx.dual4dead A    127.0.0.3
mx.dual4dead AAAA ::1
yahoo        MX   10 mta5.am0.yahoodns.net.
"""
YAHOO_ZONE = "$ORIGIN yahoodns.net.\n$TTL 60\n@ SOA ns hm 1 3600 600 86400 60\nmta5.am0 A 127.0.0.1\n"
SCHEMA = json.loads(resources.files("probe").joinpath("schema/report.schema.json").read_text("utf-8"))
UNKNOWN = "550 5.1.1 <x>: Recipient address rejected: User unknown in virtual mailbox table"
M365_BANNER = "220 BN8NAM11FT066.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready"


@pytest.fixture
async def dns() -> AsyncIterator[FakeDNS]:
    async with FakeDNS({"in.test.": ZONE, "yahoodns.net.": YAHOO_ZONE}) as server:
        yield server


async def run(dns: FakeDNS, domain: str, addresses: list[str], port: int, **options: Any) -> Report:
    """The real resolver, runner and SMTP client; the report must validate and render."""
    base: dict[str, Any] = {"helo": "probe.in.test", "port": port, "timeout_s": 2.0, "deadline_s": 20.0,
                            "tls_policies": False, "starttls": "never"}
    opts = ProbeOptions(**{**base, **options})
    resolver = resolve.make_resolver([(dns.host, dns.port)], timeout_s=0.6)
    report = await probe_domain(domain, [parse_address(a) for a in addresses], opts, resolver=resolver)
    finish_report(report, [])
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(report_json(report)))
    render_text(report, verbose=True)
    return report


def rcpts(server: FakeSMTP, connection: int = 0) -> list[str]:
    return [c for c in server.connections[connection].commands if c.upper().startswith("RCPT")]


def finding(report: Report, finding_id: str) -> Any:
    return next(f for f in report.findings if f.id == finding_id)


# ---------------------------------------------------------------- catch-all

def outlook_policy(mailboxes: set[str]) -> Any:
    """Outlook's habit: after an unknown recipient, the next RCPT in the transaction gets 452 4.5.3."""
    def policy(request: RcptRequest) -> str:
        if any(e not in mailboxes for e in request.earlier):
            return "452 4.5.3 Too many recipients"
        return "250 2.1.5 Recipient OK" if request.address in mailboxes else UNKNOWN
    return policy


async def test_the_real_address_goes_before_the_random_one(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt_policy=outlook_policy({"alice@plain.in.test"}), pipelining=True) as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port)
    first, random = rcpts(smtp)
    assert first == "RCPT TO:<alice@plain.in.test>" and "smtp-probe-" in random
    a = report.addresses[0]
    assert (a.verdict, a.catch_all) == (Verdict.DELIVERABLE, False)


@pytest.mark.parametrize("random_reply", [
    "452 4.5.3 Too many recipients",  # a recipient limit, not an answer about the address
    "451 4.7.1 Greylisted, please try again later",
    "550 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org",  # a block, not "no user"
])
async def test_an_inconclusive_random_rcpt_leaves_catch_all_unknown(dns: FakeDNS, random_reply: str) -> None:
    def policy(request: RcptRequest) -> str | None:
        return random_reply if request.address.startswith("smtp-probe-") else None

    async with FakeSMTP(rcpt_policy=policy) as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port)
    a = report.addresses[0]
    assert (a.verdict, a.catch_all) == (Verdict.DELIVERABLE, None)


async def test_a_refused_mail_says_nothing_about_catch_all(dns: FakeDNS) -> None:
    async with FakeSMTP(mail="553 5.7.1 <>: Sender address rejected: not owned by user") as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port)
    assert report.addresses[0].catch_all is None  # the random address was never asked


async def test_an_accept_all_domain_makes_accepted_addresses_risky(dns: FakeDNS) -> None:
    async with FakeSMTP() as smtp:  # on 127.0.0.1, probed from another address (not from the server's own)
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port, source_ip="127.0.0.2")
    a = report.addresses[0]
    assert (a.verdict, a.catch_all) == (Verdict.RISKY, True)
    assert not any(f.id == "rcpt-proves-nothing" for f in report.findings)
    assert "valid and accepted" not in a.meaning  # it is not: any address is accepted there
    assert "plain.in.test accepts any address (catch-all)" in a.meaning and "proves little" in a.meaning


async def test_accepting_any_address_from_the_servers_own_address_proves_no_catch_all(dns: FakeDNS) -> None:
    """Probed from 127.0.0.1, the server's own address: a server relays any address for its own host (Postfix's
    mynetworks, Exim's relay_from_hosts), so a random address accepted says nothing of the domain
    (tests/realmta/test_lab_admin.py shows it against Debian's Postfix)."""
    async with FakeSMTP() as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port)
    (a,) = report.addresses
    assert (a.verdict, a.catch_all) == (Verdict.RISKY, None)
    assert "catch-all" not in a.meaning and "127.0.0.1" in a.meaning
    assert [f.severity for f in report.findings if f.id == "probe-on-server-host"] == [Severity.WARNING]


def test_a_service_where_rcpt_proves_nothing_is_named_by_its_display_name() -> None:
    result = AddressResult("a@x.test", Verdict.DELIVERABLE, Reason.ACCEPTED, 250, None, "Accepted.", "")
    service = catchall.unreliable("microsoft")
    assert service is not None
    _, said = catchall.rcpt_proves_nothing(result, service, None, None, "mx.x.test")
    assert "mx.x.test is Microsoft 365" in said.message and "is microsoft" not in said.message


async def test_microsoft_365_accepting_everything_is_reported_not_guessed(dns: FakeDNS) -> None:
    async with FakeSMTP(banner=M365_BANNER, rcpt_default="250 2.1.5 Recipient OK") as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port)
    a = report.addresses[0]
    assert (a.verdict, a.catch_all, a.reason) == (Verdict.RISKY, None, Reason.ACCEPTED)
    assert "proves nothing" in a.meaning and "RCPT cannot verify" in a.remediation
    f = finding(report, "rcpt-proves-nothing")
    assert f.severity is Severity.WARNING and "Microsoft" in f.message


async def test_a_provider_recognised_by_mx_name_that_refuses_the_random_address(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt={"alice@yahoo.in.test": "250 recipient <alice@yahoo.in.test> ok"},
                        rcpt_default=UNKNOWN) as smtp:
        report = await run(dns, "yahoo.in.test", ["alice@yahoo.in.test", "bob@yahoo.in.test"], smtp.port)
    alice, bob = report.addresses
    assert (alice.verdict, alice.catch_all) == (Verdict.DELIVERABLE, False)  # this server does check
    assert bob.verdict is Verdict.UNDELIVERABLE
    f = finding(report, "rcpt-proves-nothing")
    assert f.severity is Severity.INFO and f.subject == "mta5.am0.yahoodns.net"


# ---------------------------------------------------------------- greylisting

@pytest.mark.parametrize(("text", "seconds"), [
    ("451 4.7.1 Greylisted for 300 seconds", 300.0),
    ("450 4.2.0 Greylisted, please try again in 5 minutes", 300.0),
    ("451 4.7.1 Temporarily rejected, retry after 60s", 60.0),
    ("450 4.7.1 Greylisting in action, please come back in 00:05:00", 300.0),
    ("451 4.7.1 Please wait 299 seconds before retrying", 299.0),
    ("450 4.2.0 <a@b>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/b.html",
     None),
    ("451 4.7.1 Try again later", None),
])
def test_the_stated_greylisting_delay_is_read(text: str, seconds: float | None) -> None:
    assert retry_delay_s(text) == seconds


def test_the_retry_wait_stays_within_the_limits() -> None:
    assert planned_wait_s(None, 3.0, 100.0, 2.0) == 3.0  # no stated delay: all that is allowed
    assert planned_wait_s(1.0, 3.0, 100.0, 2.0) == 2.0  # the stated delay and a second of slack
    assert planned_wait_s(300.0, 3.0, 100.0, 2.0) is None  # would be greylisted again
    assert planned_wait_s(None, 60.0, 10.0, 2.0) == 8.0  # the deadline leaves room for the retry
    assert planned_wait_s(5.0, 60.0, 4.0, 2.0) is None


@dataclass
class Greylister:
    """A real greylisting policy: a (client IP, sender, recipient) triplet is deferred until `delay_s`
    has passed since it was first seen; recipients not in `mailboxes` are then unknown."""

    delay_s: float
    mailboxes: set[str]
    first_seen: dict[tuple[str, str, str], float] = field(default_factory=dict)
    deferred: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, request: RcptRequest) -> str:
        triplet = (request.peer, request.sender, request.address)
        seen = self.first_seen.setdefault(triplet, time.monotonic())
        if time.monotonic() - seen < self.delay_s:
            self.deferred.append(triplet)
            return f"451 4.7.1 Greylisted, please try again in {self.delay_s:g} seconds"
        return "250 2.1.5 OK" if request.address in self.mailboxes else UNKNOWN


async def test_greylisting_is_risky_with_the_delay_and_not_retried_by_default(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt_policy=Greylister(300, {"alice@plain.in.test"})) as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port)
    a = report.addresses[0]
    assert (a.verdict, a.reason, a.retry_after_s, a.catch_all) == (Verdict.RISKY, Reason.GREYLISTED, 300.0, None)
    assert len(smtp.connections) == 1 and a.attempts == []


async def test_retry_greylist_waits_and_asks_again_from_the_same_address(dns: FakeDNS) -> None:
    policy = Greylister(1.0, {"alice@plain.in.test"})
    async with FakeSMTP(rcpt_policy=policy) as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port, retry_greylist_s=3.0,
                           starttls="auto")
    a = report.addresses[0]
    assert (a.verdict, a.reason, a.code, a.catch_all) == (Verdict.DELIVERABLE, Reason.ACCEPTED, 250, False)
    assert [f.id for f in report.findings].count("starttls-missing") == 1  # two sessions, one finding
    assert [t["code"] for t in a.attempts] == [451, 250] and a.attempts[1]["waited_s"] >= 1.0
    assert len(report.sessions) == 2 and len(smtp.connections) == 2
    assert rcpts(smtp, 0)[1] == rcpts(smtp, 1)[1]  # the same random address, so its triplet passes too
    peers = {triplet[0] for triplet in policy.first_seen}
    assert len(peers) == 1  # one source address for both attempts
    assert "greylist-retried" in {f.id for f in report.findings}


async def test_a_stated_delay_longer_than_allowed_is_not_retried(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt_policy=Greylister(300, {"alice@plain.in.test"})) as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port, retry_greylist_s=3.0)
    assert len(smtp.connections) == 1 and report.addresses[0].reason is Reason.GREYLISTED
    skipped = finding(report, "greylist-retry-skipped")
    assert "300 s" in skipped.message
    assert skipped.severity is Severity.WARNING  # the user asked for a retry: say why none came, without -v


# ---------------------------------------------------------------- round trips

async def test_quit_is_said_and_its_reply_awaited(dns: FakeDNS) -> None:
    # RFC 5321 §4.1.1.10: the client SHOULD wait for the 221; only then has the server ended the session, so
    # the next session to the same host (a per-host limit of 1) never overlaps this one at the server
    async with FakeSMTP(rcpt={"alice@plain.in.test": "250 2.1.5 OK"}, rcpt_default=UNKNOWN) as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port)
    assert smtp.commands[-1] == "QUIT"
    quit_step = report.sessions[0].steps[-1]
    assert (quit_step.command, quit_step.code, quit_step.text) == ("QUIT", 221, "221 Bye")


# ---------------------------------------------------------------- --all-mx

async def test_all_mx_probes_every_host_at_once_and_preference_decides(dns: FakeDNS) -> None:
    mx2_reached = asyncio.Event()

    def mx2_policy(request: RcptRequest) -> str:
        return "250 2.1.5 OK"

    async def mx1(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # the greeting waits until mx2 has been connected to: a walk one host at a time would time out here
        await asyncio.wait_for(mx2_reached.wait(), 5.0)
        writer.write(b"220 mx1.two.in.test ESMTP\r\n")
        replies = {b"EHLO": b"250 mx1\r\n", b"MAIL": b"250 2.1.0 OK\r\n", b"RSET": b"250 OK\r\n",
                   b"VRFY": b"252 2.5.2 Cannot VRFY\r\n", b"RCPT": UNKNOWN.encode() + b"\r\n"}
        while line := await reader.readline():
            verb = line.split(b" ")[0].split(b":")[0].strip().upper()
            if verb == b"QUIT":
                return
            writer.write(replies.get(verb, b"502 5.5.2 no\r\n"))

    async with start_raw_server(mx1) as raw:
        mx2 = FakeSMTP(host="127.0.0.2", port=raw.port, rcpt_policy=mx2_policy)
        original = mx2._make_protocol

        def connected() -> Any:
            mx2_reached.set()
            return original()

        mx2._make_protocol = connected  # type: ignore[method-assign]
        async with mx2:
            report = await run(dns, "two.in.test", ["alice@two.in.test"], raw.port, all_mx=True)
    assert [(s.host, s.outcome) for s in report.sessions] == [("mx1.two.in.test", "completed"),
                                                               ("mx2.two.in.test", "completed")]
    a = report.addresses[0]
    assert (a.host, a.verdict) == ("mx1.two.in.test", Verdict.UNDELIVERABLE)  # preference order decides
    text = render_text(report)
    assert "127.0.0.1" in text and "127.0.0.2" in text


async def test_all_mx_disagreement_is_said_per_address_and_each_batch_line_keeps_its_own(dns: FakeDNS) -> None:
    relay = "550 relay not permitted"  # Exim's default ACL (github:Exim/exim src/src/configure.default)
    mx1 = await FakeSMTP(rcpt_default="250 2.1.5 Ok").start()
    try:
        async with FakeSMTP(host="127.0.0.2", port=mx1.port, rcpt_default=relay):
            report = await run(dns, "two.in.test", ["alice@two.in.test", "bob@two.in.test"], mx1.port,
                               all_mx=True, catch_all=False)
            options = ProbeOptions(helo="probe.in.test", port=mx1.port, timeout_s=2.0, deadline_s=20.0,
                                   tls_policies=False, starttls="never", all_mx=True, catch_all=False)
            lines: list[dict[str, Any]] = []
            await run_batch(["alice@two.in.test", "bob@two.in.test"], options, lines.append,
                            finish=lambda r: finish_report(r, []),
                            resolver=resolve.make_resolver([(dns.host, dns.port)], timeout_s=0.6))
    finally:
        await mx1.stop()
    disagree = [f for f in report.findings if f.id == "mx-disagree"]
    assert [(f.subject, f.severity) for f in disagree] == [("mx2.two.in.test", Severity.CRITICAL)] * 2
    assert ["alice@" in disagree[0].message, "bob@" in disagree[1].message] == [True, True]
    assert report.exit_code == 2 and all(a.verdict is Verdict.DELIVERABLE for a in report.addresses)
    for line, who in zip(lines, ("alice@", "bob@"), strict=True):
        (own,) = [f for f in line["findings"] if f["id"] == "mx-disagree"]
        assert who in own["message"] and line["exit_code"] == 2


async def test_without_all_mx_the_walk_stops_at_the_first_answer(dns: FakeDNS) -> None:
    mx1 = await FakeSMTP(rcpt_default=UNKNOWN).start()
    try:
        async with FakeSMTP(host="127.0.0.2", port=mx1.port) as mx2:
            report = await run(dns, "two.in.test", ["alice@two.in.test"], mx1.port)
    finally:
        await mx1.stop()
    assert [s.host for s in report.sessions] == ["mx1.two.in.test"] and not mx2.connections


async def test_two_mx_names_on_one_address_get_one_connection_at_a_time() -> None:
    limiter = HostLimiter(base_backoff_s=0.01)
    inside, peak = 0, 0

    async def connect(name: str) -> None:
        nonlocal inside, peak
        async with limiter.slot(name, "127.0.0.1"):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(connect("mx1.two.in.test"), connect("mx2.two.in.test"))
    assert peak == 1
    await limiter.observe("mx1.two.in.test", [Reply(421, ("4.7.0 slow down",))], "127.0.0.1")
    assert await limiter.backoff_of("mx1.two.in.test") == await limiter.backoff_of("127.0.0.1") == 0.01  # name and address
    assert await limiter.backoff_of("mx2.two.in.test") == 0.0


# ---------------------------------------------------------------- IPv6

async def test_an_ipv6_only_mx_is_probed_over_ipv6(dns: FakeDNS) -> None:
    async with FakeSMTP(host="::1") as smtp:
        report = await run(dns, "v6.in.test", ["alice@v6.in.test"], smtp.port)
    assert [(s.address, s.outcome) for s in report.sessions] == [("::1", "completed")]


async def test_forced_ipv6_falls_back_to_ipv4_when_no_ipv6_address_connects(dns: FakeDNS) -> None:
    async with FakeSMTP() as smtp:  # 127.0.0.1 only: ::1 on that port refuses
        report = await run(dns, "dual.in.test", ["alice@dual.in.test"], smtp.port, family=6)
    assert [(s.address, s.outcome) for s in report.sessions] == [("::1", "refused"), ("127.0.0.1", "completed")]
    assert "IPv4" in finding(report, "family-fallback").message
    assert report.addresses[0].verdict is Verdict.RISKY  # the accept-all fake: answered, over IPv4


async def test_forced_ipv4_falls_back_to_ipv6(dns: FakeDNS) -> None:
    async with FakeSMTP(host="::1") as smtp:  # nothing listens on 127.0.0.3
        report = await run(dns, "dual4dead.in.test", ["a@dual4dead.in.test"], smtp.port, family=4)
    assert [s.outcome for s in report.sessions] == ["refused", "completed"]
    assert report.sessions[1].address == "::1"


async def test_forced_ipv4_falls_back_when_the_mx_has_no_ipv4_address_at_all(dns: FakeDNS) -> None:
    async with FakeSMTP(host="::1") as smtp:  # mx6.v6.in.test has an AAAA record only
        report = await run(dns, "v6.in.test", ["alice@v6.in.test"], smtp.port, family=4)
    assert [(s.address, s.outcome) for s in report.sessions] == [("::1", "completed")]
    fallback = finding(report, "family-fallback")
    assert fallback.severity is Severity.INFO and "has no IPv4 address" in fallback.message
    assert report.addresses[0].verdict is Verdict.RISKY  # the accept-all fake answered, over IPv6
    assert not any(f.id in ("mx-no-connection", "port25-blocked") for f in report.findings)


async def test_no_address_in_any_family_is_said_as_such(dns: FakeDNS) -> None:
    report = await run(dns, "noaddr.in.test", ["alice@noaddr.in.test"], 25, family=6)
    a = report.addresses[0]
    assert a.verdict is Verdict.UNKNOWN and a.command == "dns" and "deadline" not in (a.text or "")
    assert "mx.noaddr.in.test has no address" in report.summary
    assert not any(f.id == "mx-no-connection" for f in report.findings)  # no route was needed: none was tried


async def test_forced_family_without_fallback_when_a_host_answers(dns: FakeDNS) -> None:
    async with FakeSMTP(host="::1", banner="554 5.7.1 no service") as smtp:
        report = await run(dns, "dual.in.test", ["alice@dual.in.test"], smtp.port, family=6)
    assert [s.address for s in report.sessions] == ["::1"]
    assert not any(f.id == "family-fallback" for f in report.findings)


# ---------------------------------------------------------------- SOCKS5

@dataclass
class Socks5:
    """A tiny SOCKS5 server (RFC 1928/1929) on loopback: CONNECT only, optional user/password."""

    credentials: tuple[bytes, bytes] | None = None
    reply_code: int | None = None  # answer CONNECT with this failure instead of connecting
    targets: list[tuple[str, int]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _ver, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        wanted = 2 if self.credentials else 0
        if wanted not in methods:
            writer.write(b"\x05\xff")
            return
        writer.write(bytes([5, wanted]))
        if self.credentials:
            _v, ulen = await reader.readexactly(2)
            user = await reader.readexactly(ulen)
            (plen,) = await reader.readexactly(1)
            password = await reader.readexactly(plen)
            ok = (user, password) == self.credentials
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                return
        _v, _cmd, _rsv, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        elif atyp == 4:
            import ipaddress
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        self.targets.append((host, port))
        code = self.reply_code
        upstream = None
        if code is None:
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
            except OSError:
                code = 5
        writer.write(bytes([5, code or 0, 0, 1, 127, 0, 0, 1, 0, 0]))
        if upstream is None:
            return
        up_reader, up_writer = upstream

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        try:
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        finally:
            up_writer.close()


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None


needs_socks = pytest.mark.skipif("python_socks" not in sys.modules and
                                 __import__("importlib").util.find_spec("python_socks") is None,
                                 reason="python-socks is not installed (pip install 'smtp-probe[socks]')")


@needs_socks
async def test_a_probe_through_a_socks5_proxy(dns: FakeDNS) -> None:
    proxy = Socks5(credentials=(b"probe", b"s3cret"))
    async with start_raw_server(proxy.handle) as socks, FakeSMTP(rcpt_default=UNKNOWN) as smtp:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], smtp.port,
                           proxy=f"socks5://probe:s3cret@127.0.0.1:{socks.port}")
    assert proxy.targets == [("127.0.0.1", smtp.port)] and len(smtp.connections) == 1
    assert report.sessions[0].outcome == "completed"
    assert report.addresses[0].verdict is Verdict.UNDELIVERABLE


@needs_socks
@pytest.mark.parametrize(("proxy", "url_auth", "outcome", "says"), [
    (Socks5(reply_code=2), "", "unreachable", "proxy's rules do not allow"),
    (Socks5(), "", "refused", "mail server refused the proxy's connection"),  # nothing listens upstream
    (Socks5(credentials=(b"u", b"right")), "u:wrong@", "unreachable", "refused our user name and password"),
    (Socks5(credentials=(b"u", b"p")), "", "unreachable", "requires authentication"),
])
async def test_proxy_failures_say_who_failed(dns: FakeDNS, proxy: Socks5, url_auth: str, outcome: str,
                                             says: str) -> None:
    async with start_raw_server(hang_up) as closed:  # a port to aim at that then goes away
        dead_port = closed.port
    async with start_raw_server(proxy.handle) as socks:
        report = await run(dns, "plain.in.test", ["alice@plain.in.test"], dead_port,
                           proxy=f"socks5://{url_auth}127.0.0.1:{socks.port}")
    session = report.sessions[0]
    assert session.outcome == outcome and session.steps[0].text is not None
    assert session.error is not None and session.error.startswith("proxy-failed") and says in session.error
    assert report.addresses[0].verdict is Verdict.UNKNOWN


@needs_socks
async def test_an_unreachable_proxy_is_named(dns: FakeDNS) -> None:
    async with start_raw_server(hang_up) as closed:
        dead_port = closed.port
    report = await run(dns, "plain.in.test", ["alice@plain.in.test"], 25, proxy=f"socks5://127.0.0.1:{dead_port}")
    assert "cannot connect to the SOCKS proxy" in (report.sessions[0].error or "")


def test_proxy_without_python_socks_is_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "python_socks", None)  # import now fails
    with pytest.raises(Exception, match="optional dependency"):
        parse_proxy_url("socks5://127.0.0.1:1080")
    with pytest.raises(SystemExit) as exit_info:
        main(["example.test", "--proxy", "socks5://127.0.0.1:1080"])
    assert exit_info.value.code == 3
    assert capsys.readouterr().err.strip() == f"smtp-probe: {MISSING_DEPENDENCY}"


@pytest.mark.parametrize("addresses", [["alice@plain.in.test"], []])
async def test_a_mail_from_refused_then_a_hang_up_is_an_answer_not_an_unreachable_host(
        dns: FakeDNS, addresses: list[str]) -> None:
    """OpenSMTPD's builtin filter `phase mail-from match mail-from regex <myfroms> disconnect "550 invalid mail
    from"` (github:bsdsx/blog_posts 2021-05-08_opensmtpd.md; smtpd.conf(5) MAIL FILTERING: disconnect = reply and
    close) answers MAIL and hangs up before the RSET: the host answered and refused the sender, it is not
    unreachable (the reply stands as the answer for the address, or for postmaster@ in a domain-only probe)."""

    async def mx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.plain.in.test ESMTP OpenSMTPD\r\n")
        while line := await reader.readline():
            verb = line.split(b" ")[0].split(b":")[0].strip().upper()
            if verb == b"MAIL":
                writer.write(b"550 invalid mail from\r\n")
                await writer.drain()
                writer.close()
                return
            writer.write({b"EHLO": b"250 mx.plain.in.test Hello\r\n", b"RSET": b"250 2.0.0 Reset state\r\n",
                          b"QUIT": b"221 2.0.0 Bye\r\n"}.get(verb, b"500 5.5.1 Invalid command: Command unrecognized\r\n"))
            if verb == b"QUIT":
                return

    async with start_raw_server(mx) as raw:
        report = await run(dns, "plain.in.test", addresses, raw.port, mail_from="bob@plain.in.test")
    assert report.status is not DomainStatus.UNREACHABLE and report.reason is Reason.SENDER_REJECTED
    assert "no mail server gave a definitive answer" not in report.summary
    for a in report.addresses:
        assert (a.verdict, a.reason, a.code) == (Verdict.UNKNOWN, Reason.SENDER_REJECTED, 550)
