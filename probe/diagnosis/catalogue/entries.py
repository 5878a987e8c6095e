"""Data layer: the catalogue's entry types. Pure; no I/O.

Must not import tomllib, the network stack or anything outside probe.model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from probe.model import Context, Reason, Severity


class LazyPattern:
    """A regular expression compiled the first time it is searched with. Of the catalogue's many wording
    rules a run compiles only those a reply gets past the literal prefilter for (compiling them all
    took most of a probe's catalogue loading).

    `ascii_flags`: the flags that give the same matches in a pure-ASCII lower-case text, which is then searched
    with them: without IGNORECASE when the pattern has it only for a capital that names no letter (\\S, \\W, \\D);
    see parsing.lazy_regex."""

    __slots__ = ("_ascii", "_compiled", "ascii_flags", "flags", "pattern", "search")

    def __init__(self, pattern: str, flags: int = 0, ascii_flags: int | None = None) -> None:
        self.pattern, self.flags = pattern, flags
        self.ascii_flags = flags if ascii_flags is None else ascii_flags
        self._compiled: re.Pattern[str] | None = None
        self._ascii: re.Pattern[str] | None = None
        # search(text): compiles, then becomes the compiled pattern's own search (no Python call in between), or,
        # with other flags for ASCII text, the choice between the two
        self.search: Callable[[str], re.Match[str] | None] = self._first_search

    def compiled(self) -> re.Pattern[str]:
        """The pattern compiled with `flags` (what any text may be searched with)."""
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
            if self.ascii_flags == self.flags:
                self.search = self._compiled.search
        return self._compiled

    def _first_search(self, string: str) -> re.Match[str] | None:
        if self.ascii_flags == self.flags:
            return self.compiled().search(string)
        self.search = self._search_by_text
        return self._search_by_text(string)

    def _search_by_text(self, string: str) -> re.Match[str] | None:
        """Each form compiled when a text first needs it: most runs meet ASCII text only."""
        if string.isascii():
            if self._ascii is None:
                self._ascii = re.compile(self.pattern, self.ascii_flags)
            return self._ascii.search(string)
        return self.compiled().search(string)

    def __reduce__(self) -> tuple[type[LazyPattern], tuple[str, int, int]]:
        return LazyPattern, (self.pattern, self.flags, self.ascii_flags)  # pickled uncompiled (the rules cache)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyPattern) and (self.pattern, self.flags, self.ascii_flags) \
            == (other.pattern, other.flags, other.ascii_flags)

    def __hash__(self) -> int:
        return hash((self.pattern, self.flags))

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r}, {self.flags!r}, {self.ascii_flags!r})"


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
    no_enhanced: bool = False  # only a reply without an enhanced status code (which would say more than the words)


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


def by_constructor(self: Any) -> tuple[type, tuple[Any, ...]]:
    """Pickled as a call of the class with the fields in order (a slotted dataclass's __slots__): the
    rules cache loads faster than through dataclasses' generic per-field __setstate__."""
    return type(self), tuple(getattr(self, name) for name in self.__slots__)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    context: Context | None
    host: str | None

    __reduce__ = by_constructor


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
    codes: frozenset[int]
    enhanced: tuple[str, ...]  # exact codes, or prefixes ending with "."
    contexts: frozenset[Context]
    providers: frozenset[str]
    references: tuple[str, ...]
    examples: tuple[Example, ...]
    not_examples: tuple[Example, ...]
    literals: tuple[str, ...] | None = None  # one of them occurs in any text `pattern` matches (None: always tried)
    # the words mean `reason` only in reply to `contexts` ('500 unrecognized command' to STARTTLS): not in a bounce
    # or a reply without a command, where other rules restricted to contexts still fire
    context_only: bool = False
    # the limit or refusal is the server's, for every client at once (Exim's smtp_accept_max), not of this
    # client: the judge does not call the domain `refuses_this_client` for it
    server_wide: bool = False

    __reduce__ = by_constructor


@dataclass(frozen=True, slots=True)
class Phrase:
    """A lexicon phrase (lexicon/*.toml): words that point to a reason wherever they occur."""

    text: str  # lower-case; matched at word boundaries in the lower-cased reply
    reason: Reason
    weight: float
    language: str
    source: str  # where it was seen: a URL or github:owner/repo/path
    where: str  # 'lexicon/fr.toml group[3]': for messages about the catalogue
    topic: bool = False  # a topic word (a file with `topics = true`): names a cause, weighs under a phrase

    __reduce__ = by_constructor


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
