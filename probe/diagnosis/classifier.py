"""Pure engine: reply text + context + host -> Diagnosis. Must not import asyncio, dns, ssl, socket or click.

Order of evidence: a 2xx or 3xx code first (a success is never a rejection, whatever the words: 252 is
cannot_verify) -> wording rules (catalogue/rules/*.toml in name order, first match wins) -> generic wording of
the basic code (codes.toml variants) -> the phrase lexicon weighed with the code evidence (probe.diagnosis.lexicon:
specific words beat a misused code) -> what the reply refuses and what it says about it, a subject and a predicate
in one clause, weighed with the code evidence (probe.diagnosis.pairs: 'Rcpt <x> does not exist', 'cannot start
thread') -> words learned from the rules' examples and the lexicon's phrases, weighed with the code evidence against
the reason the code alone gives (probe.diagnosis.learned) -> a context entry marked firm -> the enhanced status
code, with the basic code's context entry for 'when' -> the basic code's entry -> the reply class. Text without a
code is judged by its words only (rules, then lexicon, then pairs, then learned words), and is `unknown` when they
say nothing. The Diagnosis says which decided (`decided_by`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from importlib import import_module
from types import ModuleType

from probe.diagnosis.catalogue import Catalogue, CodeEntry, EnhancedEntry, Note, Rule, default
from probe.diagnosis.catalogue.entries import DETAIL_SLOT
from probe.diagnosis.catalogue.prefilter import text_words
from probe.diagnosis.codes import ParsedReply, parse
from probe.diagnosis.lexicon import by_code, by_lexicon, by_rule, judge, phrase_sources, words_decide
from probe.model import Context, Decision, Diagnosis, Reason, Reply, ReplyClass, Severity

_CLASS_SEVERITY = {2: Severity.OK, 3: Severity.INFO, 4: Severity.WARNING, 5: Severity.CRITICAL}
CLASS_NAMES = {2: "Positive Completion", 3: "Positive Intermediate", 4: "Transient Negative",
               5: "Permanent Negative"}
_CLASS_MEANING = {
    2: "The server reports success.",
    3: "The server accepted the command and waits for more input.",
    4: "The server refused for now: a temporary failure; the same request may succeed later.",
    5: "The server refused permanently: repeating the same request unchanged will fail again.",
}
_CLASS_REMEDIATION = {
    2: "Nothing to fix.",
    3: "Nothing to fix; send the rest of the exchange.",
    4: "Retry later; read the reply text for the cause.",
    5: "Do not retry unchanged; read the reply text for what the server objects to.",
}
_CLASS_REASON = {2: Reason.ACCEPTED, 3: Reason.ACCEPTED, 4: Reason.UNKNOWN, 5: Reason.UNKNOWN}
_POSITIVE_REASONS = frozenset({Reason.ACCEPTED, Reason.WILL_FORWARD, Reason.CANNOT_VERIFY})
# Enum members as constants: reading Context.BOUNCE costs ten times a global's lookup (an enum descriptor)
_NO_COMMAND = (None, Context.BOUNCE)  # a reply seen outside a session: in a bounce, or pasted bare
_CODE_SAYS_MORE = (Reason.NOT_IMPLEMENTED, Reason.BAD_SEQUENCE)  # than a protocol status X.5.1 / X.5.2
_KEEPS_ITS_SAY = (*_CODE_SAYS_MORE, Reason.ACCEPTED, Reason.CANNOT_VERIFY, Reason.WILL_FORWARD)
_WHERE = {
    Context.BANNER: "Banner", Context.BOUNCE: "Bounce", Context.AFTER_DATA: "Reply to the end of DATA",
    Context.CONNECT: "Connection", Context.DNS: "DNS lookup", Context.TLS: "TLS",
}


def detect_provider(host: str | None, text: str, *, catalogue: Catalogue | None = None) -> str | None:
    """The id of the provider that runs `host` (an MX host name) or wrote `text`, or None (Catalogue.provider_of)."""
    return (catalogue or default()).provider_of(host, text)


def _class_of(parsed: ParsedReply) -> int | None:
    if parsed.code is not None:
        return parsed.code // 100
    return int(parsed.enhanced[0]) if parsed.enhanced else None


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
    return rule.pattern is None or rule.pattern.search(parsed.normalized) is not None


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
        if positive and rule.reason not in _POSITIVE_REASONS:
            continue
        if _rule_matches(rule, parsed, ctx, provider):
            return rule
    return None


_STORAGE_REASONS = frozenset({Reason.MESSAGE_TOO_BIG, Reason.MAILBOX_FULL, Reason.STORAGE_FULL})
# A basic code's default that a security or policy status (X.7) rules out: a size or storage limit (552 5.7.0), and a
# server out of service (421 4.7.0 closes on this client for policy, RFC 3463 §3.8; the SPEC's rate_limited '4.7.0 /
# 421'): see _by_codes.
_NOT_POLICY = frozenset(_STORAGE_REASONS | {Reason.SERVICE_UNAVAILABLE})
# A basic code's default that claims the address is bad, and the enhanced subjects that speak of something
# else (mail system, network and routing, protocol, security or policy): see diagnose().
_ADDRESS_CLAIMS = frozenset({Reason.USER_UNKNOWN, Reason.BAD_ADDRESS})
_NOT_ABOUT_ADDRESSES = frozenset({"3", "4", "5", "7"})


def _subject_reasons(cat: Catalogue, subject: str) -> frozenset[Reason]:
    """Every reason the registered codes of subject X.<subject> can give (any class, any context)."""
    key = f"subject-reasons:{subject}"
    cached: frozenset[Reason] | None = cat.memo.get(key)
    if cached is None:
        reasons: set[Reason] = set()
        for k, e in cat.enhanced.items():
            if k == subject or k.startswith(f"{subject}."):
                reasons.add(e.reason)
                reasons.update(n.reason for n in (*e.by_class.values(), *e.contexts.values()) if n.reason)
        cached = cat.memo[key] = frozenset(reasons)
    return cached


def _subject_overrules(cat: Catalogue, subject: str, basic_reason: Reason) -> bool:
    """An unregistered X.<subject>.D explains a reply better than its basic code's entry when the basic code's
    reason is one no registered code of that subject gives (550 5.7.750 to RCPT: policy, not an unknown user).
    X.0 says nothing and never overrules; 2xx codes and 'not implemented'/'bad sequence' keep their say."""
    if subject == "0" or basic_reason in _KEEPS_ITS_SAY:
        return False
    # 'unknown' names no cause, so any subject says more, even one whose generic codes give 'unknown' in some context
    return basic_reason is Reason.UNKNOWN or basic_reason not in _subject_reasons(cat, subject)


def _class_fitted(subject_entry: EnhancedEntry, klass: int) -> EnhancedEntry:
    """A subject entry speaking for a reply of class `klass` (a success subject never says 'refused')."""
    if klass not in (2, 3):
        return replace(subject_entry, meaning=f"{_CLASS_MEANING[klass]} {subject_entry.meaning}")
    return replace(subject_entry, reason=Reason.ACCEPTED, meaning=_CLASS_MEANING[klass],
                   remediation=_CLASS_REMEDIATION[klass])


def _code_note(entry: CodeEntry | None, ctx: Context | None) -> Note | None:
    if entry is None or ctx is None:
        return None
    return entry.contexts.get(ctx)


def _enhanced_parts(entry: EnhancedEntry, klass: int, ctx: Context | None) -> tuple[Reason, str, str, Severity | None]:
    """(reason, meaning, remediation, severity) of an enhanced code for this class and context."""
    reason, meaning, remediation, severity = entry.reason, entry.meaning, entry.remediation, None
    for note in (entry.by_class.get(klass), entry.contexts.get(ctx) if ctx is not None else None):
        if note is not None:
            reason = note.reason or reason
            meaning = note.meaning or meaning
            remediation = note.remediation or remediation
            severity = note.severity or severity
    return reason, meaning, remediation, severity


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


_TIERS: dict[str, ModuleType] = {}  # the tiers under the lexicon, once imported: 'pairs', 'learned'


def _tier(name: str) -> ModuleType:
    """probe.diagnosis.<name> (pairs, learned), imported on first use, then kept: only replies the rules and the
    lexicon leave need it, its import costs `explain 252` start-up, and a `from package import module` runs
    importlib's Python-level fromlist handling each time (every reply the lexicon leaves asks for it)."""
    module = _TIERS.get(name)
    if module is None:
        module = _TIERS[name] = import_module(f"probe.diagnosis.{name}")
    return module


class _CodeSays:
    """What the codes alone say about a reply (a firm context entry, the enhanced status code, the basic code's
    entry, the class): the parts of the Diagnosis they give. A tier that weighs the words against it takes its
    reason, and, when the words agree, its parts under its own Decision, worked out once without a Diagnosis.
    (A plain class: a NamedTuple's class costs `explain 252` start-up more than this module's other classes.)"""

    __slots__ = ("decision", "meaning", "notes", "reason", "references", "remediation", "severity")

    def __init__(self, reason: Reason, severity: Severity | None, meaning: str, remediation: str,
                 references: tuple[str, ...], notes: tuple[str, ...], decision: Decision) -> None:
        self.reason, self.severity, self.meaning, self.remediation = reason, severity, meaning, remediation
        self.references, self.notes, self.decision = references, notes, decision


def diagnose(parsed: ParsedReply, ctx: Context | None, *, host: str | None = None,
             catalogue: Catalogue | None = None, use_rules: bool = True, use_lexicon: bool = True,
             use_learned: bool = True, use_pairs: bool = True) -> Diagnosis:
    """The Diagnosis of a parsed reply. Never raises for any reply text.

    use_rules=False: the codes alone (no wording rules, no lexicon, no pairs, no learned words, no provider);
    use_lexicon=False: no lexicon, no pairs and no learned words; use_pairs=False: no subject-predicate pairs
    (probe.diagnosis.pairs); use_learned=False: no learned words (probe.diagnosis.learned)."""
    cat = catalogue or default()
    klass = _class_of(parsed)
    words = text_words(parsed.normalized) if use_rules else frozenset()
    provider_id = cat.provider_of(host, parsed.normalized, words) if use_rules else None
    provider_name = cat.provider_name(provider_id)
    code_entry = cat.codes.get(parsed.code) if parsed.code is not None else None
    note = _code_note(code_entry, ctx)

    def make(reason: Reason, severity: Severity | None, meaning: str, when: str, remediation: str,
             rule: str | None, references: tuple[str, ...], notes: tuple[str, ...], decision: Decision) -> Diagnosis:
        # positional: a frozen dataclass takes keyword arguments slower, and this runs once per reply
        return Diagnosis(parsed.text, parsed.code, parsed.enhanced, _REPLY_CLASSES.get(klass), ctx, reason,
                         severity or (_CLASS_SEVERITY[klass] if klass else Severity.CRITICAL), meaning, when,
                         _located(remediation, ctx, host, provider_name), rule, provider_name,
                         tuple(dict.fromkeys(references)), notes, decision)

    when = (note.when if note and note.when else None) or (code_entry.when if code_entry else None) \
        or _generic_when(parsed, klass, ctx)
    code_refs = code_entry.references if code_entry else ()

    if klass is None:  # pasted words without a code: judged by their words only, never protocol_error
        notes = ("The text carries no SMTP reply code (three digits from 200 to 599).",)
        if use_rules:
            rule = match_rule(parsed, ctx, provider_id, cat, words)
            if rule is not None:
                return make(rule.reason, rule.severity or Severity.CRITICAL, rule.meaning, when,
                            rule.remediation, rule.id, rule.references, notes, by_rule(rule))
            verdict = judge(parsed, ctx, cat, words) if use_lexicon else None
            if verdict is not None:
                meaning, remediation, decision = words_decide(cat, verdict)
                return make(verdict.reason, Severity.CRITICAL, meaning, when, remediation, None,
                            phrase_sources(verdict), notes, decision)
            if use_lexicon and use_pairs:
                pair_tier = _tier("pairs")
                paired = pair_tier.judge_pairs(parsed, ctx, cat, words)
                if paired is not None:
                    meaning, remediation, decision = pair_tier.words_decide(cat, paired)
                    return make(paired.reason, Severity.CRITICAL, meaning, when, remediation, None, (), notes,
                                decision)
            if use_lexicon and use_learned:
                learned = _tier("learned")
                leaning = learned.judge_words(parsed, ctx, cat, words)
                if leaning is not None:
                    meaning, remediation, decision = learned.words_decide(cat, leaning)
                    return make(leaning.reason, Severity.CRITICAL, meaning, when, remediation, None, (), notes,
                                decision)
        return make(Reason.UNKNOWN, Severity.WARNING,
                    "The text carries no SMTP reply code, and its wording matches nothing the catalogue knows, so "
                    "the cause cannot be told from this text alone.", when,
                    "Find the line that quotes the remote server's reply with its code (e.g. '550 5.1.1 ...', often "
                    "after 'Remote server returned', 'said:' or 'Diagnostic-Code') and explain that line.",
                    None, (), notes, Decision("nothing", "no reply code, and no wording the catalogue knows"))

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
            return make(rule.reason, rule.severity, rule.meaning, when, remediation, rule.id, refs, (), by_rule(rule))

    if code_entry is not None and klass not in (2, 3):
        for variant in code_entry.variants:
            if (not variant.contexts or ctx is None or ctx in variant.contexts) and variant.pattern.search(parsed.body):
                return make(variant.reason, variant.severity or (note.severity if note else None)
                            or code_entry.severity, variant.meaning, when, variant.remediation, variant.id, code_refs,
                            (), Decision("wording", f"the generic wording '{variant.id}' of a {parsed.code} reply",
                                         rule=variant.id))
    coded = _by_codes(cat, parsed, ctx, klass, code_entry, note)
    decision = coded.decision
    if use_rules and use_lexicon:
        verdict = judge(parsed, ctx, cat, words)
        if verdict is not None:  # specific words beat a misused code; the code decides when they say nothing
            if verdict.reason is not coded.reason:
                meaning, remediation, decision = words_decide(cat, verdict)
                return make(verdict.reason, None, meaning, when, remediation, None,
                            phrase_sources(verdict) + code_refs, (), decision)
            decision = by_lexicon(verdict, agreed=True)  # the words agree: the code's own entry says it best
        else:  # no phrase decided, but a subject and what is said of it may
            pair_tier = _tier("pairs")
            paired = pair_tier.judge_pairs(parsed, ctx, cat, words) if use_pairs else None
            if paired is not None:
                if paired.reason is not coded.reason:
                    meaning, remediation, decision = pair_tier.words_decide(cat, paired)
                    return make(paired.reason, None, meaning, when, remediation, None, code_refs, (), decision)
                decision = pair_tier.by_pairs(paired, agreed=True)
            elif use_learned:  # nor a pair, but the words may lean clearly one way against what the code says
                learned = _tier("learned")
                leaning = learned.judge_words(parsed, ctx, cat, words, coded.reason)
                if leaning is not None and leaning.reason is not coded.reason:
                    meaning, remediation, decision = learned.words_decide(cat, leaning)
                    return make(leaning.reason, None, meaning, when, remediation, None, code_refs, (), decision)
                if leaning is not None:
                    decision = learned.by_words(leaning, agreed=True)
    return make(coded.reason, coded.severity, coded.meaning, when, coded.remediation, None, coded.references,
                coded.notes, decision)


def _by_codes(cat: Catalogue, parsed: ParsedReply, ctx: Context | None, klass: int,
              code_entry: CodeEntry | None, note: Note | None) -> _CodeSays:
    """What the codes alone say: a firm context entry of the basic code, else the enhanced status code (unless the
    basic code says more), else the basic code's entry, else the reply class."""
    code_refs = code_entry.references if code_entry else ()
    if code_entry is not None and note is not None and note.firm:
        return _CodeSays(note.reason or code_entry.reason, note.severity or code_entry.severity,
                         note.meaning or code_entry.meaning, note.remediation or code_entry.remediation, code_refs,
                         (), by_code(parsed, ctx, f"the {parsed.code} entry for {ctx}"))

    notes: list[str] = []
    enh_entry = None
    subject_overruled = False  # an unregistered detail's subject replaced the basic code's entry
    if parsed.enhanced:
        _, subject, detail = parsed.enhanced.split(".")
        enh_entry = cat.enhanced.get(f"{subject}.{detail}")
        if enh_entry is None:
            subject_entry = cat.enhanced.get(subject)
            subject_text = (f"subject X.{subject} ({subject_entry.title.lower()})" if subject_entry
                            else f"subject X.{subject}, which is not defined either")
            notes.append(f"{parsed.enhanced} is not a registered enhanced status code; it is explained by its "
                         f"class ({klass}: {CLASS_NAMES.get(klass, '?').lower()}) and {subject_text}.")
            if subject_entry is not None and (code_entry is None or _subject_overrules(
                    cat, subject, (note.reason if note else None) or code_entry.reason)):
                enh_entry = subject_entry
                subject_overruled = code_entry is not None
        elif klass not in enh_entry.classes:
            notes.append(f"{parsed.enhanced} is registered for use with "
                         f"{', '.join(f'{c}xx' for c in enh_entry.classes)} replies, not {klass}xx.")
            registered_reason = _enhanced_parts(enh_entry, klass, ctx)[0]
            subject_entry = cat.enhanced.get(subject)
            if subject_entry is not None and (klass in (2, 3)) != (registered_reason in _POSITIVE_REASONS):
                # 4.3.6 or 5.1.9: a success status under a failure class (or the reverse) says nothing
                # trustworthy; the class and the subject do.
                notes[-1] += f" It is explained by its class and subject X.{subject} ({subject_entry.title.lower()})."
                enh_entry = _class_fitted(subject_entry, klass)

    basic_says = ((note.reason if note else None) or code_entry.reason) if code_entry is not None else None
    # A 2xx basic code that means more than "accepted" (251 will forward, 252 cannot verify) is more
    # specific than a success status such as 2.1.5 that servers attach to every positive reply.
    basic_wins = klass == 2 and basic_says is not None and basic_says is not Reason.ACCEPTED
    # Likewise 502/504/555 "not implemented" and 503 "bad sequence" say more than a protocol status
    # X.5.1 "invalid command" or X.5.2 "syntax error" that servers attach to them.
    basic_wins = basic_wins or (basic_says in _CODE_SAYS_MORE
                                and parsed.enhanced is not None and parsed.enhanced.split(".")[1] == "5")
    # A generic status still beats a basic code's default when its subject rules that default out: a
    # security/policy X.7.0 on 552 (servers reuse 552 for policy refusals) is no size or storage limit, on 421 no
    # server out of service (it closes on this client for policy: 4.7.0 is rate_limited, enhanced.toml), and
    # X.7.0 / X.3.0 / X.4.0 / X.5.0 on 550 to RCPT is no claim that the mailbox does not exist (550 5.7.0
    # "Go away" is a policy refusal). X.1 and X.2 speak about addresses and mailboxes, so they never do.
    # And any generic status but X.0 says more than a basic code that names no cause (550, 554: unknown).
    status_subject = parsed.enhanced.split(".")[1] if parsed.enhanced is not None else None
    weak_but_contradicting = enh_entry is not None and enh_entry.weak and (
        (basic_says in _NOT_POLICY and status_subject == "7")
        or (basic_says in _ADDRESS_CLAIMS and status_subject in _NOT_ABOUT_ADDRESSES
            and _subject_overrules(cat, status_subject, basic_says))
        or (basic_says is Reason.UNKNOWN and status_subject != "0"))
    if enh_entry is not None and not (enh_entry.weak and code_entry is not None and not weak_but_contradicting) \
            and not basic_wins:
        reason, meaning, remediation, severity = _enhanced_parts(enh_entry, klass, ctx)
        if code_entry is not None and note is not None and note.severity and klass == 2:
            severity = severity or note.severity
        if code_entry is None and parsed.code is not None:
            notes.append(f"{parsed.code} is not a registered SMTP reply code; explained by its class and "
                         f"enhanced status code.")
        if code_entry is not None and "." not in enh_entry.key and not subject_overruled:
            meaning = f"{note.meaning if note and note.meaning else code_entry.meaning} {meaning}"
        return _CodeSays(reason, severity, meaning, remediation, enh_entry.references + code_refs, tuple(notes),
                         by_code(parsed, ctx, f"the enhanced status code {parsed.enhanced}"
                                 + (f" (subject X.{enh_entry.key})" if "." not in enh_entry.key else "")))

    if code_entry is not None:
        base_meaning = note.meaning if note and note.meaning else code_entry.meaning
        if notes and parsed.enhanced and "not a registered" in notes[-1]:
            subject_entry = cat.enhanced.get(parsed.enhanced.split(".")[1])
            if subject_entry is not None:
                base_meaning = f"{base_meaning} The enhanced code's subject: {subject_entry.meaning}"
        return _CodeSays((note.reason if note else None) or code_entry.reason,
                         (note.severity if note else None) or code_entry.severity, base_meaning,
                         (note.remediation if note else None) or code_entry.remediation, code_refs, tuple(notes),
                         by_code(parsed, ctx, f"the {parsed.code} entry" + (f" for {ctx}" if note else "")))

    if parsed.code is not None:
        notes.append(f"{parsed.code} is not a registered SMTP reply code; it is explained by its class "
                     f"({klass}xx: {CLASS_NAMES[klass].lower()}).")
    return _CodeSays(_CLASS_REASON[klass], None, _CLASS_MEANING[klass], _CLASS_REMEDIATION[klass], (), tuple(notes),
                     Decision("class", f"only the reply class ({klass}xx) is known"))


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
