"""Start-up: one probe of a local server by `smtp-probe`, against swaks --tls on the same server.

A fake mail server (probe.testing.fakesmtp: STARTTLS with a test CA's certificate, PIPELINING) runs
on 127.0.0.1 in this process. Each tool runs as a new process, as a person or a monitoring system
runs it, `--runs` times in turn with the others; CPU time (user + system) counts, its minimum and median,
since other work on the machine changes it least; wall time is shown beside it. Start-up, imports
and the whole dialogue:

    smtp-probe  ADDRESS --mx 127.0.0.1:PORT --no-tls-policies --json  (EHLO, STARTTLS, EHLO, VRFY, MAIL,
                RCPT, catch-all RCPT, RSET, QUIT; and the MX address's PTR, from a loopback DNS server)
    swaks --server 127.0.0.1:PORT --tls --to ADDRESS --quit-after RCPT  (EHLO, STARTTLS, EHLO, MAIL, RCPT)

and `smtp-probe --version` and `smtp-probe explain 550`, which never touch the network.

    .venv/bin/python benchmarks/bench_startup.py [--runs 15] [--source /path/to/another/checkout]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from probe.testing.certs import TestCA
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

ADDRESS = "alice@bench.test"


async def timed(args: list[str], env: dict[str, str], cwd: str | None = None) -> tuple[float, float]:
    """(wall, CPU) milliseconds of one run of `args` (a failed run stops the benchmark)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode not in (0, 1):  # 1: a warning (e.g. the test CA is not in the system store)
        raise RuntimeError(f"{' '.join(args)} exited {process.returncode}: {err.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


async def main(runs: int, source: str | None) -> None:
    # warm, as an installed copy runs: bytecode written (some shells set PYTHONDONTWRITEBYTECODE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": source} if source else {})  # and run there: `-m` puts the working directory first
    probe = [sys.executable, "-m", "probe"]
    with tempfile.TemporaryDirectory() as tmp:
        ca = TestCA(Path(tmp))
        tls = ca.server_context(ca.issue(["mx.bench.test", "127.0.0.1"]))
        reverse = "$ORIGIN 127.in-addr.arpa.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\n1.0.0 PTR mx.bench.test.\n"
        async with FakeDNS({"127.in-addr.arpa.": reverse}) as dns, \
                FakeSMTP(tls_context=tls, pipelining=True, hostname="mx.bench.test",
                         rcpt_default="250 2.1.5 Ok") as server:
            commands = {
                "smtp-probe --version": [*probe, "--version"],
                "smtp-probe explain 550": [*probe, "explain", "550"],
                "smtp-probe ADDRESS (STARTTLS, local)": [
                    *probe, ADDRESS, "--mx", f"127.0.0.1:{server.port}", "--no-tls-policies",
                    "--resolver", f"127.0.0.1:{dns.port}", "--json", "--helo", "probe.bench.test"],
            }
            swaks = shutil.which("swaks")
            if swaks is not None:
                commands["swaks --tls --quit-after RCPT (local)"] = [
                    swaks, "--server", f"127.0.0.1:{server.port}", "--tls", "--to", ADDRESS, "--from", "",
                    "--helo", "probe.bench.test", "--quit-after", "RCPT", "--silent", "3"]
            for args in commands.values():  # bytecode written once, as an installed copy has it
                await timed(args, env, source)
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
            for _ in range(runs):  # round robin, so that the machine's load falls on every command alike
                for name, args in commands.items():
                    results[name].append(await timed(args, env, source))
    print(f"{runs} runs each, round robin, each a new process ({source or 'this checkout'}); "
          "CPU = user + system time of the process (what a loaded machine changes least)")
    for name, r in results.items():
        cpu = [c for _, c in r]
        print(f"{name:<40} CPU min {min(cpu):6.1f} median {statistics.median(cpu):6.1f} ms"
              f"   wall median {statistics.median(w for w, _ in r):7.1f} ms")
    if swaks is None:
        print("swaks: not installed (apt-get install swaks), no comparison")
        return
    ours = [c for _, c in results["smtp-probe ADDRESS (STARTTLS, local)"]]
    theirs = [c for _, c in results["swaks --tls --quit-after RCPT (local)"]]
    print(f"smtp-probe / swaks, CPU: {statistics.median(ours) / statistics.median(theirs):.2f}x of the medians, "
          f"{min(ours) / min(theirs):.2f}x of the minimums "
          f"(round by round: median {statistics.median(o / t for o, t in zip(ours, theirs, strict=True)):.2f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command")
    parser.add_argument("--source", metavar="DIR", help="run the probe from this checkout (e.g. an older one)")
    arguments = parser.parse_args()
    asyncio.run(main(max(1, arguments.runs), arguments.source))
