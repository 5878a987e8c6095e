"""Catalogue invariants: coverage of the RFCs and the IANA registry, rule examples, loader errors."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from probe.diagnosis.catalogue import default, load
from probe.diagnosis.catalogue.entries import LazyPattern
from probe.diagnosis.classifier import diagnose
from probe.diagnosis.codes import parse
from probe.errors import CatalogueError

RFC_BASIC_CODES = {
    # RFC 5321
    211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503, 504, 550, 551, 552,
    553, 554, 555,
    521, 556,  # RFC 7504
    454, 530,  # RFC 3207
    235, 334, 432, 534, 535, 538,  # RFC 4954
}
# IANA "SMTP Enhanced Status Codes" registry, subject.detail (X.0.0 .. X.7.30).
IANA_ENHANCED = (
    ["0.0"] + [f"1.{d}" for d in range(0, 11)] + [f"2.{d}" for d in range(0, 5)] + [f"3.{d}" for d in range(0, 7)]
    + [f"4.{d}" for d in range(0, 8)] + [f"5.{d}" for d in range(0, 7)] + [f"6.{d}" for d in range(0, 11)]
    + [f"7.{d}" for d in range(0, 31)]
)
EVENT_IDS = {
    "connect-refused", "connect-timeout", "connect-unreachable", "connection-reset", "connection-closed",
    "reply-timeout", "protocol-error", "reply-too-long", "tls-handshake-failed", "tls-untrusted",
    "starttls-not-offered", "deadline-exceeded", "dns-nxdomain", "dns-servfail", "dns-timeout", "null-mx",
    "no-mail-hosts", "smtputf8-required", "proxy-failed", "port25-blocked", "dns-refused", "quit-sent",
    "not-asked",
}


def test_shipped_catalogue_validates() -> None:
    cat = load()
    assert cat.codes and cat.enhanced and cat.events


def test_every_rfc_basic_code_has_an_entry_with_all_fields() -> None:
    codes = default().codes
    assert set(codes) >= RFC_BASIC_CODES, sorted(RFC_BASIC_CODES - set(codes))
    for entry in codes.values():
        for text in (entry.title, entry.meaning, entry.when, entry.remediation, entry.sender):
            assert len(text) > 10, entry.code
        assert entry.references, entry.code


def test_every_iana_enhanced_code_and_subject_present() -> None:
    enhanced = default().enhanced
    missing = [k for k in IANA_ENHANCED if k not in enhanced]
    assert not missing, missing
    assert all(str(s) in enhanced for s in range(0, 8))


def test_enhanced_entries_have_distinct_titles_but_the_registered_duplicate() -> None:
    """IANA registered X.6.10 with X.6.8's summary and marks it a deprecated duplicate; no other repeats."""
    by_title: dict[str, list[str]] = {}
    for key, entry in default().enhanced.items():
        if "." in key:
            by_title.setdefault(entry.title, []).append(key)
    repeated = {title: keys for title, keys in by_title.items() if len(keys) > 1}
    assert repeated == {"UTF-8 string reply is required, but not permitted by the SMTP client": ["6.8", "6.10"]}


def test_registry_facts_for_x_6_10_and_x_7_28() -> None:
    enhanced = default().enhanced
    duplicate = enhanced["6.10"]
    assert "duplicate of X.6.8" in duplicate.meaning and "deprecated" in duplicate.meaning
    assert duplicate.reason is enhanced["6.8"].reason and duplicate.classes == enhanced["6.8"].classes
    flood = enhanced["7.28"]
    assert flood.title == "Mail flood detected"
    assert "part of a mail flood of similar abusive messages" in flood.meaning
    assert flood.classes == (4, 5)
    assert any("iana.org/assignments/smtp-enhanced-status-codes" in r for r in flood.references)
    assert "third-party server" in enhanced["7.14"].meaning  # RFC 5248: BURL trust, not peer allowlisting


def test_every_event_id_present() -> None:
    assert set(default().events) == EVENT_IDS


def _rule_ids() -> list[str]:
    return [r.id for r in default().rules]


def test_rule_ids_unique() -> None:
    ids = _rule_ids()
    assert len(ids) == len(set(ids))


def test_every_wording_rule_cites_its_source() -> None:
    """Issue 10: each rule's wording comes from a real, cited source (an MTA's source file, an RFC, a provider's
    published page, or a phrase table that quotes real bounces) -- never a wording made up for the rule."""
    uncited = [r.id for r in default().rules if not any(ref.strip() for ref in r.references)]
    assert not uncited, "rules without references: " + ", ".join(uncited)


@pytest.mark.parametrize("rule", default().rules, ids=lambda r: r.id)
def test_rule_examples_land_on_their_rule(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.examples, f"{rule.id} has no example"
    for ex in rule.examples:
        got = diagnose(parse(ex.text), ex.context, host=ex.host)
        assert got.rule == rule.id, f"{ex.text!r} -> {got.rule}"
        assert got.reason == rule.reason
    for ex in rule.not_examples:
        got = diagnose(parse(ex.text), ex.context, host=ex.host)
        assert got.rule != rule.id, f"not_example {ex.text!r} matched {rule.id}"


@pytest.mark.parametrize("rule", default().rules, ids=lambda r: r.id)
def test_rule_enhanced_constraints_agree_with_codes(rule) -> None:  # type: ignore[no-untyped-def]
    for enh in rule.enhanced:
        assert all(str(code)[0] == enh[0] for code in rule.codes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rules": '[[rule]]\nid = "x"\nreason = "user_unknown"\nmeaning = "m"\nremediation = "r"\n'},
         "rules.toml rule[0] (x): a rule needs 'patterns' or 'enhanced'"),
        ({"rules": '[[rule]]\nid = "a"\npatterns=["x"]\nreason = "nope"\nmeaning = "m"\nremediation = "r"\n'},
         "rules.toml rule[0] (a): 'reason': unknown reason 'nope'"),
        ({"rules": ('[[rule]]\nid = "a"\npatterns=["x"]\nreason = "accepted"\nmeaning = "m"\nremediation = "r"\n'
                    '[[rule]]\nid = "a"\npatterns=["y"]\nreason = "accepted"\nmeaning = "m"\nremediation = "r"\n')},
         "rules.toml rule[1] (a): duplicate id"),
        ({"rules": '[[rule]]\nid = "a"\npatterns=["(unclosed"]\nreason = "accepted"\nmeaning = "m"\nremediation = "r"\n'},
         "rules.toml rule[0] (a): pattern '(unclosed' does not compile"),
        ({"rules": ('[[rule]]\nid = "a"\ncodes=[550]\nenhanced=["4.1.1"]\nreason = "accepted"\nmeaning = "m"\n'
                    'remediation = "r"\n')},
         "rules.toml rule[0] (a): 'enhanced': '4.1.1' disagrees with code 550"),
        ({"rules": ('[[rule]]\nid = "a"\npatterns=["x"]\ncontexts=["SEND"]\nreason = "accepted"\nmeaning = "m"\n'
                    'remediation = "r"\n')},
         "rules.toml rule[0] (a): unknown context 'SEND'"),
        ({"rules": '[[rule]]\nid = "Bad Id"\npatterns=["x"]\nreason = "accepted"\nmeaning = "m"\nremediation = "r"\n'},
         "rules.toml rule[0] (Bad Id): 'id' must be kebab-case"),
        ({"rules": "[[rule]\n"}, "rules.toml: not valid TOML"),
        ({"codes": '[[code]]\ncode = 999\n'}, "codes.toml code[0] (999): 'code' must be a reply code"),
        ({"codes": ('[[code]]\ncode = 250\ntitle="t"\nreason="accepted"\nseverity="loud"\nmeaning="m"\nwhen="w"\n'
                    'remediation="r"\nsender="s"\n')}, "codes.toml code[0] (250): 'severity': unknown severity"),
        ({"enhanced": '[[status]]\ncode = "5.1.1"\n'}, "enhanced.toml status[0] (5.1.1): 'code' must look like 'X.1.1'"),
        ({"events": '[[event]]\nid = "x"\nreason="accepted"\nseverity="ok"\nmeaning="m"\nremediation="r"\n'},
         "events.toml event[0] (x): missing 'when'"),
        ({"providers": '[[provider]]\nid = "p"\nname="P"\nhosts=[".p.example"]\nshoe = 1\n'},
         "providers.toml provider[0] (p): unknown field(s) shoe"),
    ],
)
def test_loader_errors_name_the_place(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        load(**kwargs)
    assert str(info.value).startswith(message), str(info.value)


def test_a_pattern_holding_a_control_character_is_refused() -> None:
    """In a double-quoted TOML string \\b is a backspace, not a regex word boundary: such a pattern never matches."""
    rules = ('[[rule]]\nid = "a"\npatterns=["\\bspamhaus list\\b"]\nreason = "blocklisted"\nmeaning = "m"\n'
             'remediation = "r"\n')
    with pytest.raises(CatalogueError, match="control character"):
        load(rules=rules)
    assert load(rules=rules.replace('"\\b', '"\\\\b').replace('\\b"', '\\\\b"')).rules


def test_rule_naming_an_unknown_provider_is_refused() -> None:
    rules = ('[[rule]]\nid = "a"\nproviders=["nobody"]\npatterns=["x"]\nreason = "accepted"\nmeaning = "m"\n'
             'remediation = "r"\n')
    providers = '[[provider]]\nid = "p"\nname = "P"\nhosts = [".p.example"]\n'
    with pytest.raises(CatalogueError, match=r"rule a \(#0\): unknown provider"):
        load(rules=rules, providers=providers)


def test_rule_order_is_file_order() -> None:
    rules = ('[[rule]]\nid = "zeta"\ncodes=[550]\npatterns=["gone"]\nreason = "user_unknown"\nmeaning = "m"\n'
             'remediation = "r"\n'
             '[[rule]]\nid = "alpha"\ncodes=[550]\npatterns=["gone"]\nreason = "mailbox_disabled"\nmeaning = "m"\n'
             'remediation = "r"\n')
    cat = load(rules=rules)
    assert [r.id for r in cat.rules] == ["zeta", "alpha"]
    assert diagnose(parse("550 gone"), None, catalogue=cat).rule == "zeta"


def test_text_without_a_code_is_judged_by_its_words_in_any_context() -> None:
    """Issue 10 (1): pasted words without a code (a provider's error table, a DSN line) are judged by their
    words, and are never protocol_error: that is for a live peer that does not speak SMTP (classify_reply)."""
    rules = '[[rule]]\nid = "phrase"\npatterns=["mailbox is dead"]\nreason = "mailbox_disabled"\nmeaning = "m"\nremediation = "r"\n'
    cat = load(rules=rules, lexicon="")
    for ctx in (None, "bounce", "RCPT", "banner"):
        assert diagnose(parse("the mailbox is dead"), parse_ctx(ctx), catalogue=cat).rule == "phrase"
    assert diagnose(parse("550 the mailbox is dead"), None, catalogue=cat).rule == "phrase"
    nothing = diagnose(parse("hello there"), parse_ctx("banner"), catalogue=cat)
    assert (nothing.reason.value, nothing.decided_by and nothing.decided_by.by) == ("unknown", "nothing")


def parse_ctx(name: str | None):  # type: ignore[no-untyped-def]
    from probe.model import Context

    return Context.parse(name)


def test_marshal_cache_gives_the_same_catalogue_as_the_toml_text() -> None:
    from pathlib import Path

    import probe.diagnosis.catalogue as catalogue_pkg
    from probe.diagnosis.catalogue import Catalogue, parse_codes, parse_rules

    here = Path(catalogue_pkg.__file__).parent
    Catalogue({}).codes  # noqa: B018 -- the property read writes the cache if it can
    fresh = Catalogue({})  # reads it back
    assert fresh.codes == parse_codes((here / "codes.toml").read_text(encoding="utf-8"))
    expected: list[object] = []
    seen: set[str] = set()
    for path in sorted((here / "rules").glob("*.toml")):
        expected.extend(parse_rules(path.read_text(encoding="utf-8"), f"rules/{path.name}", start=len(expected),
                                    seen=seen))
    assert fresh.rules == tuple(expected)


def test_rules_come_from_every_file_of_rules_dir_in_name_order() -> None:
    import probe.diagnosis.catalogue as catalogue_pkg
    from probe.diagnosis.catalogue import Catalogue

    files = sorted((Path(catalogue_pkg.__file__).parent / "rules").glob("*.toml"))
    assert len(files) > 1
    rules = Catalogue({}).rules
    assert [r.index for r in rules] == list(range(len(rules)))
    first_ids = [r.id for r in rules]
    for path in files:  # each file's first rule appears, and after the previous file's rules
        text = path.read_text(encoding="utf-8")
        first = text.split('id = "', 1)[1].split('"', 1)[0]
        assert first in first_ids


def test_required_literals_are_sound() -> None:
    from probe.diagnosis.catalogue import required_literals

    assert required_literals((r"\bgsmtp\b", "over ?quota")) == ("gsmtp", "over quota", "overquota")
    assert required_literals(("mailbox (is )?full|blocked using [a-z]+",)) \
        == ("blocked using ", "mailbox full", "mailbox is full")
    assert required_literals(("(rejected|refused) as spam",)) == ("refused as spam", "rejected as spam")
    assert required_literals((r"\b(?:mail|rcpt) first\b",)) == ("mail first", "rcpt first")
    assert required_literals(("(is |are )?grey",)) == ("grey",)  # 'is grey' holds 'grey': one is enough
    assert required_literals((r"^5\d\d (\d\.\d\.\d+ )?spam detected",)) == ("spam detected",)
    assert required_literals((r"^4\d\d 4\.7\.1 (please )?try again",)) \
        == (" 4.7.1 please try again", " 4.7.1 try again")
    assert required_literals((r"\b550 (can't verify|sender did not verify)",)) \
        == ("550 can't verify", "550 sender did not verify")  # a group in the middle of the text
    assert required_literals((r"\((bl|dial)\)$",)) == ("(bl)", "(dial)")
    assert required_literals(("relay[- ]denied",)) == ("relay denied", "relay-denied")  # a small class
    assert required_literals(("(a|b)?c?de",)) is None  # nothing of three characters is certain
    assert required_literals(("(?=abc)x",)) is None  # a lookahead's text is not part of the match
    assert required_literals(("(ab)+c",)) is None  # only 'ab' is certain: too short
    assert required_literals(("(abc|abd)+x",)) == ("abc", "abd")
    assert required_literals(("ab",)) is None  # too short to be worth it
    assert required_literals((r"\bib\d{3}\b",), shortest=2) == ("ib",)  # unless the caller says two will do
    assert required_literals(("spam|.*",)) is None  # an alternative that needs nothing: always tried
    assert required_literals(("(",)) is None  # unreadable: always tried
    # IGNORECASE: the lower-case text holds the lower-case letter, except where a non-ASCII letter folds to it
    assert required_literals(("Quota Exceeded",), re.IGNORECASE) == ("quota exceeded",)
    assert required_literals(("over SIZE limit",), re.IGNORECASE) == ("over ",)
    assert re.search("over SIZE limit", "over \u017fize l\u0131mit", re.IGNORECASE)  # long s, dotless i


def test_required_literals_hold_in_every_text_the_pattern_matches() -> None:
    """Soundness on the catalogue's own rules: each rule's regex is tried on every rule example and not_example
    text; wherever it matches, one of its literals occurs."""
    from probe.diagnosis.codes import parse

    cat = default()
    texts = {parse(ex.text).normalized for rule in cat.rules for ex in (*rule.examples, *rule.not_examples)}
    for rule in cat.rules:
        if rule.literals is None or rule.pattern is None:
            continue
        for text in texts:
            if rule.pattern.search(text):
                assert any(lit in text for lit in rule.literals), (rule.id, text)


def test_every_rule_example_contains_one_of_its_rule_literals() -> None:
    """The prefilter may only skip a rule when its regex cannot match: check it on every real example."""
    from probe.diagnosis.codes import parse

    cat = default()
    for rule in cat.rules:
        if rule.literals is None or rule.pattern is None:
            continue
        for ex in rule.examples:
            text = parse(ex.text).normalized
            if rule.pattern.search(text):
                assert any(lit in text for lit in rule.literals), (rule.id, ex.text)


def test_literal_index_keeps_every_rule_whose_literal_occurs() -> None:
    from probe.diagnosis.catalogue import LiteralIndex
    from probe.diagnosis.catalogue.prefilter import literal_key

    assert literal_key("relay access denied") == ("access", True)  # a whole word inside the literal
    assert literal_key("spamhaus.org") == ("spamhaus", False)  # could be part of a longer word
    assert literal_key("-- ") == ("-- ", False)
    # the rarest token among the index's literals keys it, so a common word does not bring many literals
    assert literal_key("recipient address rejected", {"address": 9, "recipient": 1, "rejected": 5}) \
        == ("recipient", False)
    assert literal_key("not a valid address here", {"not": 9, "a": 9, "valid": 2, "address": 9, "here": 3}) \
        == ("valid", True)
    shared = LiteralIndex([(0, ("user address rejected",)), (1, ("bad address",)), (2, ("address unknown",))])
    assert [key for key, _ in shared.by_substring] == ["bad", "rejected", "unknown"]
    assert shared.candidates("550 user address rejected") == {0}
    index = LiteralIndex([(0, ("relay access denied",)), (1, ("spamhaus.org", "in spamhaus")), (2, None),
                          (3, ("over",))])
    assert index.candidates("554 relay access denied") == {0, 2}
    assert index.candidates("554 relay access") == {2}  # the word alone is not the literal
    assert index.candidates("blocked via zen.spamhaus.org") == {1, 2}
    assert index.candidates("mailbox is overquota") == {2, 3}  # a substring key inside a longer word
    assert index.candidates("") == {2}


def test_rule_candidates_never_hide_the_first_matching_rule() -> None:
    """Trying only the indexed candidates gives the same rule as trying every rule in file order."""
    from probe.diagnosis.classifier import _rule_matches, detect_provider, match_rule
    from probe.diagnosis.codes import parse
    from probe.model import Context

    cat = default()
    texts = [ex for rule in cat.rules for ex in (*rule.examples, *rule.not_examples)]
    for ex in texts:
        parsed = parse(ex.text)
        for ctx in (ex.context, None, Context.RCPT, Context.BANNER):
            provider = detect_provider(ex.host, parsed.normalized)
            brute = next((r for r in cat.rules if _rule_matches(r, parsed, ctx, provider)), None)
            assert match_rule(parsed, ctx, provider) == brute, ex.text


def test_packaged_rule_patterns_compile_when_first_used_and_every_one_compiles() -> None:
    """The package's rules are loaded without compiling their patterns (start-up); each compiles."""
    from probe.diagnosis.catalogue.parsing import parse_rules

    rules = load().rules
    assert rules and all(r.pattern is None or r.pattern._compiled is None for r in rules)
    for rule in rules:
        if rule.pattern is not None:
            rule.pattern.compiled()  # re.error here names a broken pattern in rules/*.toml
    given = "[[rule]]\nid = 'x'\npatterns = ['(']\nreason = 'user_unknown'\nmeaning = 'm'\nremediation = 'r'\n"
    with pytest.raises(CatalogueError, match="does not compile"):
        parse_rules(given)  # text given to load() is still checked when read


def test_packaged_variant_and_provider_patterns_all_compile() -> None:
    from probe.diagnosis.catalogue import Catalogue

    catalogue = Catalogue({})
    variants = [v.pattern for entry in catalogue.codes.values() for v in entry.variants]
    providers = [p.pattern for p in catalogue.providers if p.pattern is not None]
    assert variants and providers and all(p._compiled is None for p in variants + providers)
    for pattern in variants + providers:
        pattern.compiled()  # re.error here names a broken pattern in codes.toml or providers.toml


def _index_state(index: object) -> tuple[object, ...]:
    from probe.diagnosis.catalogue import LiteralIndex

    if isinstance(index, LiteralIndex):
        return index.always, index.by_word, index.by_substring
    return vars(index)


def test_the_catalogue_caches_hold_what_parsing_gives_and_a_broken_cache_is_ignored() -> None:
    """The rules, the providers and the lexicon, each with its index, come from pickle caches in __pycache__."""
    import os

    from probe.diagnosis.catalogue import (
        _HERE,
        PhraseIndex,
        _example_texts,
        _package_lexicon,
        _package_providers,
        _package_rules,
        _parse_package_lexicon,
        _parse_package_rules,
        parse_providers,
        provider_index,
        rule_index,
    )
    from probe.diagnosis.catalogue import _package_doc as doc

    rules = _parse_package_rules()
    providers = parse_providers(doc("providers.toml") or {})
    phrases = _parse_package_lexicon()
    expected = {
        "rules": (_package_rules, (rules, rule_index(rules))),
        "providers": (_package_providers, (providers, provider_index(providers, rules))),
        "lexicon": (_package_lexicon, (phrases, PhraseIndex((p.text for p in phrases), _example_texts(rules)))),
    }
    directory = os.path.join(_HERE, "__pycache__")
    for prefix, (cached, (items, index)) in expected.items():
        def same(got: tuple[object, object], items: object = items, index: object = index) -> bool:
            return got[0] == items and _index_state(got[1]) == _index_state(index)

        assert same(cached())  # written now, or read from an earlier run
        caches = [n for n in os.listdir(directory) if n.startswith(f"{prefix}.") and n.endswith(".pickle")]
        assert len(caches) == 1, prefix
        assert same(cached())  # read back
        with open(os.path.join(directory, caches[0]), "wb") as handle:
            handle.write(b"not a pickle")
        assert same(cached())  # rebuilt


def test_required_literals_hold_for_generated_patterns_and_texts() -> None:
    """Soundness beyond the catalogue: random patterns (groups, alternatives, optional and repeated parts,
    classes, lookarounds, IGNORECASE) tried on random lower-case texts; wherever one matches, a literal occurs."""
    import random

    from probe.diagnosis.catalogue import required_literals

    rng = random.Random(7)
    atoms = ["a", "b", "ab", "abc", "is", "ks", "x", " ", "-", "\\.", "[ab]", "[a-c]", "\\d", ".", "\\s", "\\b",
             "^", "$", "(?=ab)", "(?!a)", "[^a]", "\\w", "A", "S", "I", "K"]

    def pattern(depth: int = 0) -> str:
        parts = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.55 or depth > 2:
                parts.append(rng.choice(atoms))
            else:
                parts.append("(" + "|".join(pattern(depth + 1) for _ in range(rng.randint(1, 3))) + ")")
            if rng.random() < 0.25:
                parts[-1] = f"(?:{parts[-1]}){rng.choice(['?', '*', '+', '{2}', '{1,3}', '??'])}"
        return "".join(parts)

    pieces = ["a", "b", "ab", "abc", "x", " ", "-", ".", "1", "\u017f", "\u0131", "k", "K", "s", "i"]
    matched = 0
    for _ in range(1000):
        patterns = tuple(pattern() for _ in range(rng.randint(1, 2)))
        flags = rng.choice([0, re.IGNORECASE])
        literals = required_literals(patterns, flags)
        if literals is None:
            continue
        regex = re.compile("|".join(f"(?:{p})" for p in patterns), flags)
        for _ in range(200):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))).lower()
            if regex.search(text):
                matched += 1
                assert any(lit in text for lit in literals), (patterns, flags, literals, text)
    assert matched > 100  # the texts do exercise the literals


def test_substring_keys_inside_a_word_are_found_piece_by_piece_as_by_trying_every_key() -> None:
    import random

    rng = random.Random(3)
    for index in (default().rule_index, default().provider_index):
        keys = [key for key, _ in index._in_words]
        words = ["".join(rng.choice("abcdefilmnoprstu0123456789") for _ in range(rng.randint(1, 40)))
                 for _ in range(3000)]
        words += keys + [f"x{key}yy" for key in keys]
        for word in words:
            assert sorted(index._keys_inside(word)) == sorted(kh for kh in index._in_words if kh[0] in word), word


def test_a_pattern_or_phrase_holding_a_typographic_quote_is_refused() -> None:
    """Replies are matched with U+2019 and U+201C folded to ' and ": a rule or phrase holding them never matches."""
    rules = ('[[rule]]\nid = "a"\npatterns=[\'couldn’t find\']\nreason = "domain_unknown"\nmeaning = "m"\n'
             'remediation = "r"\n')
    with pytest.raises(CatalogueError, match="typographic quote"):
        load(rules=rules)
    lexicon = 'language = "it"\n[[group]]\nreason = "rate_limited"\nsource = "s"\nphrases = ["dall’invio"]\n'
    with pytest.raises(CatalogueError, match="typographic quote"):
        load(lexicon=lexicon)
    assert load(lexicon=lexicon.replace("’", "'")).lexicon


def test_text_words_are_the_runs_of_lower_case_letters_and_digits() -> None:
    """The ASCII path (a byte table) gives what the regex gives: upper-case letters and '_' end a word as any
    other character does."""
    from probe.diagnosis.catalogue.prefilter import WORDS, text_words

    for text in ("550 5.1.1 <a_b@x-y.example>: User unknown\ttoday", "421 too many\r\nconnections!", "",
                 "554 empf\u00e4nger unbekannt"):
        assert text_words(text) == frozenset(WORDS.findall(text))
    assert text_words("550 User_unknown") == {"550", "ser", "unknown"}


def test_a_capital_of_an_escape_costs_ignorecase_only_outside_ascii_text() -> None:
    """'\\S' made a pattern IGNORECASE (4x slower): ASCII text is searched without it, to the same matches; other
    text keeps it, where 's' also matches the long s (U+017F) that lower-casing leaves alone."""
    from probe.diagnosis.catalogue.parsing import Place

    def lazy(pattern: str) -> LazyPattern:
        found = Place("test").lazy_regex((pattern,), check=True)
        assert found is not None
        return found

    escaped = lazy(r"user \S+ unknown")
    assert (escaped.flags, escaped.ascii_flags) == (re.IGNORECASE, 0)
    assert escaped.search("550 user <a@example.com> unknown") and not escaped.search("no user here")
    assert escaped._ascii is not None and not escaped._ascii.flags & re.IGNORECASE  # what searched ASCII text
    assert escaped._compiled is None  # not compiled with IGNORECASE until a text needs it
    assert escaped.search("550 u\u017fer <a@example.com> unknown")  # the non-ASCII text: IGNORECASE kept
    assert escaped.compiled().flags & re.IGNORECASE
    assert lazy("Quota").ascii_flags == re.IGNORECASE  # a capital letter needs it everywhere
    assert lazy(r"a\\S").ascii_flags == re.IGNORECASE  # an escaped backslash, then the letter S
    assert lazy("quota").flags == lazy("quota").ascii_flags == 0
    assert pickle.loads(pickle.dumps(escaped)) == escaped
    user_unknown = next(r for r in default().rules if r.id == "user-unknown")
    assert user_unknown.pattern is not None and user_unknown.pattern.ascii_flags == 0
