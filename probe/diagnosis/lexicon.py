"""Pure engine: the general layer under the wording rules. Phrases (catalogue/lexicon/*.toml) weighed with what
the reply code and the command say (catalogue/evidence.toml), so that a reply no rule knows still lands on
the right reason. Must not import asyncio, dns, ssl, socket or click.

Scoring: each phrase found adds its weight to the reason it points to (a phrase found inside a longer one that was
found too counts once, as the longer one). Topic words (lexicon files marked `topics = true`, e.g. 'virus',
'dmarc', 'greylisted') are phrases of one or two words that weigh less than any phrase (0.5): a phrase outweighs
them, a topic word inside a phrase found counts as that phrase, and they decide alone only when no phrase speaks;
the Decision then names them as topic words. A verdict carried by topic words alone may overrule the code like any
other (dev evidence: holding it back for a registered X.Y.Z code lost more than it saved). Each piece of code
evidence (the reply class, the enhanced code's subject, the command) that favours one of those reasons adds a
bonus; one that speaks against it takes off a penalty. Reasons no phrase points to score nothing: the code alone
never decides here, it only tips the balance between what the words say. The best reason wins when it reaches the
threshold and no other reason scores as much.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from probe.diagnosis.catalogue import Catalogue, Evidence, Phrase, Rule
from probe.diagnosis.codes import ParsedReply
from probe.model import Context, Decision, Reason

if TYPE_CHECKING:  # a type only: defining a Protocol class would cost `explain 252` start-up
    from typing import Protocol

    class WordsVerdict(Protocol):
        """What a tier of words says: Verdict here, pairs.PairVerdict, learned.WordVerdict."""

        @property
        def reason(self) -> Reason: ...

        @property
        def sources(self) -> tuple[str, ...]: ...

        def decision(self, *, agreed: bool = False) -> Decision: ...

_SUBJECTS = {"1": "addressing", "2": "mailbox", "3": "mail system", "4": "network and routing", "5": "protocol",
             "6": "message content", "7": "security or policy"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the words (and the code evidence that backed them) say."""

    reason: Reason
    score: float
    phrases: tuple[Phrase, ...]  # the phrases found that point to `reason`
    evidence: tuple[str, ...]  # "5xx", "X.2 (mailbox)", "to RCPT": the code evidence that favoured it

    @property
    def topical(self) -> bool:
        """Carried by topic words only (lexicon files with `topics = true`): no phrase named this reason."""
        return all(p.topic for p in self.phrases)

    def summary(self) -> str:
        quoted = ", ".join(f"'{p.text}'" for p in self.phrases[:4]) + (" ..." if len(self.phrases) > 4 else "")
        backed = f", backed by {', '.join(self.evidence)}" if self.evidence else ""
        words = ("the topic word" if len(self.phrases) == 1 else "the topic words") if self.topical else "the words"
        return f"{words} {quoted} ({self.reason.value}, score {self.score:g}{backed})"

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources of the phrases found: references of a Diagnosis they decide."""
        return tuple(dict.fromkeys(p.source for p in self.phrases))

    def decision(self, *, agreed: bool = False) -> Decision:
        """The words decided; `agreed`: the code's own entry gave the same reason, and speaks for it."""
        summary = f"{self.summary()}, as the code says" if agreed else self.summary()
        return Decision("lexicon", summary, phrases=tuple(p.text for p in self.phrases), evidence=self.evidence)


_EVIDENCE_KEYS: dict[tuple[int | None, str | None, Context | None], tuple[tuple[str, str], ...]] = {}


def evidence_keys(parsed: ParsedReply, ctx: Context | None) -> tuple[tuple[str, str], ...]:
    """(evidence.toml key, how it reads) for what this reply's code and command can say."""
    klass = parsed.code // 100 if parsed.code is not None else (int(parsed.enhanced[0]) if parsed.enhanced else None)
    subject = parsed.enhanced.split(".")[1] if parsed.enhanced is not None else None
    memo_key = (klass, subject, ctx)
    found = _EVIDENCE_KEYS.get(memo_key)
    if found is None:
        keys: list[tuple[str, str]] = []
        if klass is not None:
            keys.append((f"class:{klass}", f"{klass}xx"))
        if subject is not None:
            keys.append((f"subject:{subject}", f"X.{subject} ({_SUBJECTS.get(subject, 'unregistered subject')})"))
        if ctx is not None and ctx is not Context.BOUNCE:
            keys.append((f"context:{ctx.value}", f"to {ctx.value}"))
        found = tuple(keys)
        if len(_EVIDENCE_KEYS) < 10_000:  # bounded: subjects run to 999
            _EVIDENCE_KEYS[memo_key] = found
    return found


def weigh_code_evidence(scores: dict[Reason, float], parsed: ParsedReply, ctx: Context | None,
                        evidence: Evidence) -> dict[Reason, list[str]]:
    """Add the bonus of each piece of code evidence (class, enhanced subject, command) that favours a reason
    in `scores` and take off the penalty of each that speaks against one, in place; reasons not in `scores`
    score nothing. Returns, per reason, how the evidence that favoured it reads ("5xx", "to RCPT")."""
    backing: dict[Reason, list[str]] = {}
    for key, reads in evidence_keys(parsed, ctx):
        for reason in evidence.favours.get(key, ()):
            if reason in scores:
                scores[reason] += evidence.bonus
                backing.setdefault(reason, []).append(reads)
        for reason in evidence.disfavours.get(key, ()):
            if reason in scores:
                scores[reason] -= evidence.penalty
    return backing


def judge(parsed: ParsedReply, ctx: Context | None, catalogue: Catalogue,
          words: frozenset[str] | None = None) -> Verdict | None:
    """The reason the lexicon's phrases, weighed with the code evidence, point to; None when they say nothing
    clear (no phrase, a tie, or a score under the threshold). 2xx and 3xx replies are never judged by words."""
    klass = parsed.code // 100 if parsed.code is not None else None
    if klass in (2, 3):
        return None
    lexicon = catalogue.lexicon
    found = [lexicon[p] for p in catalogue.phrase_index.matches(parsed.normalized, words)]
    if not found:
        return None
    found.sort(key=lambda p: -len(p.text))
    kept: list[Phrase] = []
    for phrase in found:  # a phrase inside a longer one found counts as that one
        if not any(phrase.text in longer.text for longer in kept):
            kept.append(phrase)
    scores: dict[Reason, float] = {}
    by_reason: dict[Reason, list[Phrase]] = {}
    for phrase in kept:
        scores[phrase.reason] = scores.get(phrase.reason, 0.0) + phrase.weight
        by_reason.setdefault(phrase.reason, []).append(phrase)
    evidence = catalogue.evidence
    backing = weigh_code_evidence(scores, parsed, ctx, evidence)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    best, score = ranked[0]
    if score < evidence.threshold or (len(ranked) > 1 and ranked[1][1] >= score):
        return None
    return Verdict(best, round(score, 2), tuple(sorted(by_reason[best], key=lambda p: parsed.normalized.find(p.text))),
                   tuple(backing.get(best, ())))


# What decided a Diagnosis (model.Decision), for the classifier.

_BY_RULE: dict[str, Decision] = {}  # rule id -> its Decision (immutable, the same for every reply it decides)


def by_rule(rule: Rule) -> Decision:
    decision = _BY_RULE.get(rule.id)
    if decision is None:
        decision = Decision("rule", f"the wording rule {rule.id}", rule=rule.id)
        if len(_BY_RULE) < 100_000:  # bounded: catalogues built from given text bring other ids
            _BY_RULE[rule.id] = decision
    return decision


def by_code(parsed: ParsedReply, ctx: Context | None, what: str) -> Decision:
    """The code decided: the words said nothing the rules or the lexicon know."""
    evidence = tuple(reads for _, reads in evidence_keys(parsed, ctx))
    if parsed.code is not None and parsed.code < 400:
        return Decision("code", f"{what}: a {parsed.code // 100}xx reply is no refusal, whatever its words",
                        evidence=evidence)
    return Decision("code", f"{what}: the words say nothing more specific", evidence=evidence)


def words_decide(cat: Catalogue, verdict: WordsVerdict) -> tuple[str, str, Decision]:
    """(meaning, remediation, decision) when words decide (the lexicon's phrases, a pair, learned words): the
    reason's texts (reasons.toml), in plain words. Which words decided, with their scores, is the Decision's
    (`decided_by` in JSON, the 'decided by' line of explain), not the meaning a report prints."""
    texts = cat.reason_texts.get(verdict.reason)
    meaning, remediation = (texts.meaning, texts.remediation) if texts is not None else ("", "")
    return meaning, remediation, verdict.decision()
