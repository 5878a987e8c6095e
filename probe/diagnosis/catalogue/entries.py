"""Data layer: the catalogue's entry types and the literal prefilter of rule patterns. Pure; no I/O.

Must not import tomllib, the network stack or anything outside probe.model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from probe.model import Context, Reason, Severity


class LazyPattern:
    """A regular expression compiled the first time it is searched with. Of the catalogue's many wording
    rules a run compiles only those a reply gets past the literal prefilter for (compiling them all
    took most of a probe's catalogue loading)."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern, self.flags = pattern, flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def search(self, string: str) -> re.Match[str] | None:
        compiled = self._compiled
        return (compiled or self.compiled()).search(string)

    def __reduce__(self) -> tuple[type[LazyPattern], tuple[str, int]]:
        return LazyPattern, (self.pattern, self.flags)  # pickled uncompiled (the rules cache)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyPattern) and (self.pattern, self.flags) == (other.pattern, other.flags)

    def __hash__(self) -> int:
        return hash((self.pattern, self.flags))

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r}, {self.flags!r})"


@dataclass(frozen=True, slots=True)
class Note:
    """Fields that replace an entry's defaults in one context (or for one reply class)."""

    reason: Reason | None = None
    severity: Severity | None = None
    meaning: str | None = None
    when: str | None = None
    remediation: str | None = None
    sender: str | None = None
    firm: bool = False  # wins over the enhanced code (e.g. 502 to VRFY: "disabled" whatever 5.5.1 says)


@dataclass(frozen=True, slots=True)
class Variant:
    """Generic wording inside one basic code's entry (e.g. 530 'must issue a STARTTLS command')."""

    id: str
    pattern: LazyPattern
    contexts: frozenset[Context]
    reason: Reason
    severity: Severity | None
    meaning: str
    remediation: str


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One basic reply code (codes.toml)."""

    code: int
    title: str
    reason: Reason
    severity: Severity
    meaning: str
    when: str
    remediation: str
    sender: str
    references: tuple[str, ...]
    contexts: Mapping[Context, Note]
    variants: tuple[Variant, ...] = ()


@dataclass(frozen=True, slots=True)
class EnhancedEntry:
    """One registered enhanced status code X.S.D, or a subject X.S.* (enhanced.toml)."""

    key: str  # "1.1" (subject.detail) or "1" for a subject-level entry
    title: str
    meaning: str
    reason: Reason
    remediation: str
    classes: tuple[int, ...]  # reply classes it is used with (2, 4, 5)
    references: tuple[str, ...]
    by_class: Mapping[int, Note] = field(default_factory=dict)
    contexts: Mapping[Context, Note] = field(default_factory=dict)
    weak: bool = False  # too generic to override the basic code's own entry (X.0.0, X.7.0 ...)


# The optional part of an event meaning that carries the detail: '[ ({detail})]' is left out without one.
DETAIL_SLOT = re.compile(r"\[([^\[\]{}]*)\{detail\}([^\[\]{}]*)\]")


@dataclass(frozen=True, slots=True)
class EventEntry:
    """A probe event that is not a reply (events.toml)."""

    id: str
    reason: Reason
    severity: Severity
    meaning: str  # may hold one optional part '[... {detail} ...]', rendered only when there is a detail
    remediation: str
    when: str
    contexts: Mapping[Context, Note] = field(default_factory=dict)  # e.g. reply-timeout at the banner


def _by_constructor(self: Any) -> tuple[type, tuple[Any, ...]]:
    """Pickled as a call of the class with the fields in order (a slotted dataclass's __slots__): the
    rules cache loads faster than through dataclasses' generic per-field __setstate__."""
    return type(self), tuple(getattr(self, name) for name in self.__slots__)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    context: Context | None
    host: str | None

    __reduce__ = _by_constructor


@dataclass(frozen=True, slots=True)
class Rule:
    """A wording rule (rules.toml): real servers' text mapped to a reason and advice."""

    id: str
    index: int
    reason: Reason
    severity: Severity | None
    meaning: str
    remediation: str
    pattern: LazyPattern | None
    prefilter: LazyPattern | None  # literals, one of which occurs in any text `pattern` matches
    codes: frozenset[int]
    enhanced: tuple[str, ...]  # exact codes, or prefixes ending with "."
    contexts: frozenset[Context]
    providers: frozenset[str]
    references: tuple[str, ...]
    examples: tuple[Example, ...]
    not_examples: tuple[Example, ...]
    literals: tuple[str, ...] | None = None  # the prefilter's literals (None: no prefilter, always tried)

    __reduce__ = _by_constructor


@dataclass(frozen=True, slots=True)
class Phrase:
    """A lexicon phrase (lexicon/*.toml): words that point to a reason wherever they occur."""

    text: str  # lower-case; matched at word boundaries in the lower-cased reply
    reason: Reason
    weight: float
    language: str
    source: str  # where it was seen: a URL or github:owner/repo/path
    where: str  # 'lexicon/fr.toml group[3]': for messages about the catalogue


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the reply code and the command say about each reason (evidence.toml), for the lexicon's scoring."""

    favours: Mapping[str, frozenset[Reason]]  # 'class:4', 'subject:2', 'context:RCPT' -> reasons it supports
    disfavours: Mapping[str, frozenset[Reason]]  # ... -> reasons it speaks against
    bonus: float  # added to a reason's phrase score for each key that favours it
    penalty: float  # taken off for each key that speaks against it
    threshold: float  # the score a reason needs for the lexicon to decide


@dataclass(frozen=True, slots=True)
class Provider:
    """A mail provider recognised from its MX host names or its wording (providers.toml)."""

    id: str
    name: str
    hosts: tuple[str, ...]
    pattern: LazyPattern | None
    url: str  # the provider's own page for senders (postmaster / delisting / guidelines)
    literals: tuple[str, ...] | None = None  # one of them occurs in any text `pattern` matches; None: unknown



def _group_marks(pattern: str) -> Iterator[tuple[int, str, int]]:
    """(index, '(' or ')' or '|', group depth after it) for each mark outside escapes and character classes."""
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":  # a ']' first in a class is literal
                i += 1
        elif ch in "()|":
            depth += 1 if ch == "(" else -1 if ch == ")" else 0
            yield i, ch, depth
        i += 1


def _top_level_alternatives(pattern: str) -> list[str]:
    """'a(b|c)|d' -> ['a(b|c)', 'd']: split on '|' outside groups, classes and escapes."""
    parts, start = [], 0
    for i, mark, depth in _group_marks(pattern):
        if mark == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _literal_prefix(alternative: str) -> str:
    """The literal text every match of `alternative` starts with ('' when there is none)."""
    out: list[str] = []
    i = 0
    while i < len(alternative):
        ch = alternative[i]
        if ch == "\\":
            nxt = alternative[i + 1:i + 2]
            if nxt == "b" and not out:
                i += 2
                continue
            if not nxt or nxt.isalnum():
                break
            ch, width = nxt, 2
        elif ch in ".[](){}|^$?*+":
            break
        else:
            width = 1
        follower = alternative[i + width:i + width + 1]
        if follower in ("?", "*", "{"):
            break
        out.append(ch)
        i += width
        if follower == "+":
            break
    return "".join(out)


def _leading_group_prefixes(alternative: str) -> list[str] | None:
    """'(is|are) grey' -> ['is grey', 'are grey']: the literal prefixes through a leading group of
    alternatives; None when the group is optional, a lookaround or flag group, or unbalanced."""
    rest = alternative[2:] if alternative.startswith("\\b") else alternative
    if not rest.startswith("(") or (rest.startswith("(?") and not rest.startswith("(?:")):
        return None
    body = 3 if rest.startswith("(?:") else 1
    close = next((i for i, mark, depth in _group_marks(rest) if mark == ")" and depth == 0), None)
    if close is None:
        return None
    inner, after = rest[body:close], rest[close + 1:]
    if after[:1] in ("?", "*", "{"):
        return None
    if after[:1] == "+":  # one or more repeats: only the first repeat's start is certain
        after = ""
    return [_literal_prefix(alt + after) for alt in _top_level_alternatives(inner)]


def required_literals(patterns: tuple[str, ...]) -> tuple[str, ...] | None:
    """Substrings of which at least one occurs in every text the patterns match; None if unknown.

    A cheap `in` test on these skips most rules without running their regex. A leading group of
    alternatives is expanded ('(rejected|refused) as spam' -> 'rejected as spam', 'refused as spam').
    """
    literals: list[str] = []
    for p in patterns:
        for alt in _top_level_alternatives(p):
            lit = _literal_prefix(alt)
            found = [lit] if len(lit) >= 3 else _leading_group_prefixes(alt)
            if not found or any(len(x) < 3 or x != x.lower() for x in found):
                infix = _required_infix(alt)  # '^5\d\d (\d\.\d\.\d+ )?spam detected' -> 'spam detected'
                if infix is None:
                    return None
                found = [infix]
            literals.extend(found)
    return tuple(dict.fromkeys(literals)) or None


def _required_infix(alternative: str) -> str | None:
    """The longest run of literal text (3+ characters, lower-case) that every match of `alternative` contains,
    taken outside groups and classes; None when there is none. Optional or repeated pieces end a run."""
    runs: list[str] = []
    run: list[str] = []

    def end() -> None:
        if run:
            runs.append("".join(run))
            run.clear()

    i, n = 0, len(alternative)
    while i < n:
        ch = alternative[i]
        if ch == "\\":
            nxt = alternative[i + 1:i + 2]
            if not nxt or nxt.isalnum():  # \d, \w, \s, \b, back-references: not literal text
                end()
                i += 2
                if alternative[i:i + 1] in ("?", "*", "+", "{"):
                    i = _after_quantifier(alternative, i)
                continue
            ch, width = nxt, 2
        elif ch in "([":
            close = _closing(alternative, i)
            if close is None:
                return None
            end()
            i = close + 1
            if alternative[i:i + 1] in ("?", "*", "+", "{"):
                i = _after_quantifier(alternative, i)
            continue
        elif ch in ".^$|":
            end()
            i += 1
            if alternative[i:i + 1] in ("?", "*", "+", "{"):
                i = _after_quantifier(alternative, i)
            continue
        elif ch in "?*+{":  # a quantifier right after a group was skipped above; here it follows a literal
            return None
        else:
            width = 1
        follower = alternative[i + width:i + width + 1]
        if follower in ("?", "*", "{"):
            end()
            i = _after_quantifier(alternative, i + width)
            continue
        run.append(ch)
        i += width
        if follower == "+":
            end()
            i = _after_quantifier(alternative, i)
    end()
    best = max((r for r in runs if len(r) >= 3 and r == r.lower()), key=len, default=None)
    return best


def _closing(pattern: str, start: int) -> int | None:
    """Index of the ')' or ']' that closes the group or class opening at `start`."""
    if pattern[start] == "[":
        j = start + 1
        if pattern[j:j + 1] == "^":
            j += 1
        if pattern[j:j + 1] == "]":
            j += 1
        while j < len(pattern):
            if pattern[j] == "\\":
                j += 2
                continue
            if pattern[j] == "]":
                return j
            j += 1
        return None
    for index, mark, depth in _group_marks(pattern[start:]):
        if mark == ")" and depth == 0:
            return start + index
    return None


def _after_quantifier(pattern: str, i: int) -> int:
    """The index after the quantifier at `i` ('?', '*', '+', '{m,n}', each maybe followed by a lazy '?')."""
    if pattern[i:i + 1] == "{":
        close = pattern.find("}", i)
        i = close + 1 if close >= 0 else i + 1
    else:
        i += 1
    return i + 1 if pattern[i:i + 1] == "?" else i


def literal_regex(literals: tuple[str, ...] | None) -> LazyPattern | None:
    return None if literals is None else LazyPattern("|".join(re.escape(lit) for lit in literals))

