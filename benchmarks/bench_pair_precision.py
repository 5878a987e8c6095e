"""Benchmark: how often the pair layer, read alone, says what the lexicon's phrases say (its precision measure).

Run: python benchmarks/bench_pair_precision.py [--details]

The lexicon (lexicon/*.toml) runs before the pairs, so a pair that misreads a lexicon phrase never shows on that
phrase: it shows on the next server's variant wording, which only the pairs read. The lexicon's phrases are other
sources' words, each labelled with the reason its source means, so they measure the pairs without any reply of the
corpus (sealed or not): each phrase (not a topic word) is read by the pair layer alone (probe.diagnosis.pairs.
judge_pairs), as a bounce's words and after a few typical codes, and the pairs' reason is compared with the phrase's.

In reply to MAIL the words speak of the sender (fixtures/corpus/README.md 'unknown vs a code's default': to MAIL
the command names what was refused; 'sender syntax'), so there a recipient's reason read as the sender's
(SENDER_SIDE) agrees too. A disagreement may be the phrase's label that is wrong: read both sources.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe.diagnosis.catalogue import Catalogue, default
from probe.diagnosis.codes import parse
from probe.diagnosis.pairs import judge_pairs
from probe.model import Context, Reason

# (code prefix, context) a phrase is read after: the words alone in a bounce, and as a reply to the commands where
# most refusals come (as benchmarks/bench_rule_reach.py tries them)
SETTINGS: tuple[tuple[str, Context], ...] = (
    ("", Context.BOUNCE), ("550 ", Context.RCPT), ("451 ", Context.RCPT), ("550 ", Context.MAIL),
    ("554 ", Context.AFTER_DATA), ("421 ", Context.BANNER),
)

# In reply to MAIL the address, user or domain refused is the sender's: the reason a recipient's words give there
SENDER_SIDE: dict[Reason, Reason] = {
    Reason.USER_UNKNOWN: Reason.SENDER_REJECTED, Reason.MAILBOX_DISABLED: Reason.SENDER_REJECTED,
    Reason.DOMAIN_UNKNOWN: Reason.SENDER_REJECTED, Reason.RELAY_DENIED: Reason.SENDER_REJECTED,
    Reason.BAD_ADDRESS: Reason.SYNTAX_ERROR,
}


@dataclass(frozen=True, slots=True)
class Disagreement:
    text: str
    setting: str  # "bounce" or "550 RCPT"
    lexicon: Reason
    pairs: Reason
    why: str  # the pairs' summary
    source: str


def agrees(phrase_reason: Reason, said: Reason, ctx: Context) -> bool:
    """The pairs' reason agrees with the phrase's, read in reply to `ctx`."""
    return said is phrase_reason or (ctx is Context.MAIL and SENDER_SIDE.get(phrase_reason) is said)


def measure(cat: Catalogue) -> tuple[Counter[str], Counter[str], list[Disagreement]]:
    """(pairs decided, per setting), (disagreements, per setting), each disagreement."""
    decided: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    found: list[Disagreement] = []
    for phrase in cat.lexicon:
        if phrase.topic:
            continue
        for code, ctx in SETTINGS:
            setting = f"{code}{ctx.value}" if code else "bounce"
            verdict = judge_pairs(parse(code + phrase.text), ctx, cat)
            if verdict is None:
                continue
            decided[setting] += 1
            if not agrees(phrase.reason, verdict.reason, ctx):
                wrong[setting] += 1
                found.append(Disagreement(phrase.text, setting, phrase.reason, verdict.reason, verdict.summary(),
                                          phrase.source))
    return decided, wrong, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--details", action="store_true", help="each disagreement, not only the counts")
    args = parser.parse_args()
    cat = default()
    phrases = sum(not p.topic for p in cat.lexicon)
    decided, wrong, found = measure(cat)
    print(f"lexicon phrases read by the pairs alone: {phrases}, in {len(SETTINGS)} settings")
    for code, ctx in SETTINGS:
        setting = f"{code}{ctx.value}" if code else "bounce"
        n, w = decided[setting], wrong[setting]
        print(f"  {setting:16s} pairs decide {n:5d}, disagree {w:4d} (precision {1 - w / n if n else 1:.1%})")
    total, bad = sum(decided.values()), len(found)
    print(f"all settings: pairs decide {total}, disagree {bad} (precision {1 - bad / total if total else 1:.1%}); "
          f"phrases with a disagreement: {len({d.text for d in found})}")
    by_kind = Counter((d.lexicon.value, d.pairs.value) for d in found)
    print("disagreements by (lexicon reason -> pairs' reason):")
    for (said, paired), n in by_kind.most_common():
        print(f"  {said:24s} -> {paired:24s} {n}")
    for d in found if args.details else ():
        print(f"  [{d.setting}] {d.text!r}: the lexicon {d.lexicon.value}, the pairs {d.why} ({d.source})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
