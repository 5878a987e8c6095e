"""Benchmark: does a change help the development part beyond the replies it was written for?

Run: python benchmarks/bench_folds.py --before REF [--k 5]

The development part (never the sealed one: its entries are not even classified here) is cut into k folds by
another slice of each id's hash than the sealed split uses. Each fold's accuracy is printed for the engine of
git commit REF and for the working tree. A change written while looking at the misses of some folds should
also lift (or at least not lower) the folds it was not written from; a change that only lifts the folds holding
the replies it was fitted to is memorisation, and the sealed part will not follow it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_classify

from probe.testing.corpus import load_corpus


def fold_of(entry_id: str, k: int) -> int:
    """The fold of a development entry: digits 9-16 of the id's sha256 (the sealed split uses digits 1-8)."""
    return int(hashlib.sha256(entry_id.encode("utf-8")).hexdigest()[8:16], 16) % k


def per_fold(reasons: list[str], k: int) -> list[tuple[int, int]]:
    """(hits, total) per fold of the development part, `reasons` in corpus order (sealed entries skipped)."""
    entries = load_corpus(bench_classify._ROOT / "fixtures" / "corpus")
    if len(entries) != len(reasons):
        raise SystemExit("the corpus and the diagnoses differ in length")
    tally = [[0, 0] for _ in range(k)]
    for entry, reason in zip(entries, reasons, strict=True):
        if entry.sealed:
            continue
        fold = tally[fold_of(entry.id, k)]
        fold[0] += reason == entry.expect
        fold[1] += 1
    return [(hits, total) for hits, total in tally]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--before", required=True, metavar="REF", help="the git commit to compare with")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    before = per_fold([d["reason"] for d in json.loads(bench_classify.at_commit(args.before, "diagnoses"))], args.k)
    after = per_fold([str(d["reason"]) for d in json.loads(json.dumps(bench_classify.corpus_diagnoses()))], args.k)
    print(f"development part in {args.k} folds: accuracy at {args.before} -> working tree")
    for i, ((h0, n), (h1, _)) in enumerate(zip(before, after, strict=True)):
        print(f"  fold {i}  {h0 / n:7.2%} -> {h1 / n:7.2%}  ({h1 - h0:+d} of {n})")


if __name__ == "__main__":
    main()
