"""Data layer: validate catalogue TOML documents into entry types. Pure; no I/O beyond tomllib on given text.

Every problem raises CatalogueError naming the file, the entry and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from probe.diagnosis.catalogue.entries import (
    DETAIL_SLOT,
    CodeEntry,
    EnhancedEntry,
    EventEntry,
    Evidence,
    Example,
    LazyPattern,
    Note,
    Phrase,
    Provider,
    Rule,
    Variant,
)
from probe.diagnosis.catalogue.literals import required_literals
from probe.diagnosis.codes import TYPOGRAPHIC_QUOTES, split_enhanced, valid_code
from probe.errors import CatalogueError
from probe.model import Context, Reason, Severity

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_E = TypeVar("_E", bound=StrEnum)
_ENHANCED_PREFIX = re.compile(r"^[245]\.(?:[0-9]{1,3}\.(?:[0-9]{1,3})?)?$")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TYPOGRAPHIC = re.compile("[" + "".join(TYPOGRAPHIC_QUOTES) + "]")
_TYPOGRAPHIC_HINT = ("holds a typographic quote: replies are matched with their typographic quotes folded to ASCII "
                     "(probe.diagnosis.codes.TYPOGRAPHIC_QUOTES), so write ' or \" instead")

class Place:
    """Builds CatalogueError messages: 'rules.toml rule[3] (m365-x): field: problem'."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, problem: str) -> CatalogueError:
        return CatalogueError(f"{self.where}: {problem}")

    def text(self, table: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(f"missing {key!r}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key!r} must be a non-empty string")
        return value.strip()

    def req(self, table: Mapping[str, Any], key: str) -> str:
        value = self.text(table, key)
        assert value is not None
        return value

    def language(self, doc: Mapping[str, Any]) -> str:
        """The file's `language`: a language code like 'fr' (a lexicon or pair-word file)."""
        language = self.req(doc, "language")
        if not _LANGUAGE.match(language):
            raise self.fail(f"'language': {language!r} is not a language code like 'fr'")
        return language

    def strs(self, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"{key!r} must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def reason(self, table: Mapping[str, Any], key: str = "reason", *, required: bool = True) -> Reason | None:
        return self._member(Reason, table, key, "reason", required)

    def reasons(self, table: Mapping[str, Any], key: str) -> frozenset[Reason]:
        out: set[Reason] = set()
        for value in self.strs(table, key):
            try:
                out.add(Reason(value))
            except ValueError:
                raise self.fail(f"{key!r}: unknown reason {value!r}") from None
        return frozenset(out)

    def severity(self, table: Mapping[str, Any], *, required: bool = False) -> Severity | None:
        return self._member(Severity, table, "severity", "severity", required)

    def _member(self, enum: type[_E], table: Mapping[str, Any], key: str, what: str, required: bool) -> _E | None:
        """A value of `enum` under `key`, or a CatalogueError naming the place."""
        value = self.text(table, key, required=required)
        if value is None:
            return None
        try:
            return enum(value)
        except ValueError:
            raise self.fail(f"{key!r}: unknown {what} {value!r}") from None

    def context(self, value: object) -> Context:
        try:
            ctx = Context.parse(value) if isinstance(value, str) else None
        except ValueError:
            ctx = None
        if ctx is None:
            raise self.fail(f"unknown context {value!r}")
        return ctx

    def contexts(self, table: Mapping[str, Any]) -> frozenset[Context]:
        return frozenset(self.context(v) for v in self.strs(table, "contexts"))

    def regex(self, patterns: tuple[str, ...]) -> re.Pattern[str] | None:
        lazy = self.lazy_regex(patterns, check=True)
        return None if lazy is None else lazy.compiled()

    def lazy_regex(self, patterns: tuple[str, ...], *, check: bool) -> LazyPattern | None:
        """The patterns as one regex, compiled when first used; `check`: try each one now (CatalogueError)."""
        if not patterns:
            return None
        for p in patterns:
            if _CONTROL_CHARACTER.search(p):
                raise self.fail(f"pattern {p!r} holds a control character (a regex escape such as \\b in a "
                                "double-quoted TOML string? write patterns in single quotes)")
            if _TYPOGRAPHIC.search(p):
                raise self.fail(f"pattern {p!r} {_TYPOGRAPHIC_HINT}")
        for p in patterns if check else ():
            try:
                re.compile(p)
            except re.error as exc:
                raise self.fail(f"pattern {p!r} does not compile: {exc}") from None
        joined = "|".join(f"(?:{p})" for p in patterns)
        # Texts are searched lower-cased; IGNORECASE only when a pattern needs it (it is ~4x slower). A capital of
        # an escape that names no letter (\S, \W, \D, \B, \A, \Z) needs it in no ASCII text: such text is searched
        # without (LazyPattern.ascii_flags). Any other text keeps it: with IGNORECASE, 'i' and 's' also match the
        # lower-case letters dotless i (U+0131) and long s (U+017F).
        if joined == joined.lower():
            return LazyPattern(joined)
        # each escape (a backslash and the character after it) read as a whole: '\\S' is a backslash, then S
        letters_only = re.sub(r"\\.", lambda m: "" if m.group(0)[1] in "SWDBAZ" else m.group(0), joined)
        return LazyPattern(joined, re.IGNORECASE, 0 if letters_only == letters_only.lower() else re.IGNORECASE)

    def known(self, table: Mapping[str, Any], allowed: set[str]) -> None:
        extra = sorted(set(table) - allowed)
        if extra:
            raise self.fail(f"unknown field(s) {', '.join(extra)}")


def parse(text: str | dict[str, Any], filename: str) -> dict[str, Any]:
    """TOML text (or an already parsed document) -> dict; CatalogueError when it is not TOML."""
    if isinstance(text, dict):  # already parsed (the marshal cache of a package file)
        return text
    import tomllib  # only on a cache miss or for given text: keeps `explain` start-up low

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{filename}: not valid TOML: {exc}") from None


def array_of_tables(doc: Mapping[str, Any], key: str, filename: str) -> list[Mapping[str, Any]]:
    """The document's [[key]] tables (none when it has no `key`); CatalogueError when `key` is something else."""
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CatalogueError(f"{filename}: [[{key}]] must be an array of tables")
    return value


_NOTE_FIELDS = {"reason", "severity", "meaning", "when", "remediation", "sender", "firm"}


def _note(place: Place, table: object) -> Note:
    if not isinstance(table, dict):
        raise place.fail("must be a table")
    place.known(table, _NOTE_FIELDS)
    firm = table.get("firm", False)
    if not isinstance(firm, bool):
        raise place.fail("'firm' must be true or false")
    return Note(
        reason=place.reason(table, required=False), severity=place.severity(table),
        meaning=place.text(table, "meaning", required=False), when=place.text(table, "when", required=False),
        remediation=place.text(table, "remediation", required=False),
        sender=place.text(table, "sender", required=False), firm=firm,
    )


def _context_notes(place: Place, table: Mapping[str, Any]) -> dict[Context, Note]:
    raw = table.get("contexts", {})
    if not isinstance(raw, dict):
        raise place.fail("'contexts' must be a table of context names")
    return {place.context(name): _note(Place(f"{place.where} contexts.{name}"), note) for name, note in raw.items()}


def parse_codes(text: str | dict[str, Any]) -> dict[int, CodeEntry]:
    """codes.toml text -> {code: entry}, validated. Patterns of given text are tried now; those of the
    package's file (a parsed dict, from the marshal cache) when first used (the test suite compiles them)."""
    entries: dict[int, CodeEntry] = {}
    fields = {"code", "title", "reason", "severity", "meaning", "when", "remediation", "sender",
              "references", "contexts", "variant"}
    for i, t in enumerate(array_of_tables(parse(text, "codes.toml"), "code", "codes.toml")):
        code = t.get("code")
        place = Place(f"codes.toml code[{i}] ({code})")
        if not isinstance(code, int) or isinstance(code, bool) or not valid_code(code):
            raise place.fail("'code' must be a reply code from 200 to 599")
        if code in entries:
            raise place.fail("duplicate code")
        place.known(t, fields)
        variants = []
        for j, v in enumerate(array_of_tables(t, "variant", "codes.toml")):
            vp = Place(f"{place.where} variant[{j}] ({v.get('id')})")
            vp.known(v, {"id", "patterns", "contexts", "reason", "severity", "meaning", "remediation", "no_enhanced"})
            pattern = vp.lazy_regex(vp.strs(v, "patterns"), check=isinstance(text, str))
            if pattern is None:
                raise vp.fail("missing 'patterns'")
            reason = vp.reason(v)
            assert reason is not None
            no_enhanced = v.get("no_enhanced", False)
            if not isinstance(no_enhanced, bool):
                raise vp.fail("'no_enhanced' must be true or false")
            variants.append(Variant(vp.req(v, "id"), pattern, vp.contexts(v), reason, vp.severity(v),
                                    vp.req(v, "meaning"), vp.req(v, "remediation"), no_enhanced))
        reason = place.reason(t)
        severity = place.severity(t, required=True)
        assert reason is not None and severity is not None
        entries[code] = CodeEntry(
            code, place.req(t, "title"), reason, severity, place.req(t, "meaning"), place.req(t, "when"),
            place.req(t, "remediation"), place.req(t, "sender"), place.strs(t, "references"),
            _context_notes(place, t), tuple(variants),
        )
    return entries


def parse_enhanced(text: str | dict[str, Any]) -> dict[str, EnhancedEntry]:
    """enhanced.toml text -> {"1.1": entry, ..., "1": subject entry}, validated."""
    entries: dict[str, EnhancedEntry] = {}
    fields = {"code", "subject", "title", "meaning", "reason", "remediation", "classes", "references",
              "class", "contexts", "weak"}
    doc = parse(text, "enhanced.toml")
    for kind in ("subject", "status"):
        for i, t in enumerate(array_of_tables(doc, kind, "enhanced.toml")):
            raw = t.get("code")
            place = Place(f"enhanced.toml {kind}[{i}] ({raw})")
            place.known(t, fields)
            if kind == "subject":
                if not isinstance(raw, str) or not re.fullmatch(r"X\.[0-9]\.XXX", raw):
                    raise place.fail("subject 'code' must look like 'X.1.XXX'")
                key = raw.split(".")[1]
            else:
                parts = (split_enhanced(raw.replace("X", "5", 1))
                         if isinstance(raw, str) and raw.startswith("X.") else None)
                if parts is None:
                    raise place.fail("'code' must look like 'X.1.1'")
                key = f"{parts[1]}.{parts[2]}"
            if key in entries:
                raise place.fail("duplicate code")
            classes = t.get("classes", [2, 4, 5] if kind == "subject" else [4, 5])
            if not isinstance(classes, list) or not classes or any(c not in (2, 4, 5) for c in classes):
                raise place.fail("'classes' must list some of 2, 4, 5")
            by_class_raw = t.get("class", {})
            if not isinstance(by_class_raw, dict):
                raise place.fail("'class' must be a table keyed by class digit")
            by_class: dict[int, Note] = {}
            for digit, note in by_class_raw.items():
                if digit not in ("2", "4", "5") or int(digit) not in classes:
                    raise place.fail(f"class.{digit}: not one of this code's classes {classes}")
                by_class[int(digit)] = _note(Place(f"{place.where} class.{digit}"), note)
            weak = t.get("weak", False)
            if not isinstance(weak, bool):
                raise place.fail("'weak' must be true or false")
            reason = place.reason(t)
            assert reason is not None
            entries[key] = EnhancedEntry(
                key, place.req(t, "title"), place.req(t, "meaning"), reason, place.req(t, "remediation"),
                tuple(classes), place.strs(t, "references"), by_class, _context_notes(place, t), weak,
            )
    return entries


def parse_events(text: str | dict[str, Any]) -> dict[str, EventEntry]:
    """events.toml text -> {id: entry}, validated."""
    entries: dict[str, EventEntry] = {}
    for i, t in enumerate(array_of_tables(parse(text, "events.toml"), "event", "events.toml")):
        place = Place(f"events.toml event[{i}] ({t.get('id')})")
        place.known(t, {"id", "reason", "severity", "meaning", "remediation", "when", "contexts"})
        event_id = place.req(t, "id")
        if not _ID.match(event_id) or event_id in entries:
            raise place.fail("'id' must be unique kebab-case")
        reason, severity = place.reason(t), place.severity(t, required=True)
        assert reason is not None and severity is not None
        meaning = place.req(t, "meaning")
        if meaning.count("{detail}") > 1 or ("{detail}" in meaning and not DETAIL_SLOT.search(meaning)):
            raise place.fail("'meaning' may hold one optional part '[... {detail} ...]' and no bare {detail}")
        entries[event_id] = EventEntry(event_id, reason, severity, meaning, place.req(t, "remediation"),
                                       place.req(t, "when"), _context_notes(place, t))
    return entries


def _examples(place: Place, table: Mapping[str, Any], key: str) -> tuple[Example, ...]:
    raw = table.get(key, [])
    if not isinstance(raw, list):
        raise place.fail(f"{key!r} must be a list of tables")
    out = []
    for j, ex in enumerate(raw):
        ep = Place(f"{place.where} {key}[{j}]")
        if not isinstance(ex, dict):
            raise ep.fail("must be a table with 'text'")
        ep.known(ex, {"text", "context", "host", "source", "reason"})
        ctx = ex.get("context")
        out.append(Example(ep.req(ex, "text"), None if ctx is None else ep.context(ctx),
                           ep.text(ex, "host", required=False)))
    return tuple(out)


def _enhanced_constraint(place: Place, value: str, codes: frozenset[int]) -> str:
    if not (split_enhanced(value) or _ENHANCED_PREFIX.match(value)):
        raise place.fail(f"'enhanced': {value!r} is neither a status code nor a prefix like '5.7.'")
    for code in codes:
        if str(code)[0] != value[0]:
            raise place.fail(f"'enhanced': {value!r} disagrees with code {code} (class digit)")
    return value


def parse_rules(text: str | dict[str, Any], filename: str = "rules.toml", *, start: int = 0,
                seen: set[str] | None = None, check_patterns: bool = True) -> tuple[Rule, ...]:
    """One rules file's text -> rules in file order, validated.

    `start`: position of its first rule in the whole catalogue; `seen`: ids of earlier files (no duplicates).
    `check_patterns` False: patterns are compiled when first used, not tried now (the package's own
    files, whose patterns the test suite compiles)."""
    rules: list[Rule] = []
    seen = set() if seen is None else seen
    fields = {"id", "providers", "codes", "enhanced", "contexts", "patterns", "reason", "severity", "meaning",
              "remediation", "references", "examples", "not_examples", "context_only",
              "server_wide"}
    for i, t in enumerate(array_of_tables(parse(text, filename), "rule", filename), start=start):
        place = Place(f"{filename} rule[{i - start}] ({t.get('id')})")
        place.known(t, fields)
        rule_id = place.req(t, "id")
        if not _ID.match(rule_id):
            raise place.fail("'id' must be kebab-case")
        if rule_id in seen:
            raise place.fail("duplicate id")
        seen.add(rule_id)
        raw_codes = t.get("codes", [])
        if not isinstance(raw_codes, list) or not all(isinstance(c, int) and valid_code(c) for c in raw_codes):
            raise place.fail("'codes' must be a list of reply codes 200-599")
        codes = frozenset(raw_codes)
        enhanced = tuple(_enhanced_constraint(place, e, codes) for e in place.strs(t, "enhanced"))
        patterns = place.strs(t, "patterns")
        pattern = place.lazy_regex(patterns, check=check_patterns)
        if pattern is None and not enhanced:
            raise place.fail("a rule needs 'patterns' or 'enhanced'")
        reason = place.reason(t)
        assert reason is not None
        literals = required_literals(patterns, pattern.flags) if pattern is not None else None
        context_only = t.get("context_only", False)
        if not isinstance(context_only, bool) or (context_only and not place.contexts(t)):
            raise place.fail("'context_only' must be true or false, and true only with 'contexts'")
        server_wide = t.get("server_wide", False)
        if not isinstance(server_wide, bool):
            raise place.fail("'server_wide' must be true or false")
        rules.append(Rule(
            rule_id, i, reason, place.severity(t), place.req(t, "meaning"), place.req(t, "remediation"),
            pattern, codes, enhanced, place.contexts(t),
            frozenset(place.strs(t, "providers")), place.strs(t, "references"), _examples(place, t, "examples"),
            _examples(place, t, "not_examples"), literals, context_only, server_wide,
        ))
    return tuple(rules)


# A provider pattern without literals is searched in every reply text (providers are tried on each reply the host
# does not name), so even two letters are worth a key: GoDaddy's '\bib\d{3}\b' error codes need 'ib', found in
# 2 % of the corpus replies, where its search cost 5 % of classifying every reply.
_PROVIDER_SHORTEST = 2


def parse_providers(text: str | dict[str, Any]) -> tuple[Provider, ...]:
    """providers.toml text -> providers in file order, validated (patterns: as parse_codes)."""
    out: list[Provider] = []
    seen: set[str] = set()
    for i, t in enumerate(array_of_tables(parse(text, "providers.toml"), "provider", "providers.toml")):
        place = Place(f"providers.toml provider[{i}] ({t.get('id')})")
        place.known(t, {"id", "name", "hosts", "patterns", "url", "postmaster", "notes"})
        pid = place.req(t, "id")
        if not _ID.match(pid) or pid in seen:
            raise place.fail("'id' must be unique kebab-case")
        seen.add(pid)
        hosts = tuple(h.lower().rstrip(".") for h in place.strs(t, "hosts"))
        patterns = place.strs(t, "patterns")
        pattern = place.lazy_regex(patterns, check=isinstance(text, str))
        out.append(Provider(pid, place.req(t, "name"), hosts, pattern,
                            place.text(t, "postmaster", required=False) or place.text(t, "url", required=False) or "",
                            required_literals(patterns, pattern.flags, _PROVIDER_SHORTEST) if pattern is not None
                            else None))
    return tuple(out)


_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
# What a lexicon may point to: every reason but the verdicts of success and the "could not tell" ones, which
# only the codes (or a live session's failure) can give.
NOT_FROM_WORDS = frozenset({Reason.ACCEPTED, Reason.CANNOT_VERIFY, Reason.WILL_FORWARD, Reason.UNKNOWN,
                             Reason.PROTOCOL_ERROR})


def plain_lower(value: str) -> bool:
    """Written as the lower-cased, whitespace-collapsed texts it is matched in: lower-case, single-spaced, not
    padded (a lexicon phrase, a pair word)."""
    return value == value.strip() and value == value.lower() and "  " not in value


def parse_lexicon(text: str | dict[str, Any], filename: str = "lexicon.toml") -> tuple[Phrase, ...]:
    """One lexicon file's text -> its phrases in file order, validated.

    The file: `language = "fr"`, an optional `topics = true` (its phrases are topic words: single words or short
    collocations that name a cause, weighing under a phrase), then `[[group]]` tables with `reason`, `source` (where
    the phrases were seen), `phrases` (lower-case, no surrounding spaces) and an optional `weight` (default 1, at
    most 3)."""
    doc = parse(text, filename)
    top = Place(filename)
    top.known(doc, {"language", "topics", "group"})
    language = top.language(doc)
    topics = doc.get("topics", False)
    if not isinstance(topics, bool):
        raise top.fail("'topics' must be true or false")
    phrases: list[Phrase] = []
    seen: set[tuple[str, Reason]] = set()
    for i, t in enumerate(array_of_tables(doc, "group", filename)):
        place = Place(f"{filename} group[{i}] ({t.get('reason')})")
        place.known(t, {"reason", "source", "phrases", "weight"})
        reason = place.reason(t)
        assert reason is not None
        if reason in NOT_FROM_WORDS:
            raise place.fail(f"'reason': {reason.value} is given by reply codes, never by words")
        source = place.req(t, "source")
        weight = t.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 3:
            raise place.fail("'weight' must be a number above 0 and at most 3")
        if topics and weight >= 1:
            raise place.fail("'weight': topic words must weigh less than a phrase (under 1)")
        raw = t.get("phrases")
        if not isinstance(raw, list) or not raw:
            raise place.fail("'phrases' must be a non-empty list of strings")
        for j, value in enumerate(raw):
            if not isinstance(value, str) or len(value.strip()) < 2:
                raise place.fail(f"phrases[{j}]: must be a string of at least two characters")
            if not plain_lower(value):
                raise place.fail(f"phrases[{j}] {value!r}: must be lower-case, single-spaced, not padded")
            if _TYPOGRAPHIC.search(value):
                raise place.fail(f"phrases[{j}] {value!r} {_TYPOGRAPHIC_HINT}")
            if (value, reason) in seen:
                raise place.fail(f"phrases[{j}] {value!r}: repeated for {reason.value} in this file")
            seen.add((value, reason))
            phrases.append(Phrase(value, reason, float(weight), language, source, f"{filename} group[{i}]", topics))
    return tuple(phrases)


def scoring_numbers(doc: dict[str, Any], filename: str, keys: tuple[str, ...]) -> dict[str, float]:
    """The [scoring] table of a catalogue file: exactly `keys`, each a number of at least 0."""
    scoring = doc.get("scoring", {})
    if not isinstance(scoring, dict):
        raise Place(filename).fail("[scoring] must be a table")
    sp = Place(f"{filename} scoring")
    sp.known(scoring, set(keys))
    numbers: dict[str, float] = {}
    for key in keys:
        value = scoring.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise sp.fail(f"{key!r} must be a number of at least 0")
        numbers[key] = float(value)
    return numbers


def parse_evidence(text: str | dict[str, Any]) -> Evidence:
    """evidence.toml text -> what the reply class, the enhanced code's subject and the command say, validated."""
    filename = "evidence.toml"
    doc = parse(text, filename)
    top = Place(filename)
    top.known(doc, {"scoring", "class", "subject", "context"})
    numbers = scoring_numbers(doc, filename, ("bonus", "penalty", "threshold"))
    favours: dict[str, frozenset[Reason]] = {}
    disfavours: dict[str, frozenset[Reason]] = {}
    valid = {"class": {"2", "3", "4", "5"}, "subject": {str(n) for n in range(8)}}
    for kind in ("class", "subject", "context"):
        table = doc.get(kind, {})
        if not isinstance(table, dict):
            raise top.fail(f"[{kind}] must be a table")
        for name, entry in table.items():
            place = Place(f"{filename} {kind}.{name}")
            if kind == "context":
                name = place.context(name).value
            elif name not in valid[kind]:
                raise place.fail(f"unknown {kind} {name!r}")
            if not isinstance(entry, dict):
                raise place.fail("must be a table with 'favours' and/or 'disfavours'")
            place.known(entry, {"favours", "disfavours"})
            for field_name, out in (("favours", favours), ("disfavours", disfavours)):
                reasons = place.reasons(entry, field_name)
                if reasons:
                    out[f"{kind}:{name}"] = reasons
    return Evidence(favours, disfavours, numbers["bonus"], numbers["penalty"], numbers["threshold"])


class ReasonTexts:
    """What reasons.toml says of a reason. A plain class: a NamedTuple or dataclass costs `explain 252` start-up
    (this module is imported by every run) for three strings."""

    __slots__ = ("bounced", "meaning", "remediation")

    def __init__(self, meaning: str, remediation: str, bounced: str | None = None) -> None:
        self.meaning = meaning  # what a reply giving it means, when words (not a rule) decided
        self.remediation = remediation  # what to do then
        self.bounced = bounced  # to someone whose mail bounced with such a reply (ahead of the code's advice)


def parse_reason_texts(text: str | dict[str, Any]) -> dict[Reason, ReasonTexts]:
    """reasons.toml text -> {reason: its texts}: what to say when the lexicon decided, and to whom mail bounced."""
    out: dict[Reason, ReasonTexts] = {}
    for i, t in enumerate(array_of_tables(parse(text, "reasons.toml"), "reason", "reasons.toml")):
        place = Place(f"reasons.toml reason[{i}] ({t.get('id')})")
        place.known(t, {"id", "meaning", "remediation", "bounced"})
        reason = place.reason(t, "id")
        assert reason is not None
        if reason in out:
            raise place.fail("duplicate reason")
        out[reason] = ReasonTexts(place.req(t, "meaning"), place.req(t, "remediation"),
                                  place.text(t, "bounced", required=False))
    return out
