"""Data layer: a word index that finds which rules' required literals can occur in a text. Pure; no I/O.

Must not import the network stack or anything outside the standard library. It only narrows the
candidates: a rule it returns still has its own regex tried, so it can never change a result, only
skip regexes that cannot match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TOKEN_SPLIT = re.compile(r"([a-z0-9]+)")
_WORDS = re.compile(r"[a-z0-9]+")


def literal_key(literal: str) -> tuple[str, bool]:
    """(key, whole_word): a piece of `literal` that any text containing the literal contains too.

    whole_word is True when the key is a token with a non-alphanumeric character on both sides inside
    the literal: then it appears in the text as a whole [a-z0-9]+ word, and a set lookup finds it.
    Otherwise the key (the longest token, or the literal itself) must be looked for as a substring.
    """
    parts = _TOKEN_SPLIT.split(literal)  # odd indices are tokens, even ones the text between them
    tokens = [(parts[i], bool(parts[i - 1]) and bool(parts[i + 1])) for i in range(1, len(parts), 2)]
    inner = [t for t, bounded in tokens if bounded]
    if inner:
        return max(inner, key=len), True
    if tokens:
        return max((t for t, _ in tokens), key=len), False
    return literal, False


class LiteralIndex:
    """Positions of items (rules, providers) keyed by their required literals.

    `candidates(text)` returns every position whose item may match `text`: items without literals
    always, the others when the key of at least one of their literals is in the text.
    """

    def __init__(self, items: Iterable[tuple[int, tuple[str, ...] | None]]) -> None:
        always: set[int] = set()
        by_word: dict[str, dict[str, set[int]]] = {}
        by_substring: dict[str, dict[str, set[int]]] = {}
        for position, literals in items:
            if literals is None:
                always.add(position)
                continue
            for literal in literals:
                key, whole_word = literal_key(literal)
                table = by_word if whole_word else by_substring
                table.setdefault(key, {}).setdefault(literal, set()).add(position)
        self.always = frozenset(always)
        # key -> ((literal, positions), ...): a key found in the text is confirmed by its literals
        self.by_word = {key: _frozen(lits) for key, lits in by_word.items()}
        self.by_substring = tuple((key, _frozen(lits)) for key, lits in sorted(by_substring.items()))

    def candidates(self, text: str, words: frozenset[str] | None = None) -> set[int]:
        """Positions of the items that may match `text` (lower-case, as the catalogue patterns expect).

        `words` is `text_words(text)` when the caller already has it (one reply, several indexes).
        """
        found = set(self.always)
        by_word = self.by_word
        for word in by_word.keys() & (text_words(text) if words is None else words):
            for literal, positions in by_word[word]:
                if literal in text:
                    found |= positions
        for hit in [hit for key, hit in self.by_substring if key in text]:
            for literal, positions in hit:
                if literal in text:
                    found |= positions
        return found


def text_words(text: str) -> frozenset[str]:
    """The [a-z0-9]+ words of a lower-case text: what `LiteralIndex` looks its whole-word keys up in."""
    return frozenset(_WORDS.findall(text))


def _frozen(literals: dict[str, set[int]]) -> tuple[tuple[str, frozenset[int]], ...]:
    return tuple((literal, frozenset(positions)) for literal, positions in sorted(literals.items()))
