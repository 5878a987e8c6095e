"""Benchmark: how long the real probe takes, and how much memory it peaks at, against each hostile server.

Run: .venv/bin/python benchmarks/bench_hostile.py [--timeout 2] [--deadline 5]

Loopback only. Each line: the case, the session outcome, the reason of the step that ended it,
the wall time and the tracemalloc peak (probe and fake server together, one process).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tracemalloc
from typing import Any

from probe.dns.resolve import make_resolver
from probe.inputs import parse_target
from probe.model import Context, ProbeOptions
from probe.run.probe import probe_domain
from probe.testing.fakedns import FakeDNS
from probe.testing.hostile import HTTP_400, Behaviour, HostileServer

CASES: list[tuple[str, Behaviour, dict[str, Any]]] = [
    ("drip 1 byte / 10 ms", Behaviour.DRIP, {"interval_s": 0.01}),
    ("drip too slow", Behaviour.DRIP, {"interval_s": 0.1}),
    ("100 KB line, no end", Behaviour.LONG_LINE, {}),
    ("endless multi-line EHLO", Behaviour.ENDLESS_MULTILINE, {}),
    ("binary garbage", Behaviour.GARBAGE, {}),
    ("HTTP server (silent)", Behaviour.HTTP, {}),
    ("HTTP answer as banner", Behaviour.GARBAGE, {"reply": HTTP_400}),
    ("SSH server", Behaviour.SSH, {}),
    ("reset mid-reply", Behaviour.RESET_MID_REPLY, {}),
    ("STARTTLS hang", Behaviour.STARTTLS_HANG, {}),
    ("unsolicited 421", Behaviour.UNSOLICITED_421, {}),
    ("mixed codes at RCPT", Behaviour.MIXED_CODES, {}),
    ("bad code in banner", Behaviour.BAD_CODES, {}),
    ("greeting delayed 1.5 s", Behaviour.SLOW_GREETING, {"delay_s": 1.5}),
    ("EHLO with 20000 lines", Behaviour.HUGE_EHLO, {}),
]


async def run_case(behaviour: Behaviour, server_options: dict[str, Any], resolver: Any,
                   timeout_s: float, deadline_s: float) -> tuple[str, str, float, int]:
    target = parse_target("user@example.test")
    async with HostileServer(behaviour, **server_options) as srv:
        options = ProbeOptions(mx=(("127.0.0.1", srv.port),), timeout_s=timeout_s, deadline_s=deadline_s,
                               helo="probe.test")
        tracemalloc.start()
        started = time.monotonic()
        report = await probe_domain(target.domain, target.addresses, options, resolver=resolver)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    session = report.sessions[0]
    steps = [s for s in session.steps if s.context is not Context.QUIT]
    return session.outcome, str(steps[-1].reason) if steps else "-", elapsed, peak


async def main(timeout_s: float, deadline_s: float) -> None:
    async with FakeDNS({}) as dns_server:
        resolver = make_resolver([dns_server.address], timeout_s=0.5)
        print(f"{'case':<26} {'outcome':<15} {'reason':<16} {'time':>7} {'peak':>9}")
        slowest = ("", 0.0)
        for name, behaviour, server_options in CASES:
            outcome, reason, elapsed, peak = await run_case(behaviour, server_options, resolver, timeout_s,
                                                            deadline_s)
            slowest = max(slowest, (name, elapsed), key=lambda item: item[1])
            print(f"{name:<26} {outcome:<15} {reason:<16} {elapsed:>6.2f}s {peak / 1024:>7.0f}KB")
        print(f"slowest: {slowest[0]} ({slowest[1]:.2f} s; timeout {timeout_s:g} s, deadline {deadline_s:g} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--deadline", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(main(args.timeout, args.deadline))
