"""Pure engine: reply text + context + host -> Diagnosis. Must not import asyncio, dns, ssl, socket or click.

Order of evidence: a 2xx or 3xx code first (a success is never a rejection, whatever the words: 252 is cannot_verify)
-> wording rules (catalogue/rules/*.toml in name order, first match wins) -> generic wording of the basic code
(codes.toml variants) -> the phrase lexicon weighed with the code evidence (probe.diagnosis.lexicon: specific words
beat a misused code; a phrase that is only what a pair found says of its subject gives way to the pair: 'Syntax error
in mailbox address') -> what the reply refuses and what it says about it, a subject and a predicate in one clause,
weighed with the code evidence (probe.diagnosis.pairs: 'Rcpt <x> does not exist', 'cannot start thread') -> words
learned from the rules' examples and the lexicon's phrases, weighed with the code evidence against the reason the
code alone gives (probe.diagnosis.learned) -> a context entry marked firm -> the enhanced status code, with the basic
code's context entry for 'when' -> the basic code's entry -> the reply class. Text without a code is judged by its
words only (rules, then lexicon, then pairs, then learned words), and is `unknown` when they say nothing. The
Diagnosis says which decided (`decided_by`). What the codes alone say is worked out in probe.diagnosis.codesays."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

from probe.diagnosis.catalogue import Catalogue, CodeEntry, Note, Rule, default
from probe.diagnosis.catalogue.entries import DETAIL_SLOT
from probe.diagnosis.catalogue.prefilter import text_words
from probe.diagnosis.codes import ParsedReply, parse
from probe.diagnosis.codesays import CLASS_NAMES, CLASS_SEVERITY, POSITIVE_REASONS, CodeSays, code_says
from probe.diagnosis.lexicon import by_rule, judge, words_decide
from probe.model import Context, Decision, Diagnosis, Reason, Reply, ReplyClass, Severity

if TYPE_CHECKING:
    from probe.diagnosis.lexicon import WordsVerdict

# Enum members as constants: reading Context.BOUNCE costs ten times a global's lookup (an enum descriptor)
_NO_COMMAND = (None, Context.BOUNCE)  # a reply seen outside a session: in a bounce, or pasted bare
_WHERE = {
    Context.BANNER: "Banner", Context.BOUNCE: "Bounce", Context.AFTER_DATA: "Reply to the end of DATA",
    Context.CONNECT: "Connection", Context.DNS: "DNS lookup", Context.TLS: "TLS",
}
_NO_CODE = ("The text carries no SMTP reply code (three digits from 200 to 599).",)


def detect_provider(host: str | None, text: str, *, catalogue: Catalogue | None = None) -> str | None:
    """The id of the provider that runs `host` (an MX host name) or wrote `text`, or None (Catalogue.provider_of)."""
    return (catalogue or default()).provider_of(host, text)


_REPLY_CLASSES: dict[int | None, ReplyClass | None] = {klass: ReplyClass.of(klass * 100) for klass in (2, 3, 4, 5)}


@lru_cache(maxsize=4096)  # bounded: a long batch run meets many hosts
def _where(ctx: Context | None, host: str | None, provider_name: str | None) -> str:
    parts = []
    if ctx is not None:
        parts.append(_WHERE.get(ctx) or f"{ctx.value} reply")
    if host:
        parts.append(f"from {host}")
    if provider_name:
        parts.append(f"({provider_name})")
    return " ".join(parts)


def _located(remediation: str, ctx: Context | None, host: str | None, provider_name: str | None) -> str:
    where = _where(ctx, host, provider_name)
    return f"{where}: {remediation}" if where else remediation


_LOCATION_TAIL = re.compile(r"(?: from [^\s:]+)?(?: \([^)]*\))?: ")


def unlocated(d: Diagnosis) -> str:
    """The remediation without the "RCPT reply from HOST (Provider): " lead `_located` put before it, for a
    report that already shows where the reply came from."""
    label = _where(d.context, None, None)
    if not label or not d.remediation.startswith(label):
        return d.remediation
    tail = _LOCATION_TAIL.match(d.remediation, len(label))
    return d.remediation[tail.end():] if tail else d.remediation


def _rule_matches(rule: Rule, parsed: ParsedReply, ctx: Context | None, provider: str | None) -> bool:
    """Every constraint of the rule holds; the cheap ones are tested first."""
    if rule.codes and parsed.code not in rule.codes:
        return False
    if rule.contexts and ctx not in rule.contexts and (rule.context_only or ctx not in _NO_COMMAND):
        return False
    if rule.providers and provider not in rule.providers:
        return False
    if rule.enhanced:
        enh = parsed.enhanced
        if enh is None or not any(enh == e or (e.endswith(".") and enh.startswith(e)) for e in rule.enhanced):
            return False
    if rule.pattern is None or rule.pattern.search(parsed.normalized) is not None:
        return True
    return bool(parsed.quoted) and rule.pattern.search(parsed.quoted) is not None  # the reply a bounce quotes


def match_rule(parsed: ParsedReply, ctx: Context | None, provider: str | None,
               catalogue: Catalogue | None = None, words: frozenset[str] | None = None) -> Rule | None:
    """The first wording rule (file order) that holds for this reply, or None.

    Only the rules whose code constraints admit the reply and whose required literals occur in its
    text are tried (catalogue.rule_index); their order is the file order, whatever set order is.
    """
    cat = catalogue or default()
    rules = cat.rules
    candidates = cat.rule_index.candidates(parsed.normalized, words) & cat.rules_for(parsed.code)
    positive = parsed.code is not None and parsed.code < 400  # a success is never a refusal, whatever the words
    for position in sorted(candidates):
        rule = rules[position]
        if positive and rule.reason not in POSITIVE_REASONS:
            continue
        if _rule_matches(rule, parsed, ctx, provider):
            return rule
    return None


def _code_note(entry: CodeEntry | None, ctx: Context | None) -> Note | None:
    if entry is None or ctx is None:
        return None
    return entry.contexts.get(ctx)


# how a command reads in a sentence ('RCPT' -> 'RCPT TO'); the others by their name
_COMMAND_WORDS = {Context.RCPT: "RCPT TO", Context.MAIL: "MAIL FROM", Context.BANNER: "the greeting",
                  Context.AFTER_DATA: "the end of the message data"}
_REASON_WORDS = {reason: reason.value.replace("_", " ") for reason in Reason}


def _generic_when(parsed: ParsedReply, klass: int | None, ctx: Context | None = None) -> str:
    if klass is None and ctx is Context.BOUNCE:
        return ("In a bounce message (non-delivery report) that quotes the receiving server's words "
                "without its reply code.")
    if parsed.code is None and parsed.enhanced:
        return (f"As the enhanced status of an SMTP reply (e.g. '{klass}NN {parsed.enhanced} ...'), "
                "or in the Status field of a bounce.")
    if klass is not None:
        return f"As a {klass}xx ({CLASS_NAMES[klass]}) reply to any command."
    return ("In text without a reply code: a provider's table of error messages, a bounce's diagnostic line, a log "
            "excerpt, or a reply whose code was cut off when it was copied.")


_TIERS: tuple[ModuleType, ModuleType] | None = None  # the tiers under the lexicon, once imported: pairs, learned


def _import_tiers() -> tuple[ModuleType, ModuleType]:
    """probe.diagnosis.pairs and probe.diagnosis.learned (which pairs imports), imported on first use, then kept:
    only replies the rules and the lexicon leave need them, their import costs `explain 252` start-up, and a `from
    package import module` runs importlib's Python-level fromlist handling each time (every reply the lexicon leaves
    asks for them)."""
    global _TIERS
    _TIERS = import_module("probe.diagnosis.pairs"), import_module("probe.diagnosis.learned")
    return _TIERS


def diagnose(parsed: ParsedReply, ctx: Context | None, *, host: str | None = None,
             catalogue: Catalogue | None = None, use_rules: bool = True, use_lexicon: bool = True,
             use_learned: bool = True, use_pairs: bool = True) -> Diagnosis:
    """The Diagnosis of a parsed reply. Never raises for any reply text.

    use_rules=False: the codes alone (no wording rules, no lexicon, no pairs, no learned words, no provider);
    use_lexicon=False: no lexicon, no pairs and no learned words; use_pairs=False: no subject-predicate pairs
    (probe.diagnosis.pairs); use_learned=False: no learned words (probe.diagnosis.learned)."""
    cat = catalogue or default()
    code = parsed.code  # the reply class: the code's first digit, else the enhanced code's, else None
    klass = code // 100 if code is not None else int(parsed.enhanced[0]) if parsed.enhanced else None
    words = text_words(parsed.normalized) if use_rules else frozenset()
    provider_id = cat.provider_of(host, parsed.normalized, words) if use_rules else None
    provider_name = cat.provider_name(provider_id)
    code_entry = cat.codes.get(parsed.code) if parsed.code is not None else None
    note = _code_note(code_entry, ctx)

    def make(reason: Reason, severity: Severity | None, meaning: str, when: str, remediation: str,
             rule: str | None, references: tuple[str, ...], notes: tuple[str, ...], decision: Decision) -> Diagnosis:
        # positional: a frozen dataclass takes keyword arguments slower, and this runs once per reply
        return Diagnosis(parsed.text, parsed.code, parsed.enhanced, _REPLY_CLASSES.get(klass), ctx, reason,
                         severity or (CLASS_SEVERITY[klass] if klass else Severity.CRITICAL), meaning, when,
                         _located(remediation, ctx, host, provider_name), rule, provider_name,
                         tuple(dict.fromkeys(references)), notes, decision)

    when = (note.when if note and note.when else None) or (code_entry.when if code_entry else None) \
        or _generic_when(parsed, klass, ctx)
    code_refs = code_entry.references if code_entry else ()
    notes = _NO_CODE if klass is None else ()  # pasted words without a code: judged by their words only

    if use_rules:
        rule = match_rule(parsed, ctx, provider_id, cat, words)
        if rule is not None:
            enh_entry = cat.enhanced.get(parsed.enhanced.split(".", 1)[1]) if parsed.enhanced else None
            refs = rule.references + (enh_entry.references if enh_entry else ()) + code_refs
            remediation = rule.remediation
            if not rule.contexts and note is not None and note.firm and note.remediation \
                    and (note.reason or (code_entry.reason if code_entry else None)) == rule.reason:
                remediation = f"{note.remediation} {remediation}"  # a generic rule; the context adds its advice
            usual = (note.reason if note else None) or (code_entry.reason if code_entry else None)
            if usual is not None and usual != rule.reason:  # the code's usual "when" describes another case
                where = f"In reply to {_COMMAND_WORDS.get(ctx) or ctx}" if ctx not in _NO_COMMAND else "In a reply"
                bare = (f"a bare {parsed.code} names no cause" if usual is Reason.UNKNOWN
                        else f"not what a bare {parsed.code} usually means ({_REASON_WORDS[usual]})")
                when = f"{where}, worded like this: the reason here is {_REASON_WORDS[rule.reason]}, {bare}."
            return make(rule.reason, rule.severity, rule.meaning, when, remediation, rule.id, refs, notes,
                        by_rule(rule))

    coded: CodeSays | None = None  # what the codes alone say; nothing for text without a code
    if klass is not None:
        if code_entry is not None and klass not in (2, 3):
            for variant in code_entry.variants:
                if (not variant.contexts or ctx is None or ctx in variant.contexts) \
                        and not (variant.no_enhanced and parsed.enhanced) and variant.pattern.search(parsed.body):
                    return make(variant.reason, variant.severity or (note.severity if note else None)
                                or code_entry.severity, variant.meaning, when, variant.remediation, variant.id,
                                code_refs, (), Decision("wording", f"the generic wording '{variant.id}' of a "
                                                        f"{parsed.code} reply", rule=variant.id))
        coded = code_says(cat, parsed, ctx, klass, code_entry, note)
    # the words: the first of the lexicon, the pairs and the learned words to speak (a 2xx or 3xx code never lets them)
    verdict: WordsVerdict | None = None
    if use_rules and use_lexicon and (klass not in (2, 3) or parsed.code is None):
        verdict = judge(parsed, ctx, cat, words)
        if verdict is not None and use_pairs:
            # a phrase that is only what a pair says of its subject gives way to the pair (pairs.over_phrases)
            pairs, _ = _TIERS or _import_tiers()
            over = pairs.over_phrases(tuple(p.text for p in verdict.phrases), parsed, ctx, cat, words,
                                      coded.reason if coded else None)
            if over is not None and over.reason is not verdict.reason:
                verdict = over
        if verdict is None:
            pairs, learned = _TIERS or _import_tiers()
            if use_pairs:  # no phrase decided, but a subject and what is said of it may
                verdict = pairs.judge_pairs(parsed, ctx, cat, words, coded.reason if coded else None)
            if verdict is None and use_learned:  # nor a pair, but the words may lean clearly one way
                verdict = learned.judge_words(parsed, ctx, cat, words, coded.reason if coded else None)
        # specific words beat a misused code; the code decides when they say nothing
        if verdict is not None and (coded is None or verdict.reason is not coded.reason):
            meaning, remediation, decision = words_decide(cat, verdict)
            return make(verdict.reason, None, meaning, when, remediation, None, verdict.sources + code_refs, notes,
                        decision)
    if coded is None:
        return make(Reason.UNKNOWN, Severity.WARNING,
                    "The text carries no SMTP reply code, and its wording matches nothing the catalogue knows, so "
                    "the cause cannot be told from this text alone.", when,
                    "Find the line that quotes the remote server's reply with its code (e.g. '550 5.1.1 ...', often "
                    "after 'Remote server returned', 'said:' or 'Diagnostic-Code') and explain that line.",
                    None, (), notes, Decision("nothing", "no reply code, and no wording the catalogue knows"))
    # when the words agree, the code's own entry says it best
    decision = coded.decision if verdict is None else verdict.decision(agreed=True)
    return make(coded.reason, coded.severity, coded.meaning, when, coded.remediation, None, coded.references,
                coded.notes, decision)


_parse_context = lru_cache(maxsize=128)(Context.parse)


def classify(text: str, context: str | Context | None = None, *, host: str | None = None) -> Diagnosis:
    """Diagnose one reply (one or more lines) seen in `context`. Unknown context name: ValueError."""
    if context is None or isinstance(context, Context):
        ctx = context
    elif isinstance(context, str):
        ctx = _parse_context(context)
    else:
        raise ValueError(f"unknown reply context {context!r}; give a command name such as 'RCPT'")
    return diagnose(parse(text), ctx, host=host)


def classify_reply(reply: Reply, context: Context | None, *, host: str | None = None) -> Diagnosis:
    """Diagnose a Reply read from the wire (what the live probe uses)."""
    if reply.code < 0:
        return diagnose_event("protocol-error", context, detail=f"the peer sent {reply.text[:120]!r}",
                              host=host)
    diagnosis = diagnose(parse(reply.as_final_code), context, host=host)  # its meaning: the final line's code
    return replace(diagnosis, text=reply.text) if reply.line_codes else diagnosis  # its text: as sent


def _weave(meaning: str, detail: str) -> str:
    """An event meaning with its detail: the optional part '[... {detail} ...]' filled in, or left out
    when there is no detail. A meaning without that part gets the detail appended in parentheses."""
    detail = " ".join(detail.split()).rstrip(".")
    slot = DETAIL_SLOT.search(meaning)
    if slot is None:
        return f"{meaning.rstrip().rstrip('.')} (detail: {detail})." if detail else meaning
    filled = f"{slot.group(1)}{detail}{slot.group(2)}" if detail else ""
    return meaning[:slot.start()] + filled + meaning[slot.end():]


def diagnose_event(event: str, context: Context | None = None, *, detail: str = "",
                   host: str | None = None) -> Diagnosis:
    """Diagnose a probe event that is not a reply (events.toml id). Unknown ids never raise."""
    entry = default().events.get(event)
    text = f"{event}: {detail}" if detail else event
    if entry is None:
        return Diagnosis(
            text=text, code=None, enhanced=None, reply_class=None, context=context, reason=Reason.NETWORK_ERROR,
            severity=Severity.WARNING,
            meaning=f"The probe met an unexpected event ({event})" + _weave("[: {detail}].", detail),
            when="During the probe, outside any SMTP reply.",
            remediation=_located("Retry; if it persists, report it with the transcript (-v).", context, host, None),
            notes=(f"{event!r} is not a known probe event id.",),
            decided_by=Decision("event", f"the probe event {event}"),
        )
    note = entry.contexts.get(context) if context is not None else None  # e.g. a timeout at the banner
    return Diagnosis(
        text=text, code=None, enhanced=None, reply_class=None, context=context,
        reason=(note.reason if note else None) or entry.reason,
        severity=(note.severity if note else None) or entry.severity,
        meaning=_weave((note.meaning if note else None) or entry.meaning, detail),
        when=(note.when if note else None) or entry.when,
        remediation=_located((note.remediation if note else None) or entry.remediation, context, host, None),
        decided_by=Decision("event", f"the probe event {event}" + (f" ({context})" if note else "")),
    )
