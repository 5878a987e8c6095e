"""Data layer: learned.toml, the words learned from the catalogue's own texts (tools/learn_words.py): their entry
types and validating parser. Pure; no I/O beyond tomllib on given text.

A module of its own, imported only when a reply reaches the learned tier (probe.diagnosis.learned): defining its
dataclasses costs start-up that `explain 252` and the replies the rules decide need not pay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from probe.diagnosis.catalogue.entries import by_constructor
from probe.diagnosis.catalogue.parsing import NOT_FROM_WORDS, Place, array_of_tables, parse, scoring_numbers
from probe.model import Reason


@dataclass(frozen=True, slots=True)
class LearnedWord:
    """A word that leans to one reason in the catalogue's own texts (learned.toml, made by tools/learn_words.py
    from the rules' examples and the lexicon's phrases)."""

    word: str  # lower-case ASCII letters
    reason: Reason
    weight: float  # how strongly it leans: the smoothed share of the catalogue texts holding it that give `reason`
    rules: tuple[str, ...]  # provenance: the rules whose examples hold it (rules giving `reason`)
    sources: tuple[str, ...]  # provenance: the sources of the lexicon phrases that hold it (giving `reason`)

    __reduce__ = by_constructor


@dataclass(frozen=True, slots=True)
class LearnedWords:
    """learned.toml: the learned words and when they may decide (probe.diagnosis.learned)."""

    words: Mapping[str, LearnedWord]  # a word, or two ('not allowed')
    singles: frozenset[str]  # the entries of one word
    pairs: Mapping[str, frozenset[str]]  # the entries of two: first word -> the second words it is learned with
    firsts: frozenset[str]  # the first words of the pairs
    threshold: float  # the score (weights plus the code evidence of evidence.toml) the best reason needs
    margin: float  # by how much it must beat the second best
    code: float  # the weight of the reason the code alone gives, which the words must outweigh (unknown: none)


NO_WORDS = LearnedWords({}, frozenset(), {}, frozenset(), 1.0, 1.0, 0.0)  # a catalogue without learned words
_LEARNED_WORD = re.compile(r"^[a-z]{2,}(?: [a-z]{2,})?$")


def parse_learned(text: str | dict[str, Any]) -> LearnedWords:
    """learned.toml text -> the learned words and their scoring, validated. The file is generated
    (tools/learn_words.py); each [[word]] names the reason it leans to, its weight (above 0, at most 1) and where it
    was learned: the rules whose examples hold it and the sources of the lexicon phrases that hold it, two at least."""
    filename = "learned.toml"
    doc = parse(text, filename)
    if not doc:  # load(learned=""): no learned words
        return NO_WORDS
    top = Place(filename)
    top.known(doc, {"schema", "scoring", "word"})
    if doc.get("schema") != 1:
        raise top.fail("'schema' must be 1")
    numbers = scoring_numbers(doc, filename, ("threshold", "margin", "code"))
    words: dict[str, LearnedWord] = {}
    for i, t in enumerate(array_of_tables(doc, "word", filename)):
        place = Place(f"{filename} word[{i}] ({t.get('word')})")
        place.known(t, {"word", "reason", "weight", "rules", "sources"})
        word = place.req(t, "word")
        if not _LEARNED_WORD.match(word):
            raise place.fail("'word' must be one or two words of two or more lower-case ASCII letters")
        if word in words:
            raise place.fail("duplicate word")
        reason = place.reason(t)
        assert reason is not None
        if reason in NOT_FROM_WORDS:
            raise place.fail(f"'reason': {reason.value} is given by reply codes, never by words")
        weight = t.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 1:
            raise place.fail("'weight' must be a number above 0 and at most 1")
        rules, sources = place.strs(t, "rules"), place.strs(t, "sources")
        if len(set(rules)) + len(set(sources)) < 2:
            raise place.fail("a word is learned from two rules or lexicon sources at least ('rules', 'sources')")
        words[word] = LearnedWord(word, reason, float(weight), rules, sources)
    pairs: dict[str, set[str]] = {}
    for word in words:
        first, _, second = word.partition(" ")
        if second:
            pairs.setdefault(first, set()).add(second)
    return LearnedWords(words, frozenset(w for w in words if " " not in w),
                        {first: frozenset(seconds) for first, seconds in pairs.items()}, frozenset(pairs),
                        numbers["threshold"], numbers["margin"], numbers["code"])
