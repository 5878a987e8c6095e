"""Benchmark: classification throughput (replies/s, one core) and `explain` start-up time.

Run: .venv/bin/python benchmarks/bench_classify.py [--seconds 2] [--runs 15]

Both are measured in CPU time (this process's for throughput, the child's user+system time for start-up), so a
machine busy with other work does not skew them; the wall-clock start-up is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

MIXED = [
    ("250 2.1.5 Ok", "RCPT", None),
    ("250-mx.example.net\n250-PIPELINING\n250-SIZE 10240000\n250-STARTTLS\n250 8BITMIME", "EHLO", None),
    ("220 mx.example.net ESMTP Postfix", "banner", None),
    ("252 2.0.0 Cannot VRFY user; try RCPT to attempt delivery", "VRFY", None),
    ("550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
     "RCPT", None),
    ("550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
     "550-5.1.1 double-checking the recipient's email address for typos or\n"
     "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser gsmtp", "RCPT",
     "aspmx.l.google.com"),
    ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "RCPT",
     "example-com.mail.protection.outlook.com"),
    ("450 4.2.0 <a@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/", "RCPT",
     None),
    ("554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org", "RCPT", None),
    ("421 4.7.0 mx.example.net Error: too many connections from 192.0.2.7", "banner", None),
    ("502 5.5.1 VRFY command is disabled", "VRFY", None),
    ("530 5.7.0 Must issue a STARTTLS command first", "MAIL", None),
    ("452 4.2.2 The email account that you tried to reach is over quota.", "RCPT", None),
    ("221 2.0.0 Bye", "QUIT", None),
    ("550 5.9.9 something unregistered", "RCPT", None),
    ("garbage that is not SMTP", "banner", None),
]


def _rate(replies: list[tuple[str, str | None, str | None]], seconds: float) -> float:
    """Replies classified per second, looping over `replies` for about `seconds` (one core)."""
    from probe.classifier import classify

    for text, ctx, host in replies:  # warm the lazy catalogue and the per-code rule index
        classify(text, ctx, host=host)
    count = 0
    start = time.process_time()  # CPU time of this process: one core, whatever else the machine runs
    deadline = start + seconds
    while time.process_time() < deadline:
        for text, ctx, host in replies:
            classify(text, ctx, host=host)
        count += len(replies)
    return count / (time.process_time() - start)


def throughput(seconds: float) -> tuple[float, int]:
    rate = _rate(list(MIXED), seconds)
    return rate, int(rate * seconds)


def corpus_throughput(seconds: float) -> tuple[float, int]:
    """Replies/s over the labelled corpus (fixtures/corpus, distinct real replies, one pass each)."""
    import tomllib
    from pathlib import Path

    replies = []
    for path in sorted((Path(__file__).resolve().parents[1] / "fixtures" / "corpus").glob("*.toml")):
        with path.open("rb") as fh:
            replies += [(r["text"], r["context"], r.get("host")) for r in tomllib.load(fh).get("reply", [])]
    return _rate(replies, seconds), len(replies)


# "Warm" means what an installed copy sees: bytecode cached (pip compiles it at install time).
# Some shells set PYTHONDONTWRITEBYTECODE, which makes every run recompile the package (~40 ms).
_WARM_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def startup(code: str, runs: int) -> tuple[float, float]:
    """(median CPU ms, median wall ms) of a fresh interpreter running `code` (caches warm after the first run)."""
    import resource

    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=_WARM_ENV)
    cpu, wall = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=_WARM_ENV)
        wall.append((time.perf_counter() - t) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    rate, count = throughput(args.seconds)
    print(f"classify: {rate:,.0f} replies/s on one core ({count} replies, {len(MIXED)}-reply mix)")
    corpus_rate, distinct = corpus_throughput(args.seconds)
    print(f"classify: {corpus_rate:,.0f} replies/s on one core over the corpus ({distinct} distinct replies)")
    print(f"start-up, median of {args.runs} fresh interpreters:   CPU ms   wall ms")
    explain_code = ("import probe.explain as e, probe.render.explain as r;"
                    "print(r.render_entry(e.entry('252'), color=False))")
    cases = [
        ("python -c pass", "pass"),
        ("explain 252 (import + entry + render)", explain_code),
        ("explain '550 5.1.1 ...' (rules, lexicon)",
         "import probe.explain as e; e.entry('550 5.1.1 user unknown', 'RCPT')"),
        ("smtp-probe explain 252 (CLI)", "import sys; sys.argv = ['smtp-probe', 'explain', '252'];"
                                         "from probe.cli import main; main()"),
    ]
    for label, code in cases:
        try:
            cpu, wall = startup(code, args.runs)
            print(f"  {label:<44} {cpu:7.1f}  {wall:8.1f}")
        except subprocess.CalledProcessError:
            print(f"  {label:<44} not available")


if __name__ == "__main__":
    main()
