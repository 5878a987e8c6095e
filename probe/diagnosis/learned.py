"""Pure engine: learned word evidence, the general layer's last tier before the code decides alone. Must not import
asyncio, dns, ssl, socket or click.

When no wording rule, no generic wording and no lexicon phrase decides, the reply's words may still lean one way:
'reputation', 'header', 'relaying', 'quota'. catalogue/learned.toml lists such words, each with the reason it leans
to and how strongly (its weight, under 1), learned by tools/learn_words.py from the catalogue's own texts only: the
rules' examples (each with its rule's reason) and the lexicon's phrases (each with its reason), never from the
labelled corpus. A word is kept when most catalogue texts holding it give one reason, and texts of two rules or
lexicon sources at least hold it; each entry names them (its provenance).

Scoring (as the lexicon's, probe.diagnosis.lexicon): each learned word found outside host names, addresses and URLs
adds its weight to its reason (a pair found counts instead of its two words), and the reason the code alone would
give gets the file's `code` weight (unless it is unknown: a code that names no cause does not compete); the code
evidence of evidence.toml (the reply class, the enhanced code's subject, the command) adds its bonus to those reasons
and takes its penalty off. The best reason decides when it reaches the file's threshold, a word leans to it, and it
beats the second by the file's margin; otherwise the code decides as it would without this tier. 2xx and 3xx
replies are never judged by words.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

from probe.diagnosis.catalogue import Catalogue
from probe.diagnosis.catalogue.learnedwords import LearnedWord
from probe.diagnosis.catalogue.prefilter import text_words
from probe.diagnosis.codes import ParsedReply
from probe.diagnosis.lexicon import weigh_code_evidence
from probe.model import Context, Decision, Reason

# What is not words: URLs, e-mail addresses (the whole run of non-blanks), host names and dotted numbers (5.7.1,
# IPv4), IPv6 addresses. Possessive, so that a run without '@' or '.' is given up at once.
_NOT_WORDS = re.compile(r"(?:https?://|www\.)\S*|(?<!\S)[^\s@]*+@\S*|\b[a-z0-9-]++(?:\.[a-z0-9-]++)+"
                        r"|\b[0-9a-f]*+(?::[0-9a-f]*+){2,}")
# A DSN field's type (RFC 3464 §2.3.6, §2.1.2: "Diagnostic-Code: smtp; 550 ...", "X-Postfix;", "Remote-MTA: dns;"): it
# names the kind of the text after it, it is none of that text's words ('smtp' of every quoted reply is no evidence)
_DSN_TYPE = re.compile(r"(?<![\w-])(?:smtp|dns|rfc822|utf-8|x-[a-z0-9-]+);")
# Words of two or more ASCII letters, glued to no other letter, digit or '_' ('empfänger', 'sc004', 'xgemail_0008'
# are no such words)
_LETTERS = re.compile(r"(?<!\w)[a-z]{2,}(?!\w)")


def words_only(text: str) -> str:
    """`text` with what is not words blanked out, as _NOT_WORDS.sub(" ", text) gives it, at a third of the cost:
    no match of _NOT_WORDS holds a space, and each needs a '.', '@' or ':', so only the space-separated pieces
    that hold one of those are searched (a piece's start reads as the start of a word, as after a space)."""
    return " ".join(_NOT_WORDS.sub(" ", piece) if "." in piece or "@" in piece or ":" in piece else piece
                    for piece in text.split(" "))


def learned_words(text: str, firsts: AbstractSet[str] | None = None) -> tuple[str, ...]:
    """The words and word pairs of a lower-case text that a word could be learned from or found in, in order, each
    once: runs of two or more ASCII letters outside URLs, addresses and host names, then each two of them that
    follow each other ('not allowed'). tools/learn_words.py learns from these. `firsts`: only the pairs whose first
    word is one of these (the learned pairs' first words, when looking learned words up: a pair that cannot be
    learned is not worth building)."""
    if ";" in text:
        text = _DSN_TYPE.sub(" ", text)
    single = _LETTERS.findall(words_only(text))
    pairs = pairwise(single) if firsts is None else ((a, b) for a, b in pairwise(single) if a in firsts)
    return tuple(dict.fromkeys([*single, *(f"{a} {b}" for a, b in pairs)]))


@dataclass(frozen=True, slots=True)
class WordVerdict:
    """What the learned words (and the code evidence that backed them) say."""

    reason: Reason
    score: float
    words: tuple[LearnedWord, ...]  # the learned words found that lean to `reason`, in the reply's order
    evidence: tuple[str, ...]  # "5xx", "X.7 (security or policy)", "to RCPT": the code evidence that favoured it

    def summary(self) -> str:
        quoted = ", ".join(f"'{w.word}'" for w in self.words)
        backed = f", backed by {', '.join(self.evidence)}" if self.evidence else ""
        rules = list(dict.fromkeys(r for w in self.words for r in w.rules))
        sources = list(dict.fromkeys(s for w in self.words for s in w.sources))
        learned = []
        if rules:
            learned.append(f"rule{'s' if len(rules) > 1 else ''} {', '.join(rules[:3])}"
                           + (f" and {len(rules) - 3} more" if len(rules) > 3 else ""))
        if sources:
            learned.append(f"{len(sources)} lexicon source{'s' if len(sources) > 1 else ''}")
        lean = "leans" if len(self.words) == 1 else "lean"
        return (f"the word{'s' if len(self.words) > 1 else ''} {quoted} {lean} to {self.reason.value} (score "
                f"{self.score:g}{backed}), learned from {' and '.join(learned)}")

    sources: ClassVar[tuple[str, ...]] = ()  # no phrase sources: the references are the code's

    def decision(self, *, agreed: bool = False) -> Decision:
        """The learned words decided; `agreed`: the code's own entry gave the same reason, and speaks for it."""
        summary = f"{self.summary()}, as the code says" if agreed else self.summary()
        return Decision("learned", summary, phrases=tuple(w.word for w in self.words), evidence=self.evidence)


def judge_words(parsed: ParsedReply, ctx: Context | None, catalogue: Catalogue, words: frozenset[str] | None = None,
                coded: Reason | None = None) -> WordVerdict | None:
    """The reason the learned words, weighed with the code evidence, point to; None when they say nothing clear
    (no learned word, a score under the threshold, or a second reason within the margin) or nothing but what the
    code says alone. `words`: text_words of the normalized text when the caller has them; `coded`: the reason
    the code alone gives, which competes with the file's `code` weight unless it is unknown (a code that names
    no cause)."""
    klass = parsed.code // 100 if parsed.code is not None else None
    if klass in (2, 3):
        return None
    table = catalogue.learned
    known = table.words
    if not known:
        return None
    text = parsed.normalized
    if words is None:
        words = text_words(text)
    if table.singles.isdisjoint(words) and not any(  # the usual case, cheap: no learned word nor both of a pair
            not table.pairs[first].isdisjoint(words) for first in table.firsts.intersection(words)):
        return None
    found = [known[w] for w in learned_words(text, table.firsts) if w in known]
    if not found:
        return None
    pairs = {part for w in found if " " in w.word for part in w.word.split()}
    found = [w for w in found if w.word not in pairs]  # a word of a pair found counts as that pair
    scores: dict[Reason, float] = {}
    for word in found:
        scores[word.reason] = scores.get(word.reason, 0.0) + word.weight
    if coded is not None and coded is not Reason.UNKNOWN:
        scores[coded] = scores.get(coded, 0.0) + table.code
    backing = weigh_code_evidence(scores, parsed, ctx, catalogue.evidence)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    best, score = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if score < table.threshold or score - second < table.margin:
        return None
    if not any(w.reason is best for w in found):  # the code's own reason, which no word named: the code decides
        return None
    return WordVerdict(best, round(score, 2), tuple(w for w in found if w.reason is best), tuple(backing.get(best, ())))
