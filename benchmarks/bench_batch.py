"""Batch mode on loopback: throughput versus one process per target, and memory at 100k targets.

    python benchmarks/bench_batch.py                 # both measurements
    python benchmarks/bench_batch.py --targets 200 --memory-targets 100000
    python benchmarks/bench_batch.py --memory-only --compare-cache   # bounded vs unbounded DNS cache

The memory run probes 100k targets over 100k DISTINCT null-MX domains (one DNS answer each, no
SMTP), so anything kept per domain - the resolver's answer cache above all - shows up in the peak.

Everything runs on 127.0.0.1: an in-process DNS server and fake mail servers. Each
`d<i>.bench.test` domain has its own MX host name (all on 127.0.0.1), so the per-host
politeness limit (one connection per MX host) does not serialise the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe import resolve
from probe.batch import run_batch
from probe.health import finish_report
from probe.model import ProbeOptions
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

HOSTS = 50
ROOT = str(Path(__file__).resolve().parents[1])


def zone(domains: int) -> str:
    lines = ["$ORIGIN bench.test.", "$TTL 3600", "@ SOA ns h 1 3600 600 86400 60", "nullmx MX 0 ."]
    lines += [f"mx{h} A 127.0.0.1" for h in range(HOSTS)]
    lines += [f"d{i} MX 10 mx{i % HOSTS}" for i in range(domains)]
    return "\n".join(lines) + "\n"


def options(port: int, dns_port: int) -> ProbeOptions:
    return ProbeOptions(helo="bench.test", port=port, timeout_s=5, deadline_s=30, tls_policies=False,
                        resolvers=(("127.0.0.1", dns_port),), starttls="never")


async def in_process(targets: int, concurrency: int) -> float:
    async with FakeDNS({"bench.test.": zone(targets)}) as dns, FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        lines = [f"user{i}@d{i}.bench.test" for i in range(targets)]
        resolver = resolve.make_resolver([("127.0.0.1", dns.port)], timeout_s=5)
        count = 0

        def emit(_: dict[str, object]) -> None:
            nonlocal count
            count += 1

        start = time.perf_counter()
        await run_batch(lines, options(smtp.port, dns.port), emit, finish=lambda r: finish_report(r, []),
                        concurrency=concurrency, resolver=resolver)
        elapsed = time.perf_counter() - start
        assert count == targets
        return elapsed


async def per_process(targets: int) -> float:
    async with FakeDNS({"bench.test.": zone(targets)}) as dns, FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        start = time.perf_counter()
        for i in range(targets):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "probe", f"user{i}@d{i}.bench.test", "--json", "--port", str(smtp.port),
                "--resolver", f"127.0.0.1:{dns.port}", "--no-tls-policies", "--starttls", "never",
                "--helo", "bench.test", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await proc.wait()
        return time.perf_counter() - start


MEMORY_CHILD = """
import asyncio, resource, sys
import dns.resolver
sys.path.insert(0, {root!r})
from probe import resolve
from probe.batch import run_batch
from probe.health import finish_report
from probe.model import ProbeOptions
from probe.render.json import dumps

def targets(n):
    for i in range(n):
        yield f"user{{i}}@d{{i}}.bench.test\\n"  # one distinct null-MX domain per target

async def main(n, port, cache):
    resolver = resolve.make_resolver([("127.0.0.1", port)], timeout_s=5)
    if cache == "unbounded":  # what make_resolver used before: every answer kept for its TTL
        resolver.cache = dns.resolver.Cache()
    opts = ProbeOptions(helo="bench.test", tls_policies=False, resolvers=(("127.0.0.1", port),))
    with open("/dev/null", "w") as out:
        await run_batch(targets(n), opts, lambda r: out.write(dumps(r, indent=None) + "\\n"),
                        finish=lambda r: finish_report(r, []), concurrency=50, resolver=resolver)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""


def null_mx_zone(domains: int) -> str:
    """`domains` distinct null-MX domains (FakeDNS has no wildcards, so the zone lists them all)."""
    lines = ["$ORIGIN bench.test.", "$TTL 3600", "@ SOA ns h 1 3600 600 86400 60"]
    lines += [f"d{i} MX 0 ." for i in range(domains)]
    return "\n".join(lines) + "\n"


async def peak_rss_kib(targets: int, cache: str = "lru") -> tuple[int, float]:
    """Peak RSS of a child process running a batch of `targets` targets over as many distinct domains.

    The DNS server runs here, in the parent, so the child's figure is the probe's alone.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(MEMORY_CHILD.format(root=ROOT))
    try:
        async with FakeDNS({"bench.test.": null_mx_zone(targets)}) as dns:
            start = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(sys.executable, handle.name, str(targets), str(dns.port),
                                                        cache, stdout=subprocess.PIPE)
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"memory child failed with exit status {proc.returncode}")
            return int(out.decode().strip().splitlines()[-1]), time.perf_counter() - start
    finally:
        os.unlink(handle.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--per-process-targets", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--memory-targets", type=int, default=100_000)
    parser.add_argument("--compare-cache", action="store_true",
                        help="also measure with the unbounded dns.resolver.Cache used before")
    parser.add_argument("--memory-only", action="store_true", help="skip the throughput measurements")
    args = parser.parse_args()

    if not args.memory_only:
        batch_s = asyncio.run(in_process(args.targets, args.concurrency))
        print(f"batch, in one process: {args.targets} targets in {batch_s:.2f} s = "
              f"{args.targets / batch_s:.0f} targets/s (concurrency {args.concurrency})")
        proc_s = asyncio.run(per_process(args.per_process_targets))
        print(f"one process per target: {args.per_process_targets} targets in {proc_s:.2f} s = "
              f"{args.per_process_targets / proc_s:.1f} targets/s")
        print(f"speed-up: {(args.targets / batch_s) / (args.per_process_targets / proc_s):.0f}x")
    small = max(1000, args.memory_targets // 100)
    for n, cache in ((small, "lru"), (args.memory_targets, "lru"), (args.memory_targets, "unbounded")):
        if cache == "unbounded" and not args.compare_cache:
            continue
        rss, seconds = asyncio.run(peak_rss_kib(n, cache))
        print(f"memory: {n} targets over {n} distinct domains, {cache} DNS cache -> peak RSS "
              f"{rss / 1024:.1f} MiB ({seconds:.1f} s, {n / seconds:.0f} targets/s)")


if __name__ == "__main__":
    main()
