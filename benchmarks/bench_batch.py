"""Batch mode on loopback: throughput versus one process per target, and memory at 100k targets.

    python benchmarks/bench_batch.py                 # both measurements
    python benchmarks/bench_batch.py --targets 200 --memory-targets 100000

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
from probe.cli import finish_report
from probe.model import ProbeOptions
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

HOSTS = 50


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
sys.path.insert(0, {root!r})
from probe import resolve
from probe.batch import run_batch
from probe.cli import finish_report
from probe.model import ProbeOptions
from probe.render.json import dumps
from probe.testing.fakedns import FakeDNS

ZONE = "$ORIGIN bench.test.\\n@ SOA ns h 1 3600 600 86400 60\\nnullmx MX 0 .\\n"

def targets(n):
    for i in range(n):
        yield f"user{{i}}@nullmx.bench.test\\n"

async def main(n):
    async with FakeDNS({{"bench.test.": ZONE}}) as dns:
        resolver = resolve.make_resolver([("127.0.0.1", dns.port)], timeout_s=5)
        opts = ProbeOptions(helo="bench.test", tls_policies=False, resolvers=(("127.0.0.1", dns.port),))
        with open("/dev/null", "w") as out:
            await run_batch(targets(n), opts, lambda r: out.write(dumps(r, indent=None) + "\\n"),
                            finish=lambda r: finish_report(r, []), concurrency=50, resolver=resolver)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

asyncio.run(main(int(sys.argv[1])))
"""


def peak_rss_kib(targets: int) -> tuple[int, float]:
    root = str(Path(__file__).resolve().parents[1])
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(MEMORY_CHILD.format(root=root))
    try:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, handle.name, str(targets)], capture_output=True, text=True,
                             check=True, timeout=1800)
        return int(out.stdout.strip().splitlines()[-1]), time.perf_counter() - start
    finally:
        os.unlink(handle.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--per-process-targets", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--memory-targets", type=int, default=100_000)
    args = parser.parse_args()

    batch_s = asyncio.run(in_process(args.targets, args.concurrency))
    print(f"batch, in one process: {args.targets} targets in {batch_s:.2f} s = "
          f"{args.targets / batch_s:.0f} targets/s (concurrency {args.concurrency})")
    proc_s = asyncio.run(per_process(args.per_process_targets))
    print(f"one process per target: {args.per_process_targets} targets in {proc_s:.2f} s = "
          f"{args.per_process_targets / proc_s:.1f} targets/s")
    print(f"speed-up: {(args.targets / batch_s) / (args.per_process_targets / proc_s):.0f}x")
    small = max(1000, args.memory_targets // 100)
    for n in (small, args.memory_targets):
        rss, seconds = peak_rss_kib(n)
        print(f"memory: {n} targets -> peak RSS {rss / 1024:.1f} MiB ({seconds:.1f} s, {n / seconds:.0f} targets/s)")


if __name__ == "__main__":
    main()
