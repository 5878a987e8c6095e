"""Benchmark: classification throughput (replies/s, one core) and `explain` start-up time.

Run: .venv/bin/python benchmarks/bench_classify.py [--seconds 2] [--runs 15]
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
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for text, ctx, host in replies:
            classify(text, ctx, host=host)
        count += len(replies)
    return count / (time.perf_counter() - start)


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


def startup(code: str, runs: int) -> float:
    """Median wall time in ms of a fresh interpreter running `code` (caches warm after the first run)."""
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=_WARM_ENV)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=_WARM_ENV)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    rate, count = throughput(args.seconds)
    print(f"classify: {rate:,.0f} replies/s on one core ({count} replies, {len(MIXED)}-reply mix)")
    corpus_rate, distinct = corpus_throughput(args.seconds)
    print(f"classify: {corpus_rate:,.0f} replies/s on one core over the corpus ({distinct} distinct replies)")
    baseline = startup("pass", args.runs)
    explain_code = ("import probe.explain as e, probe.render.explain as r;"
                    "print(r.render_entry(e.entry('252'), color=False))")
    explain_ms = startup(explain_code, args.runs)
    line_ms = startup("import probe.explain as e; e.entry('550 5.1.1 user unknown', 'RCPT')", args.runs)
    print(f"python -c pass:                          {baseline:6.1f} ms (median of {args.runs})")
    print(f"explain 252 (import + entry + render):   {explain_ms:6.1f} ms")
    print(f"explain '550 5.1.1 ...' (all rules):     {line_ms:6.1f} ms")
    try:
        cli_ms = startup("import sys; sys.argv = ['smtp-probe', 'explain', '252'];"
                         "from probe.cli import main; main()", args.runs)
        print(f"smtp-probe explain 252 (CLI):            {cli_ms:6.1f} ms")
    except subprocess.CalledProcessError:
        print("smtp-probe explain 252 (CLI):            not available yet")


if __name__ == "__main__":
    main()
