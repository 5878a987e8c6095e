"""Batch mode on loopback: the issue-13 mix against one run per line, throughput, and memory at 100k targets.

    python benchmarks/bench_batch.py                 # all measurements
    python benchmarks/bench_batch.py --lines 240 --per-line-sample 48 --memory-targets 100000
    python benchmarks/bench_batch.py --memory-only --compare-cache   # bounded vs unbounded DNS cache

The mix: 240 lines over 8 domains (about 30 lines a domain, addresses repeated across lines, a few
domain-only lines), shuffled, every MX offering STARTTLS and PIPELINING; the MX of one domain waits
0.2 s before its 221 to QUIT. `smtp-probe batch` (default options, VRFY and catch-all included) runs
it once; `smtp-probe` runs a sample of its lines one process each, and the mean is scaled to all.

The memory run probes 100k targets over 100k DISTINCT null-MX domains (one DNS answer each, no
SMTP), so anything kept per domain - the resolver's answer cache above all - shows up in the peak.

Everything runs on 127.0.0.1: an in-process DNS server and fake mail servers. Each
`d<i>.bench.test` domain has its own MX host name (all on 127.0.0.1), so the per-host
politeness limit (one connection per MX host) does not serialise the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe.dns import resolve
from probe.judge.health import finish_report
from probe.model import ProbeOptions
from probe.run.batch import run_batch
from probe.testing.certs import TestCA
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

HOSTS = 50
ROOT = str(Path(__file__).resolve().parents[1])
MIX_DOMAINS = 8
SLOW_QUIT_S = 0.2  # the slow host waits this long before its 221 (issue 13: Exim's wait before 221)


def zone(domains: int) -> str:
    lines = ["$ORIGIN bench.test.", "$TTL 3600", "@ SOA ns h 1 3600 600 86400 60", "nullmx MX 0 ."]
    lines += [f"mx{h} A 127.0.0.1" for h in range(HOSTS)]
    lines += [f"d{i} MX 10 mx{i % HOSTS}" for i in range(domains)]
    lines += ["slow A 127.0.0.2"]
    lines += [f"m{i} MX 10 {'slow' if i == 0 else f'mx{i}'}" for i in range(MIX_DOMAINS)]
    return "\n".join(lines) + "\n"


def mix_lines(count: int) -> list[str]:
    """`count` lines over MIX_DOMAINS domains (m0 is the slow-QUIT host's), shuffled so that domains
    interleave: mostly one address a line, addresses repeated across lines, now and then a domain alone
    or two addresses on one line."""
    chooser = random.Random(13)
    lines = []
    for i in range(count):
        domain = f"m{i % MIX_DOMAINS}.bench.test"
        kind = chooser.random()
        if kind < 0.1:
            lines.append(domain)
        elif kind < 0.2:
            lines.append(f"{domain} u{chooser.randrange(8)}@{domain} u{chooser.randrange(8)}@{domain}")
        else:
            lines.append(f"u{chooser.randrange(8)}@{domain}")
    chooser.shuffle(lines)
    return lines


async def mix_servers(stack: contextlib.AsyncExitStack, tls: ssl.SSLContext) -> tuple[int, FakeSMTP]:
    """A fast server on 127.0.0.1 and the slow-QUIT one on 127.0.0.2, on the same port (MX use one port)."""
    for _ in range(20):
        fast = await stack.enter_async_context(FakeSMTP(tls_context=tls, pipelining=True, rcpt_default="250 2.1.5 Ok"))
        try:
            slow = await stack.enter_async_context(FakeSMTP(host="127.0.0.2", port=fast.port, tls_context=tls,
                                                            pipelining=True, quit_delay_s=SLOW_QUIT_S,
                                                            rcpt_default="250 2.1.5 Ok"))
        except OSError:
            continue  # that port is taken on 127.0.0.2: try another
        return fast.port, slow
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")


def cli(port: int, dns_port: int) -> list[str]:
    return ["--port", str(port), "--resolver", f"127.0.0.1:{dns_port}", "--no-tls-policies", "--helo", "bench.test",
            "--timeout", "5"]


async def mix(count: int, sample: int, concurrency: int) -> None:
    """The issue-13 mix through the CLI: one `smtp-probe batch` run against one `smtp-probe` run per line."""
    lines = mix_lines(count)
    with tempfile.TemporaryDirectory() as tmp:
        ca = TestCA(Path(tmp))
        tls = ca.server_context(ca.issue([f"mx{i}.bench.test" for i in range(MIX_DOMAINS)] + ["slow.bench.test"]))
        async with contextlib.AsyncExitStack() as stack:
            dns = await stack.enter_async_context(FakeDNS({"bench.test.": zone(0)}))
            port, slow = await mix_servers(stack, tls)
            targets = Path(tmp) / "targets.txt"
            targets.write_text("\n".join(lines) + "\n")
            start = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "probe", "batch", str(targets), "--concurrency", str(concurrency),
                *cli(port, dns.port), stdout=subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT)
            out, _ = await proc.communicate()
            batch_s = time.perf_counter() - start
            results = [json.loads(line) for line in out.decode().splitlines()]
            assert [r["line"] for r in results] == list(range(1, count + 1)), "results out of order or missing"
            sessions = len(slow.connections)
            print(f"batch: {count} lines over {MIX_DOMAINS} domains in {batch_s:.2f} s "
                  f"({sessions} session(s) at the slow-QUIT host for its {count // MIX_DOMAINS} lines)")
            picked = lines[:: max(1, count // sample)][:sample]
            start = time.perf_counter()
            for line in picked:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "probe", *line.split(), "--json", *cli(port, dns.port),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT)
                await proc.wait()
            per_line_s = (time.perf_counter() - start) / len(picked)
    print(f"one run per line: {per_line_s * 1000:.0f} ms a line (mean of {len(picked)} lines, every "
          f"{max(1, count // sample)}th), {per_line_s * count:.1f} s for all {count}")
    print(f"speed-up: {per_line_s * count / batch_s:.1f}x")


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


MEMORY_CHILD = """
import asyncio, resource, sys
import dns.resolver
sys.path.insert(0, {root!r})
from probe.dns import resolve
from probe.run.batch import run_batch
from probe.judge.health import finish_report
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
    parser.add_argument("--lines", type=int, default=240, help="lines of the mix over 8 domains")
    parser.add_argument("--per-line-sample", type=int, default=48,
                        help="lines of the mix run one process each (the mean is scaled to all lines)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--memory-targets", type=int, default=100_000)
    parser.add_argument("--compare-cache", action="store_true",
                        help="also measure with the unbounded dns.resolver.Cache used before")
    parser.add_argument("--memory-only", action="store_true", help="skip the throughput measurements")
    args = parser.parse_args()

    if not args.memory_only:
        asyncio.run(mix(args.lines, args.per_line_sample, args.concurrency))
        batch_s = asyncio.run(in_process(args.targets, args.concurrency))
        print(f"batch, in one process: {args.targets} targets over {args.targets} domains in {batch_s:.2f} s = "
              f"{args.targets / batch_s:.0f} targets/s (concurrency {args.concurrency})")
    small = max(1000, args.memory_targets // 100)
    for n, cache in ((small, "lru"), (args.memory_targets, "lru"), (args.memory_targets, "unbounded")):
        if cache == "unbounded" and not args.compare_cache:
            continue
        rss, seconds = asyncio.run(peak_rss_kib(n, cache))
        print(f"memory: {n} targets over {n} distinct domains, {cache} DNS cache -> peak RSS "
              f"{rss / 1024:.1f} MiB ({seconds:.1f} s, {n / seconds:.0f} targets/s)")


if __name__ == "__main__":
    main()
