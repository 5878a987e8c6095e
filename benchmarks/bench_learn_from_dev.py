"""Benchmark: would learning words from the labelled development replies help replies it has not seen?

Run: python benchmarks/bench_learn_from_dev.py [--k 5]

tools/learn_words.py learns the learned tier's words (catalogue/learned.toml) from the catalogue's own texts only.
This asks what learning from the corpus would add, out of sample and on the development part only (sealed entries
are never read here): the same learning, from the catalogue's texts plus some development replies (each with its
label and its source as one voice), is installed in place of the package's learned words, and the replies left out
of the learning are classified with and without it.

- folds: the development part in k folds (bench_folds.fold_of); each fold is classified with words learned from the
  other k - 1.
- fresh: the development parts of the fresh batches (corpus files fresh-*, replies from sources nobody had read when
  they were collected) are classified with words learned from the rest of the development part: the nearest the
  development part comes to the sealed part's long tail.

It prints hits with the package's learned words and with the words learned from development replies too, for
each, and how many replies the learned tier decided.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tools", ROOT / "benchmarks"):
    sys.path.insert(0, str(path))

import learn_words  # noqa: E402
from bench_folds import fold_of  # noqa: E402

from probe.diagnosis.catalogue import Catalogue, default  # noqa: E402
from probe.diagnosis.catalogue.learnedwords import parse_learned  # noqa: E402
from probe.diagnosis.catalogue.parsing import NOT_FROM_WORDS  # noqa: E402
from probe.diagnosis.classifier import classify  # noqa: E402
from probe.testing.corpus import Labelled, load_corpus  # noqa: E402

_CODE_ONLY = {reason.value for reason in NOT_FROM_WORDS}  # labels words are never learned for


def learn_with(cat: Catalogue, extra: Sequence[Labelled]) -> int:
    """Install in `cat` the words learned from its own texts plus `extra`; the number of words learned."""
    own = learn_words.texts(cat)
    replies = [(e.text, e.expect, "source", f"corpus: {e.source}") for e in extra if e.expect not in _CODE_ONLY]
    table = parse_learned(learn_words.render(learn_words.learn_from(own + replies)))
    cat._parsed["learned.toml"] = table  # the catalogue's cache of parsed files: what classify() will use
    return len(table.words)


def score(entries: Sequence[Labelled]) -> tuple[int, int]:
    """(hits, replies the learned tier decided) over `entries`."""
    hits = learned = 0
    for e in entries:
        diagnosis = classify(e.text, e.context, host=e.host)
        hits += diagnosis.reason.value == e.expect
        learned += diagnosis.decided_by is not None and diagnosis.decided_by.by == "learned"
    return hits, learned


def compare(label: str, test: Sequence[Labelled], train: Sequence[Labelled], cat: Catalogue,
            out: Callable[[str], None]) -> tuple[int, int]:
    learn_with(cat, ())
    before, by_before = score(test)
    words = learn_with(cat, train)
    after, by_after = score(test)
    out(f"  {label:<34} {before:5d} -> {after:5d} of {len(test):5d}  ({after - before:+d}; learned tier decided "
        f"{by_before} -> {by_after}; {words} words)")
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    cat = default()
    dev = [e for e in load_corpus(ROOT / "fixtures" / "corpus") if not e.sealed]
    print("hits with the package's learned words -> with words learned from development replies too")
    total_before = total_after = 0
    for k in range(args.k):
        before, after = compare(f"fold {k} (learned from the others)", [e for e in dev if fold_of(e.id, args.k) == k],
                                [e for e in dev if fold_of(e.id, args.k) != k], cat, print)
        total_before += before
        total_after += after
    print(f"  {'all folds':<34} {total_before:5d} -> {total_after:5d} of {len(dev):5d}  "
          f"({total_after - total_before:+d})")
    fresh = [e for e in dev if e.file.startswith("fresh-")]
    compare("fresh batches' dev parts", fresh, [e for e in dev if not e.file.startswith("fresh-")], cat, print)
    learn_with(cat, ())


if __name__ == "__main__":
    main()
