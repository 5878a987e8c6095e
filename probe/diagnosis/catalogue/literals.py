"""Data layer: the literal texts a regular expression needs, for the rule and provider prefilter. Pure; no I/O.

`required_literals(patterns)` gives strings of which at least one occurs in every text the patterns match, so a
cheap `in` test (through prefilter.LiteralIndex) skips a rule whose regex cannot match. It reads the pattern as
Python's own `re` parser does, keeps for each piece the few exact strings it can match (a literal run, a group
of alternatives, an optional part, a small character class) and, for a sequence, the most selective piece that
every match must contain: '(rejected|refused) as spam' needs 'rejected as spam' or 'refused as spam'. Anything
it cannot read gives None (the rule is always tried), so it can make a rule be tried, never skip one that matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from re import _constants as _sre  # type: ignore[attr-defined]  # opcodes of re's parse tree (3.11+)
from re import _parser  # type: ignore[attr-defined]
from typing import Any

_MAX_EXACT = 32  # exact strings kept for one piece; more and it stops being exact
_MIN_USEFUL = 3  # a literal shorter than this occurs in too many texts to be worth an index key (see `shortest`)
_ZERO_WIDTH = {_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT}  # ^ $ \b and lookarounds: consume nothing
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)}
# ASCII letters that IGNORECASE also matches with a character of a lower-case text that is not that letter:
# the dotless i (U+0131) and the long s (U+017F); the Kelvin sign lower-cases to 'k'
_FOLDS_BEYOND_ASCII = frozenset("is")

Strings = frozenset[str]


def required_literals(patterns: Iterable[str], flags: int = 0, shortest: int = _MIN_USEFUL) -> tuple[str, ...] | None:
    """Substrings of which at least one occurs in every lower-case text `patterns` (alternatives) match.

    None when no set of such strings of at least `shortest` characters is known (or a pattern cannot be read).
    """
    needed: set[str] = set()
    for pattern in patterns:
        try:
            tree = _parser.parse(pattern, flags)
        except (re.error, RecursionError, ValueError):
            return None
        ignore_case = bool((tree.state.flags | flags) & re.IGNORECASE)
        exact, need = _sequence(list(tree), ignore_case)
        best = _best([s for s in (exact, need) if s is not None])
        if best is None:
            return None
        needed |= best
    found = _minimal(frozenset(needed))
    if not found or min(len(s) for s in found) < shortest:
        return None
    return tuple(sorted(found))


def _minimal(strings: Strings) -> Strings:
    """Without the strings that contain another one of the set: a text holding 'is grey' holds 'grey'."""
    if len(strings) < 2:
        return strings
    kept: list[str] = []
    for s in sorted(strings, key=len):  # whatever lies inside a string is shorter: kept before it comes
        if not any(t in s for t in kept):
            kept.append(s)
    return frozenset(kept)


def _score(strings: Strings) -> tuple[int, int, int]:
    """How selective a set of alternatives is: its shortest string (capped: past a dozen characters a literal
    is rare anyway), then fewer strings, then length."""
    shortest = min((len(s) for s in strings), default=0)
    return min(shortest, 12), -len(strings), shortest


def _best(options: list[Strings]) -> Strings | None:
    usable = [_minimal(o) for o in options if o and "" not in o]
    return max(usable, key=_score) if usable else None


def _cross(left: Strings, right: Strings) -> Strings | None:
    if len(left) * len(right) > _MAX_EXACT:
        return None
    return frozenset(a + b for a in left for b in right)


def _sequence(items: list[tuple[Any, Any]], ignore_case: bool) -> tuple[Strings | None, Strings | None]:
    """(exact strings, needed strings) of a sequence of parse-tree items.

    exact: every string the sequence can match, when that is a small finite set; needed: a set of strings one
    of which every match contains (the most selective found), or None."""
    options: list[Strings] = []
    run: Strings = frozenset({""})
    tail = ""  # literal characters that follow every string of the run (joined to it when the run ends)
    exact_so_far = True
    for op, av in items:
        if op is _sre.LITERAL:
            ch = _char(av, ignore_case)
            if ch is not None:
                tail += ch
                continue
        if tail:
            run, tail = frozenset(r + tail for r in run), ""
        exact, need = _item(op, av, ignore_case)
        joined = _cross(run, exact) if exact is not None else None
        if joined is not None:
            run = joined
            continue
        exact_so_far = False
        options.append(run)
        if exact is not None:  # exact, but too many strings to join to the run: a new run starts with it
            run = exact
            continue
        if need is not None:
            options.append(need)
        run = frozenset({""})
    if tail:
        run = frozenset(r + tail for r in run)
    options.append(run)
    return (run if exact_so_far else None), _best(options)


def _item(op: Any, av: Any, ignore_case: bool) -> tuple[Strings | None, Strings | None]:
    """(exact, needed) of one parse-tree item (see _sequence)."""
    if op is _sre.LITERAL:
        ch = _char(av, ignore_case)
        return (None, None) if ch is None else (frozenset({ch}), None)
    if op is _sre.IN:
        return _char_class(av, ignore_case), None
    if op in _ZERO_WIDTH:
        return frozenset({""}), None
    if op is _sre.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        scoped = (ignore_case or bool(add_flags & re.IGNORECASE)) and not del_flags & re.IGNORECASE
        return _sequence(list(sub), scoped)
    if op is getattr(_sre, "ATOMIC_GROUP", None):
        return _sequence(list(av), ignore_case)
    if op is _sre.BRANCH:
        branches = [_sequence(list(sub), ignore_case) for sub in av[1]]
        exact: Strings | None = frozenset()
        for branch_exact, _ in branches:
            exact = None if exact is None or branch_exact is None else exact | branch_exact
        if exact is not None and len(exact) > _MAX_EXACT:
            exact = None
        need: Strings | None = frozenset()
        for branch_exact, branch_need in branches:
            either = _best([s for s in (branch_exact, branch_need) if s is not None])
            need = None if need is None or either is None else need | either
        return exact, need
    if op in _REPEATS:
        low, high, sub = av
        sub_exact, sub_need = _sequence(list(sub), ignore_case)
        if low == 0:
            optional = high == 1 and sub_exact is not None
            return (sub_exact | {""} if optional else None), None  # type: ignore[operator]
        need = _best([s for s in (sub_exact, sub_need) if s is not None])
        if low == high and sub_exact is not None:
            repeated: Strings | None = frozenset({""})
            for _ in range(low):
                repeated = _cross(repeated, sub_exact) if repeated is not None else None
            return repeated, need
        return None, need
    return None, None  # any character, \d \w \s, back-references, conditionals: nothing certain


def _char(code: int, ignore_case: bool) -> str | None:
    """The character a LITERAL matches in a lower-case text; None when that is not one known character."""
    ch = chr(code)
    if not ignore_case or ch.lower() == ch.upper():
        return ch
    lowered = ch.lower()
    return lowered if lowered.isascii() and lowered not in _FOLDS_BEYOND_ASCII else None


def _char_class(items: list[tuple[Any, Any]], ignore_case: bool) -> Strings | None:
    """The characters of a small class of literals and ranges ('[-_]', '[ae]'); None for anything else."""
    chars: set[str] = set()
    for op, av in items:
        if op is _sre.LITERAL:
            ch = _char(av, ignore_case)
            if ch is None:
                return None
            chars.add(ch)
        elif op is _sre.RANGE and av[1] - av[0] < 8:
            for code in range(av[0], av[1] + 1):
                ch = _char(code, ignore_case)
                if ch is None:
                    return None
                chars.add(ch)
        else:  # negation, \d \w \s, a wide range
            return None
    return frozenset(chars)
