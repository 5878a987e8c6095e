"""Benchmark: which wording rules claim words their sources do not say?

Run: python benchmarks/bench_rule_reach.py [--details]

A rule's pattern may reach past the wording of the source it cites ('access denied', 'quota exceeded', 'try later').
Two measures of that reach, neither needing a reply nobody has seen:

- the lexicon's phrases (lexicon/*.toml): each is another source's words, labelled with the reason that source
  means. Each phrase is classified alone (as a bounce's words) and after a few typical codes; a rule that decides it
  for another reason claims those words (the phrase may be mislabelled too: read both sources);
- the development part of the corpus (never the sealed part: its entries are not even classified here): the replies a
  rule decides wrongly where the general layer under the rules (lexicon, pairs, learned words, codes) alone is right.

Rules narrowed by it (issue 10): see tests/unit/test_rule_precision.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe.diagnosis.catalogue import Catalogue, default, load
from probe.diagnosis.classifier import diagnose
from probe.diagnosis.codes import parse
from probe.model import Context, Diagnosis
from probe.testing.corpus import Labelled, load_corpus

ROOT = Path(__file__).resolve().parents[1]

# (code prefix, context) a phrase is also tried after: the words alone in a bounce, and as a reply to the commands
# where most refusals come
SETTINGS: tuple[tuple[str, Context], ...] = (
    ("", Context.BOUNCE), ("550 ", Context.RCPT), ("451 ", Context.RCPT), ("550 ", Context.MAIL),
    ("554 ", Context.AFTER_DATA), ("421 ", Context.BANNER),
)


def phrase_claims(cat: Catalogue) -> dict[str, list[tuple[str, str, str, str]]]:
    """rule id -> (phrase, the phrase's reason, the rule's reason, the phrase's source) for each lexicon phrase (not a
    topic word) that the rule decides for another reason, alone or after a typical code."""
    claims: dict[str, dict[str, tuple[str, str, str, str]]] = {}
    for phrase in cat.lexicon:
        if phrase.topic:
            continue
        for code, ctx in SETTINGS:
            d = diagnose(parse(code + phrase.text), ctx, catalogue=cat)
            rule = d.decided_by.rule if d.decided_by is not None and d.decided_by.by == "rule" else None
            if rule is not None and d.reason is not phrase.reason:
                claims.setdefault(rule, {})[phrase.text] = (phrase.text, phrase.reason.value, d.reason.value,
                                                            phrase.source)
    return {rule: list(found.values()) for rule, found in claims.items()}


def corpus_losses(entries: Iterable[Labelled], with_rules: Callable[[Labelled], Diagnosis],
                  without_rules: Callable[[Labelled], Diagnosis]) -> dict[str, list[Labelled]]:
    """rule id -> the development entries it decides wrongly where the general layer alone is right. Sealed entries
    are skipped before anything classifies them."""
    losses: dict[str, list[Labelled]] = {}
    for entry in entries:
        if entry.sealed:
            continue
        d = with_rules(entry)
        if d.decided_by is None or d.decided_by.by != "rule" or d.reason.value == entry.expect:
            continue
        if without_rules(entry).reason.value == entry.expect:
            losses.setdefault(d.decided_by.rule or "?", []).append(entry)
    return losses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--details", action="store_true", help="each phrase and reply, not only the counts")
    args = parser.parse_args()
    cat, general = default(), load(rules="")
    claims = phrase_claims(cat)
    losses = corpus_losses(
        load_corpus(ROOT / "fixtures" / "corpus"),
        lambda e: diagnose(parse(e.text), Context.parse(e.context), host=e.host, catalogue=cat),
        lambda e: diagnose(parse(e.text), Context.parse(e.context), host=e.host, catalogue=general))
    print(f"lexicon phrases a rule decides for another reason: {sum(map(len, claims.values()))} "
          f"(by {len(claims)} rules)")
    for rule, found in sorted(claims.items(), key=lambda item: (-len(item[1]), item[0])):
        print(f"  {rule:44s} {len(found)}")
        for text, said, ruled, source in found if args.details else ():
            print(f"      {text!r}: the lexicon {said}, the rule {ruled} ({source})")
    print(f"development replies a rule decides wrongly where the general layer is right: "
          f"{sum(map(len, losses.values()))}")
    for rule, entries in sorted(losses.items()):
        print(f"  {rule:44s} {len(entries)}")
        for e in entries if args.details else ():
            print(f"      {e.id} [{e.context}] expected {e.expect}: {e.text[:100]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
