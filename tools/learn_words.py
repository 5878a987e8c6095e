"""Generate probe/diagnosis/catalogue/learned.toml: the words that lean to one reason in the catalogue's own texts.

Run: .venv/bin/python tools/learn_words.py [--check]   (--check: exit 1 when the file is not what this would write)

Training texts, and only these: every rule's examples (rules/*.toml; each text gives its rule's reason) and every
lexicon phrase (lexicon/*.toml; each gives its group's reason). They are real, cited texts. The labelled corpus
(fixtures/corpus) is never read: learning from it would memorise the replies the classifier is measured on.

A text's words are probe.diagnosis.learned.learned_words: runs of ASCII letters outside URLs, addresses and host
names, and each two of them that follow each other (a pair: 'not found', 'ip address'). Function words (STOP_WORDS)
and words that name no cause (GENERIC_WORDS) are no words, and a pair made of them only is no pair. For a word w and
a reason r, with n(w) texts holding w and n(w, r) of them giving r, w leans to r with the weight

    P(r | w) = (n(w, r) + ALPHA * prior(r)) / (n(w) + ALPHA)        prior(r): the share of all texts giving r

(the share of texts holding w that give r, pulled toward r's share of all texts when w is rare). A word is kept for
its best reason when no other reason ties it, P(r | w) >= MIN_WEIGHT, at least MIN_TEXTS texts hold it for r, and
those texts come from MIN_SOURCES different rules or lexicon sources at least (one rule's examples or one source's
list are one voice); a pair is left out when one of its words alone leans as far the same way. Each entry lists
those rules and sources. THRESHOLD, MARGIN and CODE (the weight of the reason the code alone gives) go into the
file's [scoring] for probe.diagnosis.learned. They were chosen on the development part of the corpus only, where
the settings near them give nearly the same result (on 2026-12-07, MARGIN 0.6-0.75 and CODE 0.75-1: 3 code-decided
replies won and none lost with the wording rules on, 6 or 7 won and none lost with them off; MARGIN 0.5 with CODE
0.75 lost one with the rules on and off alike).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from probe.diagnosis.catalogue import Catalogue, default  # noqa: E402
from probe.diagnosis.learned import learned_words  # noqa: E402

TARGET = ROOT / "probe" / "diagnosis" / "catalogue" / "learned.toml"

ALPHA = 2.0
MIN_WEIGHT = 0.4
MIN_TEXTS = 3
MIN_SOURCES = 2
THRESHOLD = 0.75
MARGIN = 0.6
CODE = 1.0

# Function words of the languages the lexicon holds in Latin script: they say nothing about a cause, and a language
# whose phrases mostly name one reason would otherwise teach its articles that reason.
_STOP_WORDS = """
a about above after again all am an and any are as at be been before being below between both but by can could
did do does doing down during each few for from further had has have having he her here hers him his how i if in
into is it its itself just me more most my no nor not now of off on once only or other our ours out over own same
she should so some such than that the their theirs them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours
aber als am an auf aus bei bis das dass dem den der des die du ein eine einem einen einer eines er es ihr ihre
im in ist mit nach nicht noch oder sich sie sind so um und uns von vor war wir wird zu zum zur
au aux avec ce ces cette dans de des du elle en est et il ils je la le les leur lui mais ne nous on ou par pas
pour qu que qui sa se ses son sont sur ta te tu un une vos votre vous
al con del el ella ellos es esta este las lo los mas para pero por se sin su sus una uno unos usted
che da dei della delle di gli ha il io lei loro ma nel nella non per si sono sua suo tra
ao aos com da das do dos em ela ele na nas no nos os para pela pelo por se sua seu um uma
dat een het hij ik is met niet om op te van voor zijn
aby do jak jest na nie od po przez sie ta to za ze
ako je na pre sa si sme to za
bir bu da de icin ile ve
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

# Words that name no cause: the reply class restated ('temporary', 'permanent'), a refusal with no reason ('error',
# 'failed', 'rejected', 'denied') and the stock texts of RFC 5321 that fixtures/corpus/README.md ('unknown vs a code's
# default') and SPEC.md read as naming none: "Error", "Temporary failure", "Transaction failed", "Requested action not
# taken", "On hold". A word pair made of these and function words only is left out too.
_GENERIC_WORDS = """
action error errors fail failed failure hold permanent permanently refused rejected rejection requested taken
temporarily temporary transaction denied
"""
GENERIC_WORDS = frozenset(_GENERIC_WORDS.split())


def texts(cat: Catalogue) -> list[tuple[str, str, str, str]]:
    """(text, reason, 'rule' or 'source', the rule id or lexicon source) for every training text."""
    out = [(ex.text, rule.reason.value, "rule", rule.id) for rule in cat.rules for ex in rule.examples]
    out += [(p.text, p.reason.value, "source", p.source) for p in cat.lexicon]
    return out


@dataclass(frozen=True)
class Learned:
    word: str  # a word, or two that follow each other
    reason: str
    weight: float
    rules: tuple[str, ...]
    sources: tuple[str, ...]


def learn(cat: Catalogue) -> list[Learned]:
    """The learned words and pairs of the catalogue's own texts, sorted by reason, then by weight (highest first),
    then by word."""
    return learn_from(texts(cat))


def learn_from(training: list[tuple[str, str, str, str]]) -> list[Learned]:
    """The learned words and pairs of `training` (as texts() gives them), sorted as learn() sorts them.
    benchmarks/bench_learn_from_dev.py also learns from labelled development replies with it."""
    by_reason: Counter[str] = Counter()
    holding: Counter[str] = Counter()  # word -> texts holding it
    holding_for: Counter[tuple[str, str]] = Counter()  # (word, reason) -> texts holding it that give the reason
    voices: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: {"rule": set(), "source": set()})
    for text, reason, kind, voice in training:
        by_reason[reason] += 1
        for word in learned_words(text.lower()):
            if all(part in STOP_WORDS or part in GENERIC_WORDS for part in word.split()):
                continue
            holding[word] += 1
            holding_for[word, reason] += 1
            voices[word, reason][kind].add(voice)
    total = len(training)
    leaning: dict[str, list[tuple[float, str]]] = defaultdict(list)  # word -> (weight, reason) for every reason
    for (word, reason), n in holding_for.items():
        leaning[word].append(((n + ALPHA * by_reason[reason] / total) / (holding[word] + ALPHA), reason))
    kept: dict[str, Learned] = {}
    for word, weights in leaning.items():
        weights.sort(reverse=True)
        weight, reason = weights[0]
        if weight < MIN_WEIGHT or (len(weights) > 1 and weights[1][0] == weight):  # weak, or a tie
            continue
        heard = voices[word, reason]
        if holding_for[word, reason] < MIN_TEXTS or len(heard["rule"]) + len(heard["source"]) < MIN_SOURCES:
            continue
        kept[word] = Learned(word, reason, round(weight, 2), tuple(sorted(heard["rule"])),
                             tuple(sorted(heard["source"])))

    def says_more(pair: Learned) -> bool:  # than each of its words says alone
        return all((one := kept.get(part)) is None or one.reason != pair.reason or one.weight < pair.weight
                   for part in pair.word.split())

    entries = [e for e in kept.values() if " " not in e.word or says_more(e)]
    return sorted(entries, key=lambda e: (e.reason, -e.weight, e.word))


def _strings(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def render(entries: list[Learned]) -> str:
    lines = [
        "# GENERATED by tools/learn_words.py from the rules' examples (rules/*.toml) and the lexicon's phrases",
        "# (lexicon/*.toml), never from the labelled corpus: do not edit; change those files and run it again.",
        "# Each word (or pair of words) leans to `reason` with `weight` (the smoothed share of the catalogue texts",
        "# holding it that give that reason); `rules` and `sources` are the rules whose examples and the lexicon",
        "# sources whose phrases hold it. probe/diagnosis/learned.py weighs them with the code evidence of",
        "# evidence.toml against the reason the code alone gives, for replies no rule and no phrase decides.",
        f"# Learned with ALPHA = {ALPHA:g}, MIN_WEIGHT = {MIN_WEIGHT:g}, MIN_TEXTS = {MIN_TEXTS}, "
        f"MIN_SOURCES = {MIN_SOURCES}.",
        "",
        "schema = 1",
        "",
        "[scoring]",
        f"threshold = {THRESHOLD!r}",
        f"margin = {MARGIN!r}",
        f"code = {CODE!r}",
    ]
    for e in entries:
        lines += ["", "[[word]]", f"word = {json.dumps(e.word)}", f"reason = {json.dumps(e.reason)}",
                  f"weight = {e.weight!r}", f"rules = {_strings(e.rules)}", f"sources = {_strings(e.sources)}"]
    return "\n".join(lines) + "\n"


def generate(cat: Catalogue | None = None) -> str:
    """The text learned.toml should hold for the catalogue's rules and lexicon."""
    return render(learn(cat or default()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when learned.toml is out of date")
    args = parser.parse_args(argv)
    text = generate()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else None
    if args.check:
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run tools/learn_words.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        TARGET.write_text(text, encoding="utf-8")
    print(f"{TARGET.relative_to(ROOT)}: {text.count('[[word]]')} words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
