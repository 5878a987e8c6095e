"""Benchmark: classification accuracy on the labelled corpus, development part and sealed part.

Run: python benchmarks/bench_accuracy.py [--misses dev|sealed|all] [--by reason,source,context]

The split is fixed by each entry's id (probe.testing.corpus.is_sealed). Tune rules and the lexicon on the
development part only: `--misses dev` lists what to look at; `--misses sealed` is for the final report, not for
tuning. "sealed, new" counts only the sealed entries added after the split (no rule was tuned on them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe.testing.corpus import Labelled, Score, load_corpus, score

CORPUS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"


def _ours(e: Labelled) -> str:
    import probe

    return probe.classify(e.text, e.context, host=e.host).reason.value


def _table(title: str, parts: dict[str, Score], attr: str) -> None:
    keys = sorted({k for s in parts.values() for k in getattr(s, attr).totals})
    names = list(parts)
    print(f"\n{title:<28}" + "".join(f"{n:>18}" for n in names))
    for k in keys:
        cells = []
        for n in names:
            tally = getattr(parts[n], attr)
            t = tally.totals[k]
            cells.append(f"{tally.accuracy(k) * 100:6.1f}% of {t:<5}" if t else f"{'-':>12}      ")
        print(f"  {k:<26}" + "".join(f"{c:>18}" for c in cells))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", choices=["none", "dev", "sealed", "all"], default="none")
    ap.add_argument("--by", default="reason,source,context", help="tables to print: reason,source,context")
    args = ap.parse_args()

    corpus = load_corpus(CORPUS_DIR)
    parts = {
        "dev": score([e for e in corpus if not e.sealed], _ours),
        "sealed": score([e for e in corpus if e.sealed], _ours),
        "sealed, new": score([e for e in corpus if e.sealed and not e.before_split], _ours),
    }
    print(f"corpus: {len(corpus)} replies, {len({e.file for e in corpus})} source families")
    for name, s in parts.items():
        print(f"  {name:<12} {s.accuracy * 100:6.2f}%  ({s.hits} of {s.total})")
    gap = (parts["dev"].accuracy - parts["sealed"].accuracy) * 100
    print(f"  dev - sealed: {gap:+.2f} points")
    tables = {"reason": "by_reason", "source": "by_source", "context": "by_context"}
    for name in [b.strip() for b in args.by.split(",") if b.strip()]:
        if name in tables:
            _table(f"accuracy by {name}", parts, tables[name])
    if args.misses != "none":
        wanted = ["dev", "sealed"] if args.misses == "all" else [args.misses]
        for name in wanted:
            print(f"\nmisses, {name}:")
            for e, got in parts[name].misses:
                print(f"  {e.id} [{e.context}] expected {e.expect}, got {got}: {e.text[:140]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
