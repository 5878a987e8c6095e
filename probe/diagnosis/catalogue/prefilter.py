"""Data layer: word indexes that find which rules (by their required literals) and which lexicon phrases can
occur in a text. Pure; no I/O.

Must not import the network stack or anything outside the standard library. It only narrows the
candidates: a rule it returns still has its own regex tried, so it can never change a result, only
skip regexes that cannot match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_TOKEN_SPLIT = re.compile(r"([a-z0-9]+)")
WORDS = re.compile(r"[a-z0-9]+")  # what text_words counts as a word (pairwords keys its prefilter by it)

_MEMO_WORDS = 50_000


def literal_key(literal: str, frequency: dict[str, int] | None = None,
                in_replies: Callable[[str, bool], int] | None = None) -> tuple[str, bool]:
    """(key, whole_word): a piece of `literal` that any text containing the literal contains too.

    whole_word is True when the key is a token with a non-alphanumeric character on both sides inside
    the literal: then it appears in the text as a whole [a-z0-9]+ word, and a set lookup finds it.
    Otherwise the key (a token, or the literal itself) must be looked for as a substring.
    The token taken is the one found least often in real replies (`in_replies(token, whole_word)`), then the
    rarest in `frequency` (how many literals of the index hold it), a whole word before a substring and the
    longest on a tie: a key common in replies ('550', 'not') or shared by many literals ('address') would
    make every reply that holds it confirm all of them.
    """
    parts = _TOKEN_SPLIT.split(literal)  # odd indices are tokens, even ones the text between them
    tokens = [(parts[i], bool(parts[i - 1]) and bool(parts[i + 1])) for i in range(1, len(parts), 2)]
    if tokens:
        counts = frequency or {}
        seen = in_replies or (lambda token, whole_word: 0)
        key, bounded = min(tokens, key=lambda t: (seen(*t), counts.get(t[0], 0), not t[1], -len(t[0])))
        return key, bounded
    return literal, False


class _ReplyWords:
    """In how many sample replies a token occurs: as a whole word, or (a key that may be part of a longer
    word) inside any word."""

    def __init__(self, sample: Iterable[str]) -> None:
        self.words: dict[str, int] = {}
        for text in sample:
            for word in text_words(text.lower()):
                self.words[word] = self.words.get(word, 0) + 1
        self._inside: dict[str, int] = {}

    def __call__(self, token: str, whole_word: bool) -> int:
        if whole_word:
            return self.words.get(token, 0)
        count = self._inside.get(token)
        if count is None:
            count = self._inside[token] = sum(n for word, n in self.words.items() if token in word)
        return count


class LiteralIndex:
    """Positions of items (rules, providers) keyed by their required literals.

    `candidates(text)` returns every position whose item may match `text`: items without literals
    always, the others when the key of at least one of their literals is in the text. `sample`: real reply
    texts (the rules' examples) that show which words are common, so that literals are keyed by rare ones.
    """

    def __init__(self, items: Iterable[tuple[int, tuple[str, ...] | None]], sample: Iterable[str] = ()) -> None:
        always: set[int] = set()
        by_word: dict[str, dict[str, set[int]]] = {}
        by_substring: dict[str, dict[str, set[int]]] = {}
        items = list(items)
        frequency: dict[str, int] = {}
        for literal in {lit for _, literals in items for lit in literals or ()}:
            for token in set(WORDS.findall(literal)):
                frequency[token] = frequency.get(token, 0) + 1
        in_replies = _ReplyWords(sample)
        for position, literals in items:
            if literals is None:
                always.add(position)
                continue
            for literal in literals:
                key, whole_word = literal_key(literal, frequency, in_replies)
                table = by_word if whole_word else by_substring
                table.setdefault(key, {}).setdefault(literal, set()).add(position)
        self.always = frozenset(always)
        # key -> ((literal, positions), ...): a key found in the text is confirmed by its literals
        self.by_word = {key: _frozen(lits) for key, lits in by_word.items()}
        self.by_substring = tuple((key, _frozen(lits)) for key, lits in sorted(by_substring.items()))
        # A key made of [a-z0-9] only lies inside one word of any text that contains it, so which keys a text
        # holds is the union over its words. Words repeat from reply to reply, so what each word brings is worked
        # out once: the positions it makes certain (a literal that is the key itself) and the literals still to
        # confirm in the whole text.
        self._in_words = tuple((key, hit) for key, hit in self.by_substring if WORDS.fullmatch(key))
        self._in_words_by_key = dict(self._in_words)
        self._key_lengths = tuple(sorted({len(key) for key, _ in self._in_words}))
        elsewhere = [(key, hit) for key, hit in self.by_substring if not WORDS.fullmatch(key)]
        self._elsewhere = tuple((key, hit) for key, hit in elsewhere if key.isascii())
        self._elsewhere_non_ascii = tuple((key, hit) for key, hit in elsewhere if not key.isascii())
        # Words worked out so far: those that bring something (-> what they bring), and those that bring nothing,
        # so that a reply's words are sorted out by two set operations and only the few that matter are looped on.
        self._word_hits: dict[str, tuple[frozenset[int], tuple[tuple[str, frozenset[int]], ...]]] = {}
        self._barren: set[str] = set()

    def __getstate__(self) -> dict[str, object]:
        """Pickled (the catalogue cache) without what it learnt about the words of the replies it saw."""
        state = dict(self.__dict__)
        state["_word_hits"], state["_barren"] = {}, set()
        return state

    def _brought_by(self, word: str) -> tuple[frozenset[int], tuple[tuple[str, frozenset[int]], ...]]:
        certain: set[int] = set()
        confirm: list[tuple[str, frozenset[int]]] = list(self.by_word.get(word, ()))
        for key, hit in self._keys_inside(word):
            for literal, positions in hit:
                if literal == key:
                    certain |= positions
                else:
                    confirm.append((literal, positions))
        return frozenset(certain), tuple(confirm)

    def _keys_inside(self, word: str) -> list[tuple[str, tuple[tuple[str, frozenset[int]], ...]]]:
        """The substring keys inside `word`: looked up piece by piece when the word is short (a few dozen set
        lookups; a reply's new words, such as host names, are met once each), else by trying every key."""
        if len(word) * len(self._key_lengths) >= len(self._in_words):
            return [(key, hit) for key, hit in self._in_words if key in word]
        by_key, found = self._in_words_by_key, []
        for length in self._key_lengths:
            if length > len(word):
                break
            for piece in {word[i:i + length] for i in range(len(word) - length + 1)}:
                hit = by_key.get(piece)
                if hit is not None:
                    found.append((piece, hit))
        return found

    def candidates(self, text: str, words: frozenset[str] | None = None) -> set[int]:
        """Positions of the items that may match `text` (lower-case, as the catalogue patterns expect).

        `words` is `text_words(text)` when the caller already has it (one reply, several indexes).
        """
        found = set(self.always)
        memo, barren = self._word_hits, self._barren
        for word in (text_words(text) if words is None else words).difference(barren):
            brought = memo.get(word)
            if brought is None:
                brought = self._brought_by(word)
                if len(memo) + len(barren) < _MEMO_WORDS:  # bounded: hostile text brings endless new words
                    if brought[0] or brought[1]:
                        memo[word] = brought
                    else:
                        barren.add(word)
            certain, confirm = brought
            if certain:
                found |= certain
            for literal, positions in confirm:
                if literal in text:
                    found |= positions
        for key, hit in self._elsewhere if text.isascii() else self._elsewhere + self._elsewhere_non_ascii:
            if key in text:
                for literal, positions in hit:
                    if literal in text:
                        found |= positions
        return found


# ASCII text: every byte that is not [a-z0-9] made a space, so that split gives the words (faster than findall);
# upper-case letters too, like findall on the lower-case texts this is for. A bytes table: bytes.translate looks
# each byte up in it directly, where str.translate asks a mapping for each character (three times the cost).
_NOT_WORD = bytes(i if chr(i) in "abcdefghijklmnopqrstuvwxyz0123456789" else ord(" ") for i in range(256))


def text_words(text: str) -> frozenset[str]:
    """The [a-z0-9]+ words of a lower-case text: what `LiteralIndex` looks its whole-word keys up in."""
    if text.isascii():
        return frozenset(text.encode("ascii").translate(_NOT_WORD).decode("ascii").split())
    return frozenset(WORDS.findall(text))


def _frozen(literals: dict[str, set[int]]) -> tuple[tuple[str, frozenset[int]], ...]:
    return tuple((literal, frozenset(positions)) for literal, positions in sorted(literals.items()))


class PhraseIndex:
    """Which lexicon phrases occur in a text, each at word boundaries (a phrase that starts or ends with a
    letter or digit must not touch another one there: 'full' is not found in 'fully').

    Each phrase with an [a-z0-9] word is keyed by its rarest such word: matching a phrase at word boundaries
    implies that word is a whole word of the text, so a set lookup on `text_words` finds the few phrases worth
    a `find`. Rarest: in the fewest `sample` replies (real replies: the rules' examples), then in the fewest
    phrases, the longest on a tie. Phrases without such a word (Japanese, Chinese, Russian) are searched for
    only in texts that are not pure ASCII.
    """

    def __init__(self, phrases: Iterable[str], sample: Iterable[str] = ()) -> None:
        self.phrases = tuple(phrases)
        tokens = [WORDS.findall(p) for p in self.phrases]
        frequency: dict[str, int] = {}
        for words in tokens:
            for word in set(words):
                frequency[word] = frequency.get(word, 0) + 1
        in_replies = _ReplyWords(sample).words
        by_word: dict[str, list[int]] = {}
        unkeyed: list[int] = []
        for position, words in enumerate(tokens):
            if words:
                key = min(words, key=lambda w: (in_replies.get(w, 0), frequency[w], -len(w), w))
                by_word.setdefault(key, []).append(position)
            else:
                unkeyed.append(position)
        self.by_word = {key: tuple(positions) for key, positions in by_word.items()}
        self.keys = frozenset(self.by_word)
        self.unkeyed = tuple(unkeyed)

    def matches(self, text: str, words: frozenset[str] | None = None) -> list[int]:
        """Positions (in the order given) of the phrases found in `text` (lower-case, like the phrases)."""
        found: list[int] = []
        phrases = self.phrases
        for word in self.keys & (text_words(text) if words is None else words):
            found.extend(p for p in self.by_word[word] if phrases[p] in text and _occurs(phrases[p], text))
        if self.unkeyed and not text.isascii():
            found.extend(p for p in self.unkeyed if phrases[p] in text)
        found.sort()
        return found


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _occurs(phrase: str, text: str) -> bool:
    """`phrase` occurs in `text` with no letter or digit glued to a letter or digit at its ends."""
    check_start, check_end = _is_word_char(phrase[0]), _is_word_char(phrase[-1])
    if not (check_start or check_end):
        return phrase in text  # no word boundary to check
    start = text.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        if not (check_start and start > 0 and _is_word_char(text[start - 1])) \
                and not (check_end and end < len(text) and _is_word_char(text[end])):
            return True
        start = text.find(phrase, start + 1)
    return False
