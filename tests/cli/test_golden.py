"""The words a user reads (issue 12): text reports of real situations, rendered at 80 columns and compared
exactly with tests/cli/golden/*.txt.

Each scenario runs the real probe (resolver, SMTP client, classification, advice, health) against the
loopback fakes; only what changes from run to run is normalised before comparing: elapsed times and the
ephemeral ports. After a deliberate change of wording or layout, regenerate the files with

    UPDATE_GOLDEN=1 python -m pytest tests/cli/test_golden.py

and read the diff before committing: every sentence in them is a promise to the user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from probe.dns import resolve
from probe.inputs import parse_address
from probe.judge.health import finish_report
from probe.model import ProbeOptions, Report
from probe.render.text import render_self_check, render_text
from probe.run.probe import probe_domain
from probe.run.selfaudit import self_check
from probe.testing.certs import TestCA
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP, RcptRequest
from probe.tls.certificates import client_context

GOLDEN = Path(__file__).parent / "golden"
WIDTH = 80
ZONE = """$ORIGIN w.test.
$TTL 300
@          SOA ns.w.test. hostmaster.w.test. 1 3600 600 86400 300
@          NS  ns
ns         A   127.0.0.1
real       MX  10 mx.real
mx.real    A   127.0.0.1
catchall   MX  10 mx.catchall
mx.catchall A  127.0.0.1
grey       MX  10 mx.grey
mx.grey    A   127.0.0.1
tls        MX  10 mx.tls
mx.tls     A   127.0.0.1
silent     MX  10 mx1.silent
silent     MX  20 mx2.silent
mx1.silent A   127.0.0.2
mx2.silent A   127.0.0.1
noaddr     MX  10 ghost.noaddr
noaddr     MX  20 mx.noaddr
mx.noaddr  A   127.0.0.1
mx.other   A   127.0.0.1
"""
# Postfix's wording (github:vdukhovni/postfix src/smtpd/smtpd_check.c, "Recipient address rejected: User unknown
# in local recipient table"; "Relay access denied"), postgrey's greylisting reply (its default message).
UNKNOWN = "550 5.1.1 <nobody@w.test>: Recipient address rejected: User unknown in local recipient table"
GREYLISTED = ("450 4.2.0 <bob@grey.w.test>: Recipient address rejected: Greylisted, see "
              "http://postgrey.schweikert.ch/help/grey.w.test.html")
RELAY = "554 5.7.1 <alice@real.w.test>: Relay access denied"


def normalised(text: str, *ports: int) -> str:
    """Timings and ephemeral ports vary between runs; everything else must not."""
    text = re.sub(r"\b\d+(\.\d+)? (ms|s)\b", lambda m: f"N {m.group(2)}", text)
    for port in ports:
        text = re.sub(rf"(?<=[:\s_]){port}\b", "PORT", text)
    return text


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, f"lines wider than {WIDTH} columns: {too_wide}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 once, then read it"
    assert text == path.read_text(encoding="utf-8")


Probe = Callable[..., Awaitable[tuple[Report, str]]]


@pytest.fixture
async def dns() -> Any:
    async with FakeDNS({"w.test.": ZONE}, servfail=["servfail.w.test"]) as server:
        yield server


@pytest.fixture
def run(dns: FakeDNS, tmp_path: Path) -> Probe:
    ca = TestCA(tmp_path)

    async def probe(domain: str, addresses: list[str], port: int, **options: Any) -> tuple[Report, str]:
        resolver = resolve.make_resolver([(dns.host, dns.port)], timeout_s=2.0)
        opts = ProbeOptions(**{"helo": "probe.w.test", "port": port, "timeout_s": 1.0, "deadline_s": 20.0,
                               "resolvers": ((dns.host, dns.port),), **options})
        report = await probe_domain(domain, [parse_address(a) for a in addresses], opts, resolver=resolver,
                                    tls_context_factory=lambda verify: client_context(verify=verify))
        health = finish_report(report, [], starttls_required=opts.starttls == "require")
        return report, normalised(render_text(report, health=health, width=WIDTH), port, dns.port)

    probe.ca = ca  # type: ignore[attr-defined]
    return probe


async def test_golden_deliverable_and_unknown_on_a_checked_domain(run: Probe) -> None:
    async with FakeSMTP(hostname="mx.real.w.test", banner="220 mx.real.w.test ESMTP Postfix", pipelining=True,
                        rcpt={"alice@real.w.test": "250 2.1.5 Ok"}, rcpt_default=UNKNOWN) as smtp:
        _report, text = await run("real.w.test", ["alice@real.w.test", "nobody@real.w.test"], smtp.port)
    check_golden("deliverable-and-unknown", text)


async def test_golden_a_refusal_that_names_no_cause(run: Probe) -> None:
    """RFC 5321's bare '554 Transaction failed' to RCPT (Hotmail's reply in github:sisimai/set-of-emails
    maildir/bsd/lhost-postfix-47.eml): the address is refused (undeliverable, CRITICAL), but the report must not
    say the mailbox does not exist, and it says where to find the cause."""
    async with FakeSMTP(hostname="mx.real.w.test", banner="220 mx.real.w.test ESMTP Postfix",
                        rcpt={"carol@real.w.test": "554 Transaction failed"}, rcpt_default=UNKNOWN) as smtp:
        report, text = await run("real.w.test", ["carol@real.w.test"], smtp.port)
    check_golden("refusal-naming-no-cause", text)
    (carol,) = report.addresses
    assert (carol.verdict.value, carol.reason.value) == ("undeliverable", "unknown")
    words = " ".join(text.split())
    assert "does not exist" not in words and "postmaster" in words


async def test_golden_catch_all(run: Probe) -> None:
    async with FakeSMTP(hostname="mx.catchall.w.test", banner="220 mx.catchall.w.test ESMTP Postfix",
                        rcpt_default="250 2.1.5 Ok", vrfy_default="502 5.5.1 VRFY command is disabled") as smtp:
        # from another loopback address than the server's: from its own, a random address accepted may be a relay
        # for the server's own host, not a catch-all (tests/integration/test_intelligence.py)
        report, text = await run("catchall.w.test", ["alice@catchall.w.test", "zed@catchall.w.test"], smtp.port,
                                 source_ip="127.0.0.2")
    check_golden("catch-all", text)
    # a fact of the domain is said once, not under each address nor per address in the summary
    words = " ".join(text.split())  # as read, across wrapped lines
    assert words.count("accepts any address (catch-all)") == 1
    assert words.count("is a catch-all domain") == 1 and "catch-all domain)" not in words
    assert [a.catch_all for a in report.addresses] == [True, True]  # JSON keeps the per-address field


async def test_golden_greylisting_retried(run: Probe) -> None:
    def policy(request: RcptRequest) -> str | None:
        return GREYLISTED if request.connection == 0 and request.address == "bob@grey.w.test" else None

    async with FakeSMTP(hostname="mx.grey.w.test", banner="220 mx.grey.w.test ESMTP Postfix", rcpt_policy=policy,
                        rcpt={"bob@grey.w.test": "250 2.1.5 Ok"}, rcpt_default=UNKNOWN) as smtp:
        _report, text = await run("grey.w.test", ["bob@grey.w.test"], smtp.port, retry_greylist_s=0.2)
    check_golden("greylisting-retried", text)


async def test_golden_banner_timeout_then_backup(run: Probe) -> None:
    import asyncio

    stop = asyncio.Event()
    handlers: list[asyncio.Task[Any]] = []

    async def greet_never(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        current = asyncio.current_task()
        if current is not None:
            handlers.append(current)
        await stop.wait()  # accepts the connection, never greets
        writer.close()
        await writer.wait_closed()

    async with FakeSMTP(hostname="mx2.silent.w.test", banner="220 mx2.silent.w.test ESMTP Exim 4.97",
                        rcpt={"dave@silent.w.test": "250 Accepted"}, rcpt_default="550 Unrouteable address") as smtp:
        server = await asyncio.start_server(greet_never, "127.0.0.2", smtp.port)
        try:
            _report, text = await run("silent.w.test", ["dave@silent.w.test"], smtp.port, timeout_s=0.3)
        finally:
            stop.set()
            await asyncio.gather(*handlers, return_exceptions=True)
            server.close()
            await server.wait_closed()
    check_golden("banner-timeout-then-backup", text)
    assert "cannot connect" not in text


async def test_golden_mx_without_address(run: Probe) -> None:
    async with FakeSMTP(hostname="mx.noaddr.w.test", banner="220 mx.noaddr.w.test ESMTP Postfix") as smtp:
        _report, text = await run("noaddr.w.test", [], smtp.port, source_ip="127.0.0.2")  # not from the server's own address (there the random address is asked too: probe-on-server-host)
    check_golden("mx-without-address", text)
    assert "unreachable" not in text and "not tried" in text


async def test_golden_starttls_require_untrusted(run: Probe) -> None:
    ca: TestCA = run.ca  # type: ignore[attr-defined]
    async with FakeSMTP(hostname="mx.tls.w.test", banner="220 mx.tls.w.test ESMTP Postfix",
                        tls_context=ca.server_context(ca.issue(["mx.tls.w.test"]))) as smtp:
        _report, text = await run("tls.w.test", ["alice@tls.w.test"], smtp.port, starttls="require")
    check_golden("starttls-require-untrusted", text)
    assert "220" not in text, "the STARTTLS 220 is not why TLS failed"


async def test_golden_starttls_never(run: Probe) -> None:
    ca: TestCA = run.ca  # type: ignore[attr-defined]
    async with FakeSMTP(hostname="mx.tls.w.test", banner="220 mx.tls.w.test ESMTP Postfix",
                        tls_context=ca.server_context(ca.issue(["mx.tls.w.test"]))) as smtp:
        _report, text = await run("tls.w.test", [], smtp.port, starttls="never", source_ip="127.0.0.2")
    check_golden("starttls-never", text)


async def test_golden_relay_denied_under_mx(run: Probe) -> None:
    async with FakeSMTP(hostname="mx.other.w.test", banner="220 mx.other.w.test ESMTP Postfix",
                        rcpt_default=RELAY) as smtp:
        _report, text = await run("real.w.test", ["alice@real.w.test"], smtp.port,
                                  mx=(("mx.other.w.test", smtp.port),))
    check_golden("relay-denied-under-mx", text)
    assert "If you are probing" not in text


async def test_golden_dns_servfail(run: Probe) -> None:
    _report, text = await run("servfail.w.test", ["a@servfail.w.test"], 25)
    check_golden("dns-servfail", text)


async def test_golden_self_check_with_a_refusing_resolver(dns: FakeDNS) -> None:
    resolver = resolve.make_resolver([(dns.host, dns.port)], timeout_s=1.0)
    audit = await self_check(resolver, source_ip="192.0.2.1", helo="localhost", timeout_s=1.0)
    text = normalised(render_self_check(audit.to_dict(), audit.findings(), width=WIDTH), dns.port)
    check_golden("self-check-refused", text)
    assert text.count("not checked") == 2, "one line for the PTR, one for every blocklist"
    assert "none" not in text and "--helo localhost" not in text
