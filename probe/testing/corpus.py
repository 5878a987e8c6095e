"""The labelled corpus of real replies (fixtures/corpus/*.toml): loading, the sealed split, scoring.

Shared by tests/unit/test_corpus.py and benchmarks/bench_accuracy.py. Pure: reads the files it is given.

Each `[[reply]]` table: `id` (unique), `text`, `context`, optional `host`, `expect` (the reason a person reading
the reply should get), `misleading` (the codes alone would give another reason), `source` (the citation: a URL,
or `github:owner/repo/path`), optional `before_split = true` for the entries that existed (and that rules were
tuned on) before the split was made, optional `note`.

The split is fixed by each entry's id, never by hand: an entry is *sealed* when the first 8 hex digits of
sha256(id), as an integer, modulo 100 are below 30 (about 30 %). Rules and the lexicon are tuned on the
development part only; the sealed part measures how the catalogue does on replies it was not tuned on.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

SEALED_PERCENT = 30
FIELDS = {"id", "text", "context", "host", "expect", "misleading", "source", "before_split", "note"}


def is_sealed(entry_id: str) -> bool:
    """True when the entry belongs to the sealed test part (fixed by its id)."""
    return int(hashlib.sha256(entry_id.encode("utf-8")).hexdigest()[:8], 16) % 100 < SEALED_PERCENT


@dataclass(frozen=True)
class Labelled:
    """One corpus entry: a real reply, where it was seen, and the reason a reader should get."""

    id: str
    file: str  # the source family: the corpus file's stem
    text: str
    context: str
    host: str | None
    expect: str
    misleading: bool
    source: str
    before_split: bool = False

    @property
    def sealed(self) -> bool:
        return is_sealed(self.id)

    @property
    def part(self) -> str:
        return "sealed" if self.sealed else "dev"


def load_corpus(directory: Path) -> list[Labelled]:
    """Every entry of every *.toml file under `directory` (file-name order, then file order)."""
    entries: list[Labelled] = []
    for path in sorted(directory.rglob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        for i, raw in enumerate(data.get("reply", [])):
            extra = sorted(set(raw) - FIELDS)
            if extra:
                raise ValueError(f"{path.name} reply[{i}]: unknown field(s) {', '.join(extra)}")
            entries.append(Labelled(
                id=str(raw.get("id", "")), file=path.stem, text=raw["text"], context=raw["context"],
                host=raw.get("host"), expect=raw["expect"], misleading=bool(raw["misleading"]),
                source=raw.get("source", ""), before_split=bool(raw.get("before_split", False)),
            ))
    return entries


@dataclass
class Tally:
    """Hits and totals under one key (a reason, a source family, a context)."""

    hits: Counter[str] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)

    def add(self, key: str, hit: bool) -> None:
        self.totals[key] += 1
        self.hits[key] += hit

    def accuracy(self, key: str) -> float:
        return self.hits[key] / self.totals[key] if self.totals[key] else 0.0


@dataclass
class Score:
    """Accuracy of a classifier over some entries, overall and per reason, source family and context."""

    total: int = 0
    hits: int = 0
    by_reason: Tally = field(default_factory=Tally)
    by_source: Tally = field(default_factory=Tally)
    by_context: Tally = field(default_factory=Tally)
    misses: list[tuple[Labelled, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.hits / self.total if self.total else 0.0


def score(entries: Iterable[Labelled], classify: Callable[[Labelled], str]) -> Score:
    """Score `classify` (entry -> reason value) over `entries`."""
    result = Score()
    for e in entries:
        got = classify(e)
        hit = got == e.expect
        result.total += 1
        result.hits += hit
        result.by_reason.add(e.expect, hit)
        result.by_source.add(e.file, hit)
        result.by_context.add(e.context.lower(), hit)
        if not hit:
            result.misses.append((e, got))
    return result
