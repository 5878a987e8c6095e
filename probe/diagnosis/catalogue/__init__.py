"""Data layer: load and validate the shipped TOML catalogue. Pure: reads package data only, no network.

Each file is parsed lazily, once, the first time a part is needed (`smtp-probe explain 252`
reads codes.toml only). Order is file order everywhere. Malformed data raises CatalogueError
naming the file, the entry and the field.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from probe import caches
from probe.diagnosis.catalogue.entries import (
    CodeEntry,
    EnhancedEntry,
    EventEntry,
    Evidence,
    Example,
    Note,
    Phrase,
    Provider,
    Rule,
    Variant,
)
from probe.diagnosis.catalogue.literals import required_literals
from probe.diagnosis.catalogue.parsing import (
    ReasonTexts,
    parse,
    parse_codes,
    parse_enhanced,
    parse_events,
    parse_evidence,
    parse_lexicon,
    parse_providers,
    parse_reason_texts,
    parse_rules,
)
from probe.diagnosis.catalogue.prefilter import LiteralIndex, PhraseIndex
from probe.errors import CatalogueError
from probe.model import Reason

if TYPE_CHECKING:
    from probe.diagnosis.catalogue.learnedwords import LearnedWords
    from probe.diagnosis.catalogue.pairwords import PairTable

__all__ = [
    "Catalogue", "CodeEntry", "EnhancedEntry", "EventEntry", "Evidence", "Example", "LiteralIndex", "Note", "Phrase",
    "PhraseIndex", "Provider", "Rule", "Variant", "default", "load", "parse_codes", "parse_enhanced", "parse_events",
    "parse_evidence", "parse_lexicon", "parse_providers", "parse_rules", "required_literals",
]

_HERE = os.path.dirname(os.path.abspath(__file__))
RULES_DIR = "rules"  # wording rules, one file per family of servers; files are tried in name order
LEXICON_DIR = "lexicon"  # phrase lexicon: files per language (en.toml phrases, en-topics.toml topic words)
PAIRS_DIR = "pairs"  # the general pair layer: cells.toml and the subject/predicate words per language (en.toml)
PAIR_CELLS = f"{PAIRS_DIR}/cells.toml"


def _through_cache(sub: str, prefix: str, key: str, build: Callable[[], Any], *, codec: Any,
                   valid: Callable[[Any], bool]) -> Any:
    """`build()`, or what an earlier run stored for the same `key` in this package's caches (`sub`: a folder
    in them): its __pycache__, or the user's cache where that cannot be written (probe.caches).

    The file is `<prefix>.<key>.<codec name>`; files of other keys with the same prefix are removed when a
    new one is written. `codec` is marshal or pickle; a cache that cannot be read, written or checked by
    `valid` is ignored (with neither place writable, every run builds)."""
    suffix = codec.__name__
    name = f"{prefix}.{key}.{suffix}"
    found = caches.places(_HERE, sub)

    def decode(data: bytes) -> Any:
        value = codec.loads(data)
        if not valid(value):
            raise ValueError("not what this version stores")
        return value

    value = caches.load(found, name, decode)
    if value is None:
        value = build()
        try:
            data = codec.dumps(value)
        except Exception:  # a value the codec cannot store (any error it raises): not cached
            return value
        caches.store(found, name, data, lambda old: old.startswith(f"{prefix}.") and old.endswith(f".{suffix}"))
    return value


def _package_doc(filename: str) -> dict[str, Any] | None:
    """A package TOML file parsed, through a marshal cache in __pycache__ (like .pyc files) or the user's.

    tomllib is pure Python (about 0.2 ms per KB); the cache keeps `smtp-probe explain` start-up low.
    The cache is keyed on the file's size and mtime and ignored when unreadable or unwritable.
    """
    path = os.path.join(_HERE, filename)
    try:
        st = os.stat(path)
    except OSError:
        return _resource_doc(filename)

    def build() -> dict[str, Any]:
        with open(path, encoding="utf-8") as fh:
            return parse(fh.read(), filename)

    doc: dict[str, Any] = _through_cache(
        os.path.dirname(filename), os.path.basename(filename),
        f"{st.st_size}.{st.st_mtime_ns}", build, codec=marshal, valid=lambda d: isinstance(d, dict))
    return doc


def _data_files(directory: str) -> list[str]:
    """The shipped TOML files of a directory ('rules/NN-name.toml'), in name order (the order rules are tried in)."""
    try:
        names = os.listdir(os.path.join(_HERE, directory))
    except OSError:  # not plain files (zip): importlib.resources
        from importlib import resources

        names = [p.name for p in resources.files(__name__).joinpath(directory).iterdir()]
    return [f"{directory}/{n}" for n in sorted(names) if n.endswith(".toml")]


def _parse_package_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for filename in _data_files(RULES_DIR):
        doc = _package_doc(filename)
        if doc is not None:
            rules.extend(parse_rules(doc, filename, start=len(rules), seen=seen, check_patterns=False))
    return tuple(rules)


_BUILDERS = ("__init__", "entries", "literals", "parsing", "prefilter")  # modules whose code shapes what is cached


def _through_pickle(prefix: str, files: list[str], build: Callable[[], Any], valid: Callable[[Any], bool]) -> Any:
    """`build()` through a pickle cache in __pycache__ (next to the .pyc files) or the user's, keyed on the size
    and mtime of `files` (catalogue data) and of the modules that build catalogue data, and on the Python version.
    The cache holds that key in full beside the value, so a checksum that happens to collide cannot bring a stale
    one."""
    import pickle
    import sys
    import zlib  # not hashlib: importing it (OpenSSL) costs more than the rest of this

    try:
        sources = [os.path.join(_HERE, f) for f in files] + [os.path.join(_HERE, f"{m}.py") for m in _BUILDERS]
        stamp = repr([sys.version] + [(os.path.relpath(p, _HERE), st.st_size, st.st_mtime_ns)
                                      for p in sources for st in [os.stat(p)]])
    except OSError:  # not plain files (zip): no cache
        return build()
    digest = f"{zlib.crc32(stamp.encode()):08x}{len(stamp):x}"
    stamped = _through_cache("", prefix, digest, lambda: (stamp, build()), codec=pickle,
                             valid=lambda cached: isinstance(cached, tuple) and len(cached) == 2
                             and cached[0] == stamp and valid(cached[1]))
    return stamped[1]


def _pair_of(item: type, index: type) -> Callable[[Any], bool]:
    """The check of a cached (items, their index) pair: a tuple of `item`s and an `index`."""
    return lambda cached: (isinstance(cached, tuple) and len(cached) == 2 and isinstance(cached[1], index)
                           and all(isinstance(x, item) for x in cached[0]))


def rule_index(rules: tuple[Rule, ...]) -> LiteralIndex:
    """Which rules (by position) may match a text, from their required literals; the rules' examples show
    which words are common in replies."""
    return LiteralIndex(((i, r.literals) for i, r in enumerate(rules)), sample=_example_texts(rules))


def provider_index(providers: tuple[Provider, ...], rules: tuple[Rule, ...]) -> LiteralIndex:
    """Which providers (by position) may have written a text, from their literals."""
    return LiteralIndex(((i, p.literals) for i, p in enumerate(providers) if p.pattern is not None),
                        sample=_example_texts(rules))


def _example_texts(rules: tuple[Rule, ...]) -> list[str]:
    return [ex.text for r in rules for ex in r.examples]


def _package_rules() -> tuple[tuple[Rule, ...], LiteralIndex]:
    """The package's rules, validated, and their index, through a pickle cache: validating the rules, finding
    their required literals and indexing them costs more than the rest of the catalogue."""

    def build() -> tuple[tuple[Rule, ...], LiteralIndex]:
        rules = _parse_package_rules()
        return rules, rule_index(rules)

    result: tuple[tuple[Rule, ...], LiteralIndex] = _through_pickle("rules", _data_files(RULES_DIR), build,
                                                                     _pair_of(Rule, LiteralIndex))
    return result


def _package_providers() -> tuple[tuple[Provider, ...], LiteralIndex]:
    """The package's providers, validated, and their index (keyed by words the rules' examples show to be
    rare, so the rules files are part of the key), through a pickle cache."""

    def build() -> tuple[tuple[Provider, ...], LiteralIndex]:
        doc = _package_doc("providers.toml")
        providers = parse_providers(doc) if doc is not None else ()
        return providers, provider_index(providers, _package_rules()[0])

    files = ["providers.toml", *_data_files(RULES_DIR)]
    result: tuple[tuple[Provider, ...], LiteralIndex] = _through_pickle("providers", files, build,
                                                                             _pair_of(Provider, LiteralIndex))
    return result


def _parse_package_lexicon() -> tuple[Phrase, ...]:
    phrases: list[Phrase] = []
    for filename in _data_files(LEXICON_DIR):
        doc = _package_doc(filename)
        if doc is not None:
            phrases.extend(parse_lexicon(doc, filename))
    return tuple(phrases)


def _package_lexicon() -> tuple[tuple[Phrase, ...], PhraseIndex]:
    """The package's lexicon, validated, and its index, through a pickle cache (as `_package_rules`)."""

    def build() -> tuple[tuple[Phrase, ...], PhraseIndex]:
        phrases = _parse_package_lexicon()
        return phrases, PhraseIndex((p.text for p in phrases), sample=_example_texts(_package_rules()[0]))

    files = [*_data_files(LEXICON_DIR), *_data_files(RULES_DIR)]  # the rules' examples choose the index keys
    result: tuple[tuple[Phrase, ...], PhraseIndex] = _through_pickle("lexicon", files, build,
                                                                         _pair_of(Phrase, PhraseIndex))
    return result


def _package_learned() -> LearnedWords:
    """The package's learned words, validated, through a pickle cache (as `_package_rules`): validating their
    provenance costs ten times loading them."""
    from probe.diagnosis.catalogue.learnedwords import NO_WORDS, LearnedWords, parse_learned

    def build() -> LearnedWords:
        doc = _package_doc("learned.toml")
        return parse_learned(doc) if doc is not None else NO_WORDS

    result: LearnedWords = _through_pickle("learned", ["learned.toml", "learnedwords.py"], build,
                                           lambda cached: isinstance(cached, LearnedWords))
    return result


def _resource_doc(filename: str) -> dict[str, Any] | None:
    """Fallback for installs where the package is not plain files (zip): importlib.resources."""
    from importlib import resources

    try:
        text = resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None
    return parse(text, filename)


class Catalogue:
    """The catalogue's parts, each parsed on first use. Built by `load()`; the default one is shared."""

    def __init__(self, texts: Mapping[str, str | None]) -> None:
        self._texts = dict(texts)
        self._parsed: dict[str, Any] = {}
        self.memo: dict[str, Any] = {}  # derived data the engine computes once per catalogue

    def _get(self, filename: str, parser: Callable[[str | dict[str, Any]], Any], empty: Any) -> Any:
        if filename not in self._parsed:
            text: str | dict[str, Any] | None = self._texts.get(filename)
            if text is None and filename not in self._texts:
                text = _package_doc(filename)
            self._parsed[filename] = empty if text is None else parser(text)
        return self._parsed[filename]

    @property
    def codes(self) -> dict[int, CodeEntry]:
        result: dict[int, CodeEntry] = self._get("codes.toml", parse_codes, {})
        return result

    @property
    def enhanced(self) -> dict[str, EnhancedEntry]:
        result: dict[str, EnhancedEntry] = self._get("enhanced.toml", parse_enhanced, {})
        return result

    @property
    def events(self) -> dict[str, EventEntry]:
        result: dict[str, EventEntry] = self._get("events.toml", parse_events, {})
        return result

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every wording rule in the order they are tried: the files of rules/ by name, each in file order.

        A catalogue built with `load(rules=TEXT)` has that one text instead (named rules.toml in errors)."""
        if "rules" not in self._parsed:
            if "rules.toml" in self._texts:
                given = self._texts["rules.toml"]
                self._parsed["rules"] = () if given is None else parse_rules(given)
            else:
                self._parsed["rules"], index = _package_rules()
                self.memo.setdefault("rule_index", index)
        result: tuple[Rule, ...] = self._parsed["rules"]
        return result

    def rule(self, rule_id: str | None) -> Rule | None:
        """The wording rule with this id (None: no such rule, or None given)."""
        by_id: dict[str, Rule] | None = self.memo.get("rules_by_id")
        if by_id is None:
            by_id = self.memo["rules_by_id"] = {r.id: r for r in self.rules}
        return by_id.get(rule_id) if rule_id is not None else None

    def server_wide(self, rule_id: str | None) -> bool:
        """Whether the rule says the server limits or refuses every client at once, not this one (`server_wide`
        in rules/*.toml: Exim's smtp_accept_max)."""
        rule = self.rule(rule_id)
        return rule is not None and rule.server_wide

    @property
    def lexicon(self) -> tuple[Phrase, ...]:
        """Every lexicon phrase: the files of lexicon/ by name, each in file order. Never needed to explain a
        bare code. A catalogue built with `load(lexicon=TEXT)` has that one text instead (lexicon.toml)."""
        if "lexicon" not in self._parsed:
            if "lexicon.toml" in self._texts:
                given = self._texts["lexicon.toml"]
                self._parsed["lexicon"] = () if given is None or not given.strip() else parse_lexicon(given)
            else:
                self._parsed["lexicon"], index = _package_lexicon()
                self.memo.setdefault("phrase_index", index)
        result: tuple[Phrase, ...] = self._parsed["lexicon"]
        return result

    @property
    def phrase_index(self) -> PhraseIndex:
        """Which lexicon phrases (by position in `lexicon`) occur in a text."""
        index: PhraseIndex | None = self.memo.get("phrase_index")
        if index is None:
            lexicon = self.lexicon  # the package's comes with its index
            index = self.memo.get("phrase_index") or self.memo.setdefault(
                "phrase_index", PhraseIndex((p.text for p in lexicon), sample=_example_texts(self.rules)))
        return index

    @property
    def evidence(self) -> Evidence:
        """What the reply class, the enhanced code's subject and the command say, for the lexicon's scoring."""
        result: Evidence | None = self._parsed.get("evidence.toml")
        if result is None:  # first use: the lexicon asks for it for each reply it judges, so no default is built then
            result = self._get("evidence.toml", parse_evidence, Evidence({}, {}, 0.0, 0.0, 1.0))
        return result

    @property
    def learned(self) -> LearnedWords:
        """The words learned from the rules' examples and the lexicon's phrases (learned.toml), for replies
        neither the rules nor the lexicon decide. Never needed to explain a bare code."""
        result: LearnedWords | None = self._parsed.get("learned.toml")
        if result is None:
            from probe.diagnosis.catalogue.learnedwords import NO_WORDS, parse_learned

            if "learned.toml" not in self._texts:
                self._parsed["learned.toml"] = _package_learned()
            result = self._get("learned.toml", parse_learned, NO_WORDS)
        return result

    @property
    def pairs(self) -> PairTable:
        """The general pair layer's words and cells (pairs/*.toml), for replies neither the rules nor the lexicon
        decide. Never needed to explain a bare code. `load(pairs=TEXT)`: that cells.toml text with the
        package's words; `load(pairs="")`: no pairs."""
        result: PairTable | None = self._parsed.get("pairs")
        if result is None:
            from probe.diagnosis.catalogue.pairwords import build_table

            files = [f for f in _data_files(PAIRS_DIR) if f != PAIR_CELLS]
            cells = self._texts["pairs"] if "pairs" in self._texts else _package_doc(PAIR_CELLS)
            result = build_table(cells or None, [(f, _package_doc(f) or {}) for f in files])
            self._parsed["pairs"] = result
        return result

    @property
    def reason_texts(self) -> dict[Reason, ReasonTexts]:
        """What reasons.toml says of each reason the lexicon can give: meaning and remediation for when words
        decided, and the advice to someone whose mail bounced with such a reply."""
        result: dict[Reason, ReasonTexts] = self._get("reasons.toml", parse_reason_texts, {})
        return result

    @property
    def providers(self) -> tuple[Provider, ...]:
        result: tuple[Provider, ...] | None = self._parsed.get("providers.toml")
        if result is None:
            if "providers.toml" not in self._texts:
                self._parsed["providers.toml"], index = _package_providers()
                self.memo.setdefault("provider_index", index)
            result = self._get("providers.toml", parse_providers, ())
        return result

    def provider_name(self, provider_id: str | None) -> str | None:
        """'microsoft' -> 'Microsoft 365 / Exchange Online / Outlook.com'; None for an unknown id."""
        if not provider_id:
            return None
        names: dict[str, str] | None = self.memo.get("provider_names")
        if names is None:
            names = self.memo["provider_names"] = {p.id: p.name for p in self.providers}
        return names.get(provider_id)

    def provider_of(self, host: str | None, text: str, words: frozenset[str] | None = None) -> str | None:
        """The id of the provider whose MX host names end like `host`, or else whose wording `text` has, or None.

        `words`: text_words(text) when the caller has them already (text is then lower-case)."""
        found = self._provider_by_host(host) if host else None
        return found if found is not None else self._provider_by_text(text, words)

    def _provider_by_host(self, host: str) -> str | None:
        name = host.strip().lower().rstrip(".")
        memo: dict[str, str | None] = self.memo.setdefault("provider_by_host", {})
        if name in memo:
            return memo[name]
        found = next((p.id for p in self.providers
                      if any(name.endswith(s) or name == s.lstrip(".") for s in p.hosts)), None)
        if len(memo) < 4096:  # bounded: a long batch run meets many hosts
            memo[name] = found
        return found

    def _provider_by_text(self, text: str, words: frozenset[str] | None) -> str | None:
        lowered = text if words is not None else text.lower()
        providers = self.providers
        for position in sorted(self.provider_index.candidates(lowered, words)):
            pattern = providers[position].pattern
            if pattern is not None and pattern.search(lowered):
                return providers[position].id
        return None

    @property
    def rule_index(self) -> LiteralIndex:
        """Which rules (by position in `rules`) may match a text, from their required literals."""
        index: LiteralIndex | None = self.memo.get("rule_index")
        if index is None:
            rules = self.rules  # the package's come with their index
            index = self.memo.get("rule_index") or self.memo.setdefault("rule_index", rule_index(rules))
        return index

    def rules_for(self, code: int | None) -> frozenset[int]:
        """Positions of the rules whose code constraints admit a reply with this basic code."""
        by_code: dict[int | None, frozenset[int]] | None = self.memo.get("rules_for")
        if by_code is None:
            by_code = self.memo["rules_for"] = {}
        cached = by_code.get(code)
        if cached is None:
            digit = None if code is None else str(code)[0]
            cached = by_code[code] = frozenset(
                i for i, r in enumerate(self.rules)
                if (not r.codes or code in r.codes)
                and (not r.enhanced or code is None or any(e[0] == digit for e in r.enhanced))
            )
        return cached

    @property
    def provider_index(self) -> LiteralIndex:
        """Which providers (by position in `providers`) may have written a text, from their literals."""
        index: LiteralIndex | None = self.memo.get("provider_index")
        if index is None:
            providers = self.providers  # the package's come with their index
            index = self.memo.get("provider_index") or self.memo.setdefault(
                "provider_index", provider_index(providers, self.rules))
        return index

    def validate(self) -> Catalogue:
        """Parse every part now (raises CatalogueError on the first problem) and return self."""
        _ = (self.codes, self.enhanced, self.events, self.rules, self.providers, self.lexicon, self.evidence,
             self.learned, self.pairs)
        known = {p.id for p in self.providers}
        for rule in self.rules:
            unknown = sorted(rule.providers - known) if known else []
            if unknown:
                raise CatalogueError(f"rule {rule.id} (#{rule.index}): unknown provider(s) {unknown}")
        texts = self.reason_texts
        for phrase in self.lexicon:
            if phrase.reason not in texts:
                raise CatalogueError(f"{phrase.where}: reasons.toml says nothing about {phrase.reason.value} "
                                     f"(phrase {phrase.text!r})")
        for cell in self.pairs.cells.values():
            for reason in (cell.reason, *cell.contexts.values()):
                if reason not in texts:
                    raise CatalogueError(f"pairs/cells.toml cell {cell.subject} x {cell.predicate}: reasons.toml says "
                                         f"nothing about {reason.value}")
        # the rules the words were learned from: the package's (a catalogue given other rules has other ids)
        rule_ids = {rule.id for rule in self.rules} if "rules.toml" not in self._texts else None
        for word in self.learned.words.values():
            if word.reason not in texts:
                raise CatalogueError(f"learned.toml word {word.word!r}: reasons.toml says nothing about "
                                     f"{word.reason.value}")
            unknown = sorted(set(word.rules) - rule_ids) if rule_ids is not None else []
            if unknown:
                raise CatalogueError(f"learned.toml word {word.word!r}: unknown rule(s) {unknown}: regenerate it "
                                     "(tools/learn_words.py)")
        return self


def load(*, codes: str | None = None, enhanced: str | None = None, events: str | None = None,
         rules: str | None = None, providers: str | None = None, lexicon: str | None = None,
         evidence: str | None = None, learned: str | None = None, pairs: str | None = None) -> Catalogue:
    """A validated catalogue from TOML texts; a part not given comes from the package files.

    `rules=""` gives a catalogue without wording rules (the lexicon alone), `lexicon=""` one without phrases,
    `learned=""` one without learned words, `pairs=""` one without the pair layer (`pairs=TEXT`: that cells.toml
    with the package's subject and predicate words)."""
    given = {"codes.toml": codes, "enhanced.toml": enhanced, "events.toml": events, "rules.toml": rules,
             "providers.toml": providers, "lexicon.toml": lexicon, "evidence.toml": evidence, "learned.toml": learned,
             "pairs": pairs}
    return Catalogue({k: v for k, v in given.items() if v is not None}).validate()


@cache
def default() -> Catalogue:
    """The shipped catalogue, shared, each part parsed on first use."""
    return Catalogue({})
