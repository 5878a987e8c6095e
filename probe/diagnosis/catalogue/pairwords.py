"""Data layer: the general pair layer's words and cells (catalogue/pairs/*.toml): their entry types and validating
parser. Pure; no I/O beyond tomllib on given text.

pairs/cells.toml: which reason a subject kind (what a reply refuses: the client, the sender, a line ...) and a
predicate kind (what it says about it: blocked, unknown, too long ...) give together, per command where that
changes it; pairs/<language>.toml: the words of each kind in one language. probe.diagnosis.pairs reads them.

A module of its own, imported only when a reply reaches the pair tier: `explain 252` and the replies the rules
decide need not pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from probe.diagnosis.catalogue.entries import by_constructor
from probe.diagnosis.catalogue.parsing import (
    NOT_FROM_WORDS,
    Place,
    array_of_tables,
    parse,
    plain_lower,
    scoring_numbers,
)
from probe.diagnosis.catalogue.prefilter import WORDS
from probe.model import Context, Reason

ROLES = ("subject", "predicate")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A token: one CJK character (those scripts put no space between words), or a run of other letters and digits,
# with inner hyphens and apostrophes ('e-mail', "doesn't", "l'adresse")
TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['-][^\W_{_CJK}]+)*")
_KIND = re.compile(r"^[a-z]+(?:_[a-z]+)*$")


def tokens(text: str) -> tuple[str, ...]:
    """The tokens of a lower-case text, as pair words are matched (TOKEN)."""
    return tuple(TOKEN.findall(text))


@dataclass(frozen=True, slots=True)
class PairWord:
    """A subject or predicate word of one language (pairs/<language>.toml)."""

    text: str  # as written: lower-case, one or more tokens
    role: str  # "subject" or "predicate"
    kind: str  # the subject kind ('recipient') or predicate kind ('unknown')
    tokens: tuple[str, ...]
    language: str

    __reduce__ = by_constructor


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of pairs/cells.toml: a subject kind and a predicate kind, and the reason they give together."""

    subject: str
    predicate: str
    reason: Reason
    why: str  # where the distinction comes from (README distinctions, SPEC, RFC 3463)
    contexts: Mapping[Context, Reason] = field(default_factory=dict)  # the command changes the reason
    silent: frozenset[Context] = frozenset()  # in reply to these commands the pair says nothing
    # the other reasons the same words are used for: where the codes alone say one of them, the pair reads it so
    readings: frozenset[Reason] = frozenset()

    __reduce__ = by_constructor

    def reason_for(self, ctx: Context | None) -> Reason | None:
        """The reason in reply to `ctx`; None when the cell is silent there."""
        if ctx is None:
            return self.reason
        return None if ctx in self.silent else self.contexts.get(ctx, self.reason)

    def read(self, ctx: Context | None, coded: Reason | None) -> Reason | None:
        """The reason in reply to `ctx` when the codes alone say `coded`: a command of `contexts` or `silent`
        decides, then a reading the codes name, then the cell's reason."""
        if ctx is not None and (ctx in self.silent or ctx in self.contexts):
            return self.reason_for(ctx)
        return coded if coded is not None and coded in self.readings else self.reason


@dataclass(frozen=True, slots=True)
class PairTable:
    """The pair layer's data, indexed for matching."""

    words: tuple[PairWord, ...]
    by_first: Mapping[str, tuple[PairWord, ...]]  # first token -> the words starting with it, longest first
    subject_keys: Mapping[str, frozenset[str]]  # the first [a-z0-9] run of each ASCII subject word -> its kinds: a
    # prefilter on text_words
    predicate_keys: Mapping[str, frozenset[str]]  # the same for the predicates
    subject_key_set: frozenset[str]  # the keys of subject_keys, for a set intersection with text_words
    predicate_key_set: frozenset[str]
    negations: tuple[tuple[str, ...], ...]  # token runs that, just before a predicate, turn it around
    negation_ends: frozenset[str]  # their last tokens
    partners: Mapping[str, frozenset[str]]  # subject kind -> the predicate kinds it fills a cell with
    cells: Mapping[tuple[str, str], Cell]
    window: int  # at most this many tokens between a subject and its predicate
    weight: float  # what a pair adds to its reason
    threshold: float
    wrappers: Mapping[str, Context] = field(default_factory=dict)  # subject kind -> the command a wrapper names
    after_subject: frozenset[str] = frozenset()  # predicate kinds that pair only with a subject before them
    predicate_texts: frozenset[str] = frozenset()  # every predicate word as written, of every language


NO_PAIRS = PairTable((), {}, {}, {}, frozenset(), frozenset(), (), frozenset(), {}, {}, 0, 0.0, 1.0)


def parse_cells(text: str | dict[str, Any], kinds: Mapping[str, set[str]] | None = None,
                filename: str = "pairs/cells.toml"
                ) -> tuple[dict[tuple[str, str], Cell], dict[str, float], dict[str, Context], frozenset[str]]:
    """cells.toml -> ({(subject kind, predicate kind): cell}, scoring numbers, {subject kind: command} of [wrappers],
    the predicate kinds of `after_subject`), validated; `kinds`: the kinds the word files define per role, which every
    cell, wrapper and after_subject must name."""
    doc = parse(text, filename)
    top = Place(filename)
    top.known(doc, {"after_subject", "scoring", "wrappers", "cell"})
    after_subject = frozenset(top.strs(doc, "after_subject"))
    unknown = sorted(after_subject - kinds["predicate"]) if kinds is not None else []
    if unknown:
        raise top.fail(f"'after_subject': no word file defines the predicate kind(s) {unknown}")
    raw_wrappers = doc.get("wrappers", {})
    if not isinstance(raw_wrappers, dict):
        raise top.fail("[wrappers] must be a table of subject kind = command")
    wrappers: dict[str, Context] = {}
    for kind, command in raw_wrappers.items():
        place = Place(f"{filename} wrappers.{kind}")
        if kinds is not None and kind not in kinds["subject"]:
            raise place.fail(f"no word file defines the subject kind {kind!r}")
        wrappers[kind] = place.context(command)
    numbers = scoring_numbers(doc, filename, ("window", "weight", "threshold"))
    if numbers["window"] != int(numbers["window"]):
        raise Place(f"{filename} scoring").fail("'window' must be a whole number")
    cells: dict[tuple[str, str], Cell] = {}
    for i, t in enumerate(array_of_tables(doc, "cell", filename)):
        place = Place(f"{filename} cell[{i}] ({t.get('subject')} x {t.get('predicate')})")
        place.known(t, {"subject", "predicate", "reason", "why", "contexts", "silent", "readings"})
        subject, predicate = place.req(t, "subject"), place.req(t, "predicate")
        for role, kind in (("subject", subject), ("predicate", predicate)):
            if kinds is not None and kind not in kinds[role]:
                raise place.fail(f"no word file defines the {role} kind {kind!r}")
        if (subject, predicate) in cells:
            raise place.fail("duplicate cell")
        reason = place.reason(t)
        assert reason is not None
        contexts: dict[Context, Reason] = {}
        raw = t.get("contexts", {})
        if not isinstance(raw, dict):
            raise place.fail("'contexts' must be a table of command = reason")
        for name in raw:
            ctx = place.context(name)
            by_ctx = place.reason(raw, name)
            assert by_ctx is not None
            contexts[ctx] = by_ctx
        for r in (reason, *contexts.values()):
            if r in NOT_FROM_WORDS:
                raise place.fail(f"'reason': {r.value} is given by reply codes, never by words")
        silent = frozenset(place.context(name) for name in place.strs(t, "silent"))
        if silent & contexts.keys():
            raise place.fail("a command is either in 'contexts' or 'silent'")
        readings = place.reasons(t, "readings")
        for r in readings:
            if r in NOT_FROM_WORDS:
                raise place.fail(f"'readings': {r.value} is given by reply codes, never by words")
        if reason in readings:
            raise place.fail("'readings' names the other reasons the words give, not the cell's own")
        cells[(subject, predicate)] = Cell(subject, predicate, reason, place.req(t, "why"), contexts, silent,
                                           readings)
    return cells, numbers, wrappers, after_subject


def parse_words(text: str | dict[str, Any], filename: str) -> tuple[tuple[PairWord, ...], tuple[str, ...]]:
    """One language's word file -> (its words, its negations), validated. The file: `language`, `negations` (a list),
    `[subject]` and `[predicate]` tables of kind = [words] (lower-case, single-spaced)."""
    doc = parse(text, filename)
    top = Place(filename)
    top.known(doc, {"language", "negations", "subject", "predicate"})
    language = top.language(doc)
    negations = top.strs(doc, "negations")
    words: list[PairWord] = []
    for role in ROLES:
        table = doc.get(role, {})
        if not isinstance(table, dict):
            raise top.fail(f"[{role}] must be a table of kind = [words]")
        for kind in table:
            place = Place(f"{filename} {role}.{kind}")
            if not _KIND.match(kind):
                raise place.fail("a kind is lower-case letters joined by '_'")
            values = place.strs(table, kind)
            if not values:
                raise place.fail("must list one word at least")
            seen: set[str] = set()
            for value in values:
                if not plain_lower(value):
                    raise place.fail(f"{value!r}: must be lower-case, single-spaced, not padded")
                toks = tokens(value)
                if not toks or "".join(toks) != re.sub(r"[\s/]", "", value):
                    raise place.fail(f"{value!r}: must be letters and digits (words joined by '-' or \"'\" "
                                     "count as one)")
                if value in seen:
                    raise place.fail(f"{value!r}: listed twice")
                seen.add(value)
                words.append(PairWord(value, role, kind, toks, language))
    for value in negations:
        if value != value.lower() or not tokens(value):
            raise top.fail(f"'negations': {value!r} must be lower-case words")
    return tuple(words), negations


def build_table(cells_doc: str | dict[str, Any] | None, word_docs: Iterable[tuple[str, str | dict[str, Any]]]
                ) -> PairTable:
    """The pair table from cells.toml and the word files ((filename, text) each), validated: a word is of one role
    and one kind in every language, and every cell names kinds the word files define."""
    words: list[PairWord] = []
    negations: list[tuple[str, ...]] = []
    for filename, doc in word_docs:
        found, negs = parse_words(doc, filename)
        words.extend(found)
        negations.extend(tokens(n) for n in negs)
    if cells_doc is None:
        return NO_PAIRS
    kinds: dict[str, set[str]] = {role: set() for role in ROLES}
    owner: dict[str, PairWord] = {}
    for w in words:
        kinds[w.role].add(w.kind)
        other = owner.setdefault(w.text, w)
        if (other.role, other.kind) != (w.role, w.kind):
            raise Place(f"pairs/{w.language}.toml {w.role} {w.text!r}").fail(
                f"is both {other.role} {other.kind} and {w.role} {w.kind}")
    cells, numbers, wrappers, after_subject = parse_cells(cells_doc, kinds)
    by_first: dict[str, list[PairWord]] = {}
    for w in words:
        by_first.setdefault(w.tokens[0], []).append(w)
    keys: dict[str, dict[str, set[str]]] = {role: {} for role in ROLES}
    for w in words:
        first = WORDS.match(w.text)
        if first is not None:
            keys[w.role].setdefault(first.group(), set()).add(w.kind)
    return PairTable(tuple(words), {k: tuple(sorted(v, key=lambda w: -len(w.tokens))) for k, v in by_first.items()},
                     {k: frozenset(v) for k, v in keys["subject"].items()},
                     {k: frozenset(v) for k, v in keys["predicate"].items()},
                     frozenset(keys["subject"]), frozenset(keys["predicate"]),
                     tuple(sorted(set(negations), key=len, reverse=True)), frozenset(n[-1] for n in negations),
                     {kind: frozenset(p for s, p in cells if s == kind) for kind, _ in cells},
                     cells, int(numbers["window"]),
                     numbers["weight"], numbers["threshold"], wrappers, after_subject,
                     frozenset(w.text for w in words if w.role == "predicate"))

