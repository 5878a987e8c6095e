"""Benchmark: how many network round trips one probe costs. Loopback only; never sends DATA.

The probe (runner.probe_domain, the real SMTP client) talks to a loopback fake server that
offers STARTTLS and PIPELINING, once directly and once through a small TCP proxy that holds
every chunk for DELAY seconds in each direction. Each round trip then costs 2 x DELAY more,
so (time via proxy - time direct) / (2 x DELAY) is the number of round trips the dialogue
waits for: STARTTLS + EHLO + VRFY + MAIL + RCPT + the catch-all RCPT for one address. The
greeting counts a half (it travels one way); a real network adds one more for TCP's handshake.
A domain-only probe (MAIL + RCPT TO:<postmaster@DOMAIN>) is measured with and without that RCPT.

Then the same probe against servers whose certificate is self-signed, expired or for another
name: one handshake, the chain judged afterwards, so the same round trips as a trusted one. With
--reconnect the probe is also measured as it was before (verifying handshake, then an unverified
reconnect to collect the certificate), as on a Python that cannot read the chain.

swaks (`--quit-after RCPT`, STARTTLS, no VRFY, no catch-all) is measured the same way when it
is installed, for comparison.

    .venv/bin/python benchmarks/bench_roundtrips.py [--delay 0.05] [--runs 3] [--reconnect]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from probe.inputs import parse_address
from probe.model import ProbeOptions
from probe.run.probe import probe_domain
from probe.smtp import starttls
from probe.testing.certs import IssuedCert, TestCA, self_signed
from probe.testing.fakesmtp import DelayProxy, FakeSMTP
from probe.tls.certificates import client_context

ADDRESS = "alice@bench.test"


async def best_of(runs: int, once: Callable[[], Awaitable[Any]]) -> float:
    """The fastest of `runs` timed calls (the least disturbed by scheduling noise), in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await once()
        times.append(time.perf_counter() - started)
    return min(times)


async def measure(label: str, runs: int, delay_s: float, server_port: int,
                  probe_at: Callable[[int], Awaitable[Any]]) -> float:
    proxy = await DelayProxy(server_port, delay_s).start()
    try:
        direct = await best_of(runs, lambda: probe_at(server_port))
        delayed = await best_of(runs, lambda: probe_at(proxy.port))
    finally:
        await proxy.stop()
    trips = (delayed - direct) / (2 * delay_s)
    print(f"{label:<44} {trips:5.1f} round trips  (direct {direct * 1000:6.1f} ms, "
          f"via proxy {delayed * 1000:7.1f} ms)")
    return trips


def probe(pipelining: bool, factory: Callable[[bool], ssl.SSLContext],
          connections: Callable[[], int], *, domain_only: bool = False,
          postmaster: bool = True) -> Callable[[int], Awaitable[Any]]:
    async def at(port: int) -> None:
        options = ProbeOptions(helo="probe.bench.test", mx=(("127.0.0.1", port),), port=port,
                               timeout_s=5.0, deadline_s=30.0, tls_policies=False, pipelining=pipelining,
                               postmaster=postmaster)
        before = connections()
        addresses = [] if domain_only else [parse_address(ADDRESS)]
        report = await probe_domain("bench.test", addresses, options, tls_context_factory=factory)
        assert report.sessions[-1].outcome == "completed", report.sessions[-1].error
        assert report.sessions[-1].tls and report.sessions[-1].tls["certificate"], "no certificate seen"
        at.connections = connections() - before  # type: ignore[attr-defined]
    return at


async def certificate_cases(ca: TestCA, delay_s: float, runs: int, factory: Callable[[bool], ssl.SSLContext],
                            reconnect: bool) -> None:
    cases: dict[str, IssuedCert] = {
        "trusted": ca.issue(["mx.bench.test"]),
        "self-signed": self_signed(["mx.bench.test"]),
        "expired": ca.issue(["mx.bench.test"], expired=True),
        "wrong name": ca.issue(["other.bench.test"]),
    }
    ways = [("one handshake", True)] + ([("reconnect (before)", False)] if reconnect else [])
    for label, cert in cases.items():
        async with FakeSMTP(pipelining=True, tls_context=ca.server_context(cert), hostname="mx.bench.test",
                            rcpt={ADDRESS: "250 2.1.5 OK"}, rcpt_default="550 5.1.1 User unknown") as smtp:
            for way, readable in ways:
                saved = starttls.chain_readable
                if not readable:  # as on a Python that cannot give the chain
                    starttls.chain_readable = _never  # type: ignore[assignment]
                try:
                    at = probe(True, factory, lambda: len(smtp.connections))
                    await measure(f"certificate {label}, {way}", runs, delay_s, smtp.port, at)
                finally:
                    starttls.chain_readable = saved  # type: ignore[assignment]
                print(f"{'':<44} {at.connections} connection(s) per probe")  # type: ignore[attr-defined]


def _never() -> bool:
    return False


async def main(delay_s: float, runs: int, reconnect: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ca = TestCA(Path(tmp))
        server_tls = ca.server_context(ca.issue(["mx.bench.test"]))

        def trusting(verify: bool) -> ssl.SSLContext:
            return client_context(verify=verify, cafile=str(ca.bundle_path))

        async with FakeSMTP(pipelining=True, tls_context=server_tls, hostname="mx.bench.test",
                            rcpt={ADDRESS: "250 2.1.5 OK"},
                            rcpt_default="550 5.1.1 <x>: Recipient address rejected: User unknown") as smtp:
            count = lambda: len(smtp.connections)  # noqa: E731
            print(f"one address, STARTTLS + EHLO + VRFY + MAIL + RCPT + catch-all RCPT; "
                  f"{delay_s * 1000:g} ms each way, best of {runs}")
            print("(the greeting counts 0.5; a TLS session ends at the 221 to QUIT, without waiting for close_notify)")
            await measure("smtp-probe (PIPELINING)", runs, delay_s, smtp.port, probe(True, trusting, count))
            await measure("smtp-probe --no-pipelining", runs, delay_s, smtp.port, probe(False, trusting, count))
            # a domain-only probe: STARTTLS + EHLO + MAIL + RCPT TO:<postmaster@bench.test>, no VRFY or catch-all
            await measure("domain only (MAIL + postmaster RCPT)", runs, delay_s, smtp.port,
                          probe(True, trusting, count, domain_only=True))
            await measure("domain only, --no-postmaster", runs, delay_s, smtp.port,
                          probe(True, trusting, count, domain_only=True, postmaster=False))
            await measure("domain only, postmaster, --no-pipelining", runs, delay_s, smtp.port,
                          probe(False, trusting, count, domain_only=True))
            await measure("domain only, --no-postmaster --no-pipelining", runs, delay_s, smtp.port,
                          probe(False, trusting, count, domain_only=True, postmaster=False))
            await certificate_cases(ca, delay_s, runs, trusting, reconnect)
            swaks = shutil.which("swaks")
            if swaks is None:
                print("swaks: not installed, skipped (apt-get install swaks to compare)")
                return

            async def run_swaks(port: int, pipeline: bool) -> None:
                args = [swaks, "--server", f"127.0.0.1:{port}", "--to", ADDRESS, "--from", "",
                        "--helo", "probe.bench.test", "--tls", "--quit-after", "RCPT", "--silent", "3",
                        "--timeout", "10"] + (["--pipeline"] if pipeline else [])
                process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                               stderr=asyncio.subprocess.DEVNULL)
                await asyncio.wait_for(process.wait(), 30)

            await measure("swaks --tls --quit-after RCPT (no VRFY)", runs, delay_s, smtp.port,
                          lambda port: run_swaks(port, False))
            await measure("swaks --tls --pipeline --quit-after RCPT", runs, delay_s, smtp.port,
                          lambda port: run_swaks(port, True))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added each way (default 0.05)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the fastest counts")
    parser.add_argument("--reconnect", action="store_true",
                        help="also measure the certificate cases the way it was done before (verify, reconnect)")
    arguments = parser.parse_args()
    asyncio.run(main(max(arguments.delay, 0.001), max(arguments.runs, 1), arguments.reconnect))
