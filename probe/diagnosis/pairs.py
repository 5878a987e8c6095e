"""Pure engine: the general pair layer -- WHAT a reply refuses and WHAT it says about it. Must not import asyncio,
dns, ssl, socket or click.

The lexicon holds whole phrases; the world says the same things in endless word orders ('Rcpt <x> does not exist',
'Local part too long', 'Bounces are blocked', 'cannot start thread'). Most refusals name a subject (the client's
IP, the sender, the recipient, a line, HELO, STARTTLS, the server's backend ...) and a predicate (blocked, does not
exist, too long, required, cannot start ...), and the pair decides the reason far more reliably than either word.
catalogue/pairs/<language>.toml lists the words of each subject kind and predicate kind; pairs/cells.toml says which
reason each subject kind and predicate kind give together, per command where that changes it (an address that is
malformed: syntax_error to MAIL, bad_address to RCPT).

Matching: the reply, with URLs, addresses and host names blanked out, is cut into clauses (at ; : ! ?, brackets,
sentence ends, commas, dashes between spaces), so that 'sender ok; recipient unknown' never pairs sender with
unknown. In each clause its tokens are read left to right, the longest word at each place first; a predicate right
after a negation ('not', 'never'; one word between at most) is no predicate ('is not blocked'), nor is a word saying
something is bad that qualifies the word naming its syntax ('bad recipient address syntax': the syntax is what is
bad). A subject and a predicate of the same clause, at most `window` tokens apart, in either order, make a pair: each
subject with its nearest predicate that fills a cell for the command answered, a predicate of the `after_subject`
kinds only with a subject before it ('requires STARTTLS before MAIL FROM': STARTTLS comes first). The command
answered is the reply's context; for a reply quoted in a bounce, the command the bounce names ('(in reply to MAIL
FROM command)'). A clause that ends with a colon is a wrapper: when a later clause holds a pair, the wrapper's pairs
give way (Postfix's 'Recipient address rejected: <the cause>': the cause decides), and a wrapper naming a subject of
[wrappers] makes the clauses after it read as in reply to that command ('Sender address rejected: Domain not found'
at RCPT is the sender's domain). Where the same words are used for two reasons (a cell's `readings`: 'address
invalid' is a mailbox that does not exist, or a malformed address), the reason the codes alone give picks among them
(X.1.1: user_unknown); else the cell's own reason stands. Each reason the pairs point to gets the cells' weight
(once, however many pairs point to it); the code evidence of evidence.toml (the reply class, the enhanced subject,
the command) adds its bonus or takes off its penalty as in the lexicon. The best reason needs the threshold and must
beat the second, or, on a tie, come from an earlier clause (the headline: 'Mail relay denied. Invalid credentials for
relay ...').

Its place in the order of evidence (probe.diagnosis.classifier): after the lexicon's phrases, before the learned
words: a whole phrase seen in a source is surer than a pair of words, and a pair surer than a word.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from typing import ClassVar

from probe.diagnosis.catalogue import Catalogue
from probe.diagnosis.catalogue.pairwords import TOKEN, Cell, PairTable, PairWord
from probe.diagnosis.codes import ParsedReply
from probe.diagnosis.codesays import code_reason
from probe.diagnosis.learned import words_only
from probe.diagnosis.lexicon import weigh_code_evidence
from probe.model import Context, Decision, Reason

# Where a clause ends: ; : ! ?, brackets, CJK punctuation, a '.' or ',' before a space or at the end, a dash between
# spaces. Not a line break: the pairs read the normalized text, whose lines are joined (servers wrap one sentence over
# several lines of a reply, as Gmail and Microsoft do)
_CLAUSE_END = re.compile(r"([;:!?()\[\]\u3001\u3002\uff01\uff08\uff09\uff0c\uff1a\uff1b\uff1f]|[.,](?=\s|$)"
                         r"|\s[-\u2013\u2014]+\s)")
_COLONS = (":", "\uff1a")
# The predicate kind that states a quantity ('too many', 'zu viele', 'trop de'): what stands between it and the
# subject it counts qualifies the count (_counted)
_COUNTS = "too_many"
# A predicate kind that says something is bad, and the one that names its syntax ('bad ... syntax'): _qualified
_QUALITY, _SYNTAX = "invalid", "malformed"
# What a bounce says of the command the quoted reply answered: Postfix's '(in reply to RCPT TO command)', Exim's
# 'SMTP error from remote mail server after RCPT TO:<...>'
_IN_REPLY_TO = re.compile(r"in reply to (mail from|rcpt to|end of data|data|ehlo|helo|starttls|auth)\b"
                          r"|\bafter (mail from|rcpt to|end of data)\b")
_COMMANDS = {"mail from": Context.MAIL, "rcpt to": Context.RCPT, "end of data": Context.AFTER_DATA,
             "data": Context.DATA, "ehlo": Context.EHLO, "helo": Context.HELO, "starttls": Context.STARTTLS,
             "auth": Context.AUTH}


@dataclass(frozen=True, slots=True)
class Pair:
    """A subject and a predicate found together in one clause, and the cell they fill."""

    subject: PairWord
    predicate: PairWord
    cell: Cell
    reason: Reason  # the cell's reason for the command it answered (the reply's, or the one a wrapper names)
    clause: int  # which clause of the reply (0 first)
    command: Context | None = None  # the command it answered


@dataclass(frozen=True, slots=True)
class PairVerdict:
    """What the pairs (and the code evidence that backed them) say."""

    reason: Reason
    score: float
    pairs: tuple[Pair, ...]  # the pairs that point to `reason`, in the reply's order
    evidence: tuple[str, ...]

    @property
    def words(self) -> tuple[str, ...]:
        """The subject and predicate words found, in pairs: ('rcpt', 'does not exist')."""
        return tuple(w for p in self.pairs for w in (p.subject.text, p.predicate.text))

    def summary(self) -> str:
        said = "; ".join(f"the subject '{p.subject.text}' ({p.subject.kind}) with the predicate '{p.predicate.text}' "
                         f"({p.predicate.kind})" for p in self.pairs)
        backed = f", backed by {', '.join(self.evidence)}" if self.evidence else ""
        return f"{said} ({self.reason.value}, score {self.score:g}{backed})"

    sources: ClassVar[tuple[str, ...]] = ()  # no phrase sources: the references are the code's

    def decision(self, *, agreed: bool = False) -> Decision:
        """The pairs decided; `agreed`: the code's own entry gave the same reason, and speaks for it."""
        summary = f"{self.summary()}, as the code says" if agreed else self.summary()
        return Decision("pair", summary, phrases=self.words, evidence=self.evidence)


def _clauses(text: str) -> list[tuple[str, bool]]:
    """The clauses of a reply (URLs, addresses and host names blanked out), each with whether a colon ends it (a
    wrapper: 'Sender address rejected: ...')."""
    parts = _CLAUSE_END.split(words_only(text))  # clause, the end that follows it, clause, ...
    return [(parts[i], i + 1 < len(parts) and parts[i + 1] in _COLONS) for i in range(0, len(parts), 2)]


def _found(clause: str, table: PairTable) -> tuple[list[tuple[int, int, PairWord]], list[tuple[int, int, PairWord]]]:
    """(subjects, predicates) of one clause, each as (first token, end token, word)."""
    toks = TOKEN.findall(clause)
    subjects: list[tuple[int, int, PairWord]] = []
    predicates: list[tuple[int, int, PairWord]] = []
    by_first, n, i = table.by_first, len(toks), 0
    while i < n:
        for word in by_first.get(toks[i], ()):
            end = i + len(word.tokens)
            if end <= n and (len(word.tokens) == 1 or tuple(toks[i:end]) == word.tokens):
                if word.role == "subject":
                    subjects.append((i, end, word))
                elif not _negated(toks, i, table):
                    predicates.append((i, end, word))
                i = end
                break
        else:
            i += 1
    return subjects, predicates


def _counted(subjects: list[tuple[int, int, PairWord]], predicates: list[tuple[int, int, PairWord]]
             ) -> list[tuple[int, int, PairWord]]:
    """The predicates without those that qualify what a quantity counts: in 'too many bad commands' it is the
    commands that are too many, and 'bad' says which ones (README 'too many errors': rate_limited), not what is wrong
    with them. A predicate of the _COUNTS kind counts the subject right after it when only predicate words stand
    between them; those words are modifiers and pair with nothing."""
    counters = [(start, end) for start, end, word in predicates if word.kind == _COUNTS]
    if not counters:
        return predicates
    modifiers: set[int] = set()
    for _, end in counters:
        counted = next((start for start, _, _ in subjects if start >= end), None)
        between = [(start, stop) for start, stop, _ in predicates if end <= start < (counted or end)]
        if counted is None or not between or sum(stop - start for start, stop in between) != counted - end:
            continue
        modifiers.update(start for start, _ in between)
    return [p for p in predicates if p[0] not in modifiers] if modifiers else predicates


def _qualified(subjects: list[tuple[int, int, PairWord]], predicates: list[tuple[int, int, PairWord]]
               ) -> list[tuple[int, int, PairWord]]:
    """The predicates without a word saying that something is bad when it qualifies the word that names its syntax:
    in 'bad recipient address syntax' (Postfix's smtpd.c) it is the syntax that is bad, and what is wrong with the
    address is its syntax (README bad_address vs syntax_error), not that it is an invalid mailbox; so in 'syntax
    illegal for recipient addresses' (Sendmail's proto.m4). The two stand side by side, or with only subject words
    between them."""
    heads = [(start, end) for start, end, word in predicates if word.kind == _SYNTAX]
    if not heads:
        return predicates
    subject_tokens = {i for start, end, _ in subjects for i in range(start, end)}
    qualifiers = {start for start, end, word in predicates if word.kind == _QUALITY and any(
        set(range(end, h_start)) <= subject_tokens if end <= h_start else set(range(h_end, start)) <= subject_tokens
        for h_start, h_end in heads)}
    return [p for p in predicates if p[0] not in qualifiers] if qualifiers else predicates


def _negated(toks: list[str], start: int, table: PairTable) -> bool:
    """A negation ends right before `start`, or one token before it ('not yet blocked')."""
    ends = table.negation_ends
    for end in (start, start - 1):
        if end > 0 and toks[end - 1] in ends:
            for neg in table.negations:
                if end - len(neg) >= 0 and tuple(toks[end - len(neg):end]) == neg:
                    return True
    return False


def command_of(text: str, ctx: Context | None) -> Context | None:
    """The command a reply answered: `ctx`, or for one quoted in a bounce (or pasted bare) the command the bounce
    names ('(in reply to MAIL FROM command)'), else None."""
    if ctx is not None and ctx is not Context.BOUNCE:
        return ctx
    named = _IN_REPLY_TO.search(text) if "in reply to" in text or "after " in text else None
    return _COMMANDS[named.group(1) or named.group(2)] if named is not None else ctx


def find_pairs(parsed: ParsedReply, ctx: Context | None, table: PairTable,
               subject_words: frozenset[str] | None = None) -> list[Pair]:
    """Every subject-predicate pair with a cell that speaks for the command answered, clause by clause. A clause that
    ends with a colon and names a subject of [wrappers] ('Sender address rejected:') says whose the words after it
    are: they are read as in reply to that command (MAIL for the sender). `subject_words`: the first words of the
    subjects an ASCII reply holds (_may_pair), so that a clause with none of them is not read further."""
    pairs: list[Pair] = []
    cells, window = table.cells, table.window
    wrappers: set[int] = set()
    command = command_of(parsed.normalized, ctx)
    for number, (clause, wrapper) in enumerate(_clauses(parsed.normalized)):
        if subject_words is not None and not any(w in clause for w in subject_words):
            continue  # no subject here (its first word is not even inside the clause)
        subjects, predicates = _found(clause, table)
        predicates = _qualified(subjects, _counted(subjects, predicates))
        if wrapper:
            named = next((table.wrappers[s.kind] for _, _, s in subjects if s.kind in table.wrappers), None)
            command = named or command
        if not subjects or not predicates:
            continue
        # Only the predicates within `window` tokens of a subject can pair with it: found by bisection over their
        # starts (in order, as _found appends them), so that a hostile clause of thousands of subject and predicate
        # words costs what its length does, not its square
        starts = [start for start, _, _ in predicates]
        longest = max(end - start for start, end, _ in predicates)
        for s_start, s_end, subject in subjects:
            best: tuple[int, Pair] | None = None
            near = predicates[bisect_left(starts, s_start - window - longest):bisect_right(starts, s_end + window)]
            for p_start, p_end, predicate in near:
                if p_start < s_end and predicate.kind in table.after_subject:
                    continue
                gap = p_start - s_end if p_start >= s_end else s_start - p_end
                cell = cells.get((subject.kind, predicate.kind))
                if cell is None or not 0 <= gap <= window or (best is not None and gap >= best[0]):
                    continue
                reason = cell.reason_for(command)
                if reason is not None:
                    best = (gap, Pair(subject, predicate, cell, reason, number, command))
            if best is not None:
                pairs.append(best[1])
                if wrapper:
                    wrappers.add(number)
    if wrappers and pairs[-1].clause not in wrappers:  # the cause after the colon decides, not its wrapper
        pairs = [p for p in pairs if p.clause not in wrappers]
    return pairs


def _may_pair(words: frozenset[str], table: PairTable) -> frozenset[str]:
    """The first words of the subjects an ASCII reply with these text_words holds, when it holds those of a subject
    and of a predicate whose kinds fill a cell; else nothing (the cheap test most replies stop at)."""
    subject_words = words & table.subject_key_set
    if not subject_words:
        return subject_words
    predicate_words = words & table.predicate_key_set
    if not predicate_words:
        return predicate_words
    predicate_keys = table.predicate_keys
    found = frozenset().union(*[predicate_keys[w] for w in predicate_words])
    subject_keys, partners = table.subject_keys, table.partners
    if any(not found.isdisjoint(partners.get(kind, ())) for w in subject_words for kind in subject_keys[w]):
        return subject_words
    return frozenset()


def _read_by_the_codes(pairs: list[Pair], parsed: ParsedReply, ctx: Context | None, catalogue: Catalogue,
                       coded: Reason | _Ask | None) -> list[Pair]:
    """The pairs whose cell has other readings (cells.toml `readings`), read as the codes pick: 'address invalid'
    under X.1.1 is a mailbox that does not exist; 'Temporary authentication failure' under 454 4.7.0 the server's."""
    if not any(p.cell.readings for p in pairs):
        return pairs
    if isinstance(coded, _Ask):
        coded = code_reason(catalogue, parsed, ctx)
    read = []
    for pair in pairs:
        reason = pair.cell.read(pair.command, coded) if pair.cell.readings else pair.reason
        read.append(pair if reason is pair.reason or reason is None else replace(pair, reason=reason))
    return read


class _Ask:
    """judge_pairs was not told what the codes alone say: it asks codesays when a cell needs it."""


ASK = _Ask()


def judge_pairs(parsed: ParsedReply, ctx: Context | None, catalogue: Catalogue,
                words: frozenset[str] | None = None, coded: Reason | _Ask | None = ASK) -> PairVerdict | None:
    """The reason the reply's subject-predicate pairs, weighed with the code evidence, point to; None when they say
    nothing clear. 2xx and 3xx replies are never judged by words. `words`: text_words of the normalized text, for
    the prefilter (an ASCII reply without a subject word and a predicate word is not read further); `coded`: the
    reason the codes alone give (probe.diagnosis.codesays), which picks among a cell's readings."""
    klass = parsed.code // 100 if parsed.code is not None else None
    if klass in (2, 3):
        return None
    table = catalogue.pairs
    text = parsed.normalized
    subject_words = _may_pair(words, table) if words is not None and text.isascii() else None
    if subject_words is not None and not subject_words:
        return None
    pairs = find_pairs(parsed, ctx, table, subject_words)
    if not pairs:
        return None
    pairs = _read_by_the_codes(pairs, parsed, ctx, catalogue, coded)
    scores: dict[Reason, float] = {}
    first: dict[Reason, int] = {}
    chosen: dict[Reason, list[Pair]] = {}
    for pair in pairs:
        reason = pair.reason
        scores[reason] = table.weight
        first.setdefault(reason, pair.clause)
        chosen.setdefault(reason, []).append(pair)
    backing = weigh_code_evidence(scores, parsed, ctx, catalogue.evidence)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], first[item[0]]))
    best, score = ranked[0]
    if score < table.threshold:
        return None
    if len(ranked) > 1 and ranked[1][1] >= score and first[ranked[1][0]] <= first[best]:
        return None
    return PairVerdict(best, round(score, 2), tuple(chosen[best]), tuple(backing.get(best, ())))


def over_phrases(phrases: tuple[str, ...], parsed: ParsedReply, ctx: Context | None, catalogue: Catalogue,
                 words: frozenset[str] | None, coded: Reason | None) -> PairVerdict | None:
    """The pairs' verdict when the lexicon's phrases that decided (`phrases`, their texts) are each no more than what
    a pair found says of its subject, and the pairs say another reason; else None. 'Syntax error' alone is a
    malformed command (the lexicon's syntax_error), but in '501 5.1.3 Syntax error in mailbox address' (Sendmail's
    parseaddr.c) it is said of the recipient's address, which the pair reads: bad_address (README bad_address vs
    syntax_error). The pair knows what the words are said of, the phrase does not."""
    table = catalogue.pairs
    if not all(text in table.predicate_texts for text in phrases):
        return None  # a phrase says more than a predicate: it stands (the cheap test most replies stop at)
    verdict = judge_pairs(parsed, ctx, catalogue, words, coded)
    if verdict is None or not all(any(p.predicate.text == text for p in verdict.pairs) for text in phrases):
        return None
    return verdict
