"""`smtp-probe batch --broker` throughput with 1, 2 and 4 worker processes, against latency-bound servers.

    python benchmarks/bench_cluster.py                      # 1, 2, 4 workers, 4 units each at a time
    python benchmarks/bench_cluster.py --workers 1 2 4 8 --concurrency 4 --domains 64 --delay 0.3

Needs redis-server (Debian: apt-get install redis-server) and the cluster extra (pip install '.[cluster]').
Everything runs on loopback: a redis-server of its own (free port, no persistence), an in-process DNS
server, and one fake mail server per MX address (127.0.2.1, 127.0.2.2, ... on one port), each
answering its greeting after --delay seconds and QUIT after a third of it, as distant servers do
(latency-bound, not CPU-bound). Each domain has two lines (two addresses). Workers are real
`smtp-probe worker` processes, each probing --concurrency units at a time; the politeness limit is
one connection per MX address across the fleet (--per-host 1), shared through Redis. The time is the
client's wall time, workers already running; a local `smtp-probe batch` with the fleet's total
concurrency is measured too, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

MX_ADDRESSES = 16


def zone(domains: int) -> str:
    lines = ["$ORIGIN fleet.test.", "$TTL 3600", "@ SOA ns h 1 3600 600 86400 60"]
    lines += [f"mx{k} A 127.0.2.{k + 1}" for k in range(MX_ADDRESSES)]
    lines += [f"d{i} MX 10 mx{i % MX_ADDRESSES}" for i in range(domains)]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "",
                                "--appendonly", "no"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    for line in process.stdout:
        if b"Ready to accept connections" in line:
            return process, f"redis://127.0.0.1:{port}/0"
    raise SystemExit("redis-server did not start")


async def start_worker(url: str, concurrency: int, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as handle:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "probe", "worker", "--broker", url, "--concurrency", str(concurrency),
            "--loglevel", "warning", stdin=subprocess.DEVNULL, stdout=handle, stderr=handle)
    return process


async def wait_ready(url: str, count: int) -> None:
    """Until `count` workers consume the queue (Celery registers each consumer with Redis)."""
    import redis

    client = redis.Redis.from_url(url)
    async with asyncio.timeout(60):
        while True:
            bindings = client.smembers("_kombu.binding.smtp-probe")
            clients = [c for c in client.client_list() if c.get("cmd") in ("brpop", "blpop")]
            if bindings and len(clients) >= count:
                break
            await asyncio.sleep(0.1)
    client.close()


async def run_batch(args: list[str], targets: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "probe", "batch", targets, *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 600)
    return time.perf_counter() - started, len(out.splitlines()), err.decode().strip().splitlines()[-1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4, help="units a worker probes at a time")
    parser.add_argument("--domains", type=int, default=64)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before each greeting")
    options = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-cluster-")
    targets = Path(workdir) / "targets.txt"
    targets.write_text("".join(f"a@d{i}.fleet.test\nb@d{i}.fleet.test\n" for i in range(options.domains)))
    redis_server, url = start_redis(workdir)
    servers: list[FakeSMTP] = []
    try:
        async with FakeDNS({"fleet.test.": zone(options.domains)}) as dns:
            port = 0
            for k in range(MX_ADDRESSES):
                server = FakeSMTP(host=f"127.0.2.{k + 1}", port=port, banner_delay_s=options.delay,
                                  quit_delay_s=options.delay / 3)
                servers.append(await server.start())
                port = server.port
            common = ["--resolver", f"127.0.0.1:{dns.port}", "--port", str(port), "--no-tls-policies",
                      "--starttls", "never", "--helo", "probe.fleet.test", "--per-host", "1"]
            lines = 2 * options.domains
            print(f"{lines} lines over {options.domains} domains on {MX_ADDRESSES} MX addresses; greeting after "
                  f"{options.delay:g} s, 221 after {options.delay / 3:.2g} s; each worker {options.concurrency} "
                  f"units at a time; one connection per MX address fleet-wide", flush=True)
            for count in options.workers:
                workers = [await start_worker(url, options.concurrency, Path(workdir) / f"w{count}-{i}.log")
                           for i in range(count)]
                try:
                    await wait_ready(url, count + 0)
                    total = count * options.concurrency
                    wall, written, summary = await run_batch(
                        ["--broker", url, "--concurrency", str(max(total * 2, 8)), *common], str(targets))
                    assert written == lines, summary
                    print(f"{count} worker{'s' if count > 1 else ' '} ({total:2d} units at a time): {wall:5.1f} s, "
                          f"{lines / wall:5.1f} lines/s, {options.domains / wall:5.1f} domains/s", flush=True)
                finally:
                    for worker in workers:
                        worker.terminate()
                    for worker in workers:
                        await worker.wait()
            total = max(options.workers) * options.concurrency
            wall, written, _ = await run_batch(["--concurrency", str(total), *common], str(targets))
            print(f"local batch --concurrency {total}: {wall:5.1f} s, {lines / wall:5.1f} lines/s", flush=True)
    finally:
        for server in servers:
            await server.stop()
        redis_server.terminate()
        redis_server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("SMTP_PROBE_HELO", "probe.fleet.test")
    asyncio.run(main())
