"""Benchmark: classification throughput (replies/s, one core) and `explain` start-up time.

Run: .venv/bin/python benchmarks/bench_classify.py [--seconds 2] [--runs 15] [--reference REF] [--same-as REF]
                                                  [--engine-only]

Both are measured in CPU time (this process's for throughput, the child's user+system time for start-up), so a
machine busy with other work does not skew them; the wall-clock start-up is printed beside it.

--reference REF also measures the engine of git commit REF (its probe/ package and catalogue, checked out into
a temporary directory) on the same corpus in the same run, and prints the ratio: a busy machine slows both alike.
--same-as REF asserts that the corpus gets the very same diagnoses (every field, decided_by included) from the
working tree as from REF: for speed work that must not change behaviour. Exit 1 when any differs.
--engine-only: REF gives only its Python code; the catalogue data (every .toml of probe/diagnosis/catalogue) is this
tree's, so that both figures and the comparison are of two engines on the same rules, lexicon and corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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
    from probe.diagnosis.classifier import classify

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


_ROOT = Path(__file__).resolve().parents[1]


def corpus_replies() -> list[tuple[str, str | None, str | None]]:
    """(text, context, host) of every labelled corpus reply (fixtures/corpus), in file and entry order."""
    import tomllib

    replies = []
    for path in sorted((_ROOT / "fixtures" / "corpus").glob("*.toml")):
        with path.open("rb") as fh:
            replies += [(r["text"], r["context"], r.get("host")) for r in tomllib.load(fh).get("reply", [])]
    return replies


def corpus_throughput(seconds: float) -> tuple[float, int]:
    """Replies/s over the labelled corpus (fixtures/corpus, distinct real replies, one pass each)."""
    replies = corpus_replies()
    return _rate(replies, seconds), len(replies)


def corpus_diagnoses() -> list[dict[str, object]]:
    """Every corpus reply's Diagnosis as a plain dict (the engine this interpreter imports)."""
    from probe.diagnosis.classifier import classify

    return [classify(text, ctx, host=host).to_dict() for text, ctx, host in corpus_replies()]


_CATALOGUE = Path("probe") / "diagnosis" / "catalogue"


def _extract(ref: str, tmp: str, engine_only: bool) -> None:
    """The probe package of git commit `ref` into `tmp`; `engine_only`: with this tree's catalogue data."""
    archive = subprocess.run(["git", "-C", str(_ROOT), "archive", ref, "probe"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
    if engine_only:
        import shutil

        for old in (Path(tmp) / _CATALOGUE).rglob("*.toml"):
            old.unlink()
        for data in (_ROOT / _CATALOGUE).rglob("*.toml"):
            target = Path(tmp) / data.relative_to(_ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data, target)


def _at_commit(tmp: str, job: str, seconds: float) -> str:
    """Run `job` ('rate' or 'diagnoses') with the probe package extracted into `tmp` on this tree's corpus, in a
    fresh interpreter; its stdout (JSON)."""
    code = (f"import json, sys; sys.path.insert(0, {tmp!r}); sys.path.insert(1, {str(_ROOT / 'benchmarks')!r});"
            "import bench_classify as b;"
            + ("print(json.dumps(b.corpus_diagnoses()))" if job == "diagnoses"
               else f"print(json.dumps(b.corpus_throughput({seconds})[0]))"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, cwd=tmp)
    return done.stdout


@contextlib.contextmanager
def checkout(ref: str, engine_only: bool = False) -> Iterator[str]:
    """A temporary directory holding the probe package of git commit `ref` (see _extract)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        _extract(ref, tmp, engine_only)
        yield tmp


def at_commit(ref: str, job: str, seconds: float = 2.0, engine_only: bool = False) -> str:
    with checkout(ref, engine_only) as tmp:
        return _at_commit(tmp, job, seconds)


def same_as(ref: str, engine_only: bool = False) -> int:
    """How many corpus replies get a different Diagnosis here than at commit `ref` (printing the first few)."""
    import json

    theirs = json.loads(at_commit(ref, "diagnoses", engine_only=engine_only))
    ours = json.loads(json.dumps(corpus_diagnoses()))
    differ = [(a, b) for a, b in zip(ours, theirs, strict=True) if a != b]
    for a, b in differ[:5]:
        print(f"  differs: {a['text'][:70]!r}: {a['reason']} {a['decided_by']} / at {ref}: {b['reason']} "
              f"{b['decided_by']}")
    return len(differ)


# "Warm" means what an installed copy sees: bytecode cached (pip compiles it at install time).
# Some shells set PYTHONDONTWRITEBYTECODE, which makes every run recompile the package (~40 ms).
_WARM_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def startup(code: str, runs: int, trees: tuple[str | None, ...] = (None,)) -> list[tuple[float, float]]:
    """(median CPU ms, median wall ms) of a fresh interpreter running `code` (caches warm after the first run),
    for each tree: None is this one, a directory one that holds another probe package (run in turns, so that
    a change in the machine's load touches all alike)."""
    import resource

    envs = [_WARM_ENV if tree is None else {**_WARM_ENV, "PYTHONPATH": tree} for tree in trees]
    for tree, env in zip(trees, envs, strict=True):
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env, cwd=tree)
    cpu: list[list[float]] = [[] for _ in trees]
    wall: list[list[float]] = [[] for _ in trees]
    for _ in range(runs):
        for i, (tree, env) in enumerate(zip(trees, envs, strict=True)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env, cwd=tree)
            wall[i].append((time.perf_counter() - t) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[i].append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return [(statistics.median(c), statistics.median(w)) for c, w in zip(cpu, wall, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--reference", metavar="REF", help="also time the engine of this git commit (e.g. bb130bc)")
    parser.add_argument("--same-as", metavar="REF", help="assert the corpus diagnoses equal those of this commit")
    parser.add_argument("--engine-only", action="store_true",
                        help="REF's code with this tree's catalogue data (compare engines on the same data)")
    args = parser.parse_args()
    if args.same_as:
        differ = same_as(args.same_as, args.engine_only)
        print(f"diagnoses of the corpus: {differ} differ from {args.same_as}")
        if differ:
            sys.exit(1)
    rate, count = throughput(args.seconds)
    print(f"classify: {rate:,.0f} replies/s on one core ({count} replies, {len(MIXED)}-reply mix)")
    corpus_rate, distinct = corpus_throughput(args.seconds)
    print(f"classify: {corpus_rate:,.0f} replies/s on one core over the corpus ({distinct} distinct replies)")
    with contextlib.ExitStack() as stack:
        reference = stack.enter_context(checkout(args.reference, args.engine_only)) if args.reference else None
        if reference is not None:
            import json

            ref_rate = json.loads(_at_commit(reference, "rate", args.seconds))
            data = ", this tree's catalogue" if args.engine_only else ""
            print(f"classify at {args.reference}{data}: {ref_rate:,.0f} replies/s over the same corpus, same run; "
                  f"ratio {corpus_rate / ref_rate:.2f}")
        print_startup(args.runs, reference, args.reference)


def print_startup(runs: int, reference: str | None, ref: str | None) -> None:
    """Start-up of `explain` here (and in the `reference` checkout of commit `ref`, in turns)."""
    trees = (None,) if reference is None else (None, reference)
    column = f"   at {ref[:10]}: CPU ms" if ref else ""
    print(f"start-up, median of {runs} fresh interpreters:   CPU ms   wall ms{column}")
    explain_code = ("import probe.diagnosis.explain as e, probe.render.explain as r;"
                    "print(r.render_entry(e.entry('252'), color=False))")
    cases = [
        ("python -c pass", "pass"),
        ("explain 252 (import + entry + render)", explain_code),
        ("explain '550 5.1.1 ...' (rules, lexicon)",
         "import probe.diagnosis.explain as e; e.entry('550 5.1.1 user unknown', 'RCPT')"),
        ("smtp-probe explain 252 (CLI)", "import sys; sys.argv = ['smtp-probe', 'explain', '252'];"
                                         "from probe.cli.main import main; main()"),
    ]
    for label, code in cases:
        try:
            (cpu, wall), *others = startup(code, runs, trees)
            then = "".join(f"  {other_cpu:19.1f}" for other_cpu, _ in others)
            print(f"  {label:<44} {cpu:7.1f}  {wall:8.1f}{then}")
        except subprocess.CalledProcessError:
            print(f"  {label:<44} not available")


if __name__ == "__main__":
    main()
