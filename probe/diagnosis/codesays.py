"""Pure engine: what the codes alone say about a reply -- a firm context entry of the basic code, the enhanced
status code, the basic code's entry, the reply class -- for probe.diagnosis.classifier, which weighs the words
against it. Must not import asyncio, dns, ssl, socket or click."""

from __future__ import annotations

from dataclasses import replace

from probe.diagnosis.catalogue import Catalogue, CodeEntry, EnhancedEntry, Note
from probe.diagnosis.codes import ParsedReply
from probe.diagnosis.lexicon import by_code
from probe.model import Context, Decision, Reason, Severity

CLASS_SEVERITY = {2: Severity.OK, 3: Severity.INFO, 4: Severity.WARNING, 5: Severity.CRITICAL}
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
POSITIVE_REASONS = frozenset({Reason.ACCEPTED, Reason.WILL_FORWARD, Reason.CANNOT_VERIFY})
_CODE_SAYS_MORE = (Reason.NOT_IMPLEMENTED, Reason.BAD_SEQUENCE)  # than a protocol status X.5.1 / X.5.2
_KEEPS_ITS_SAY = (*_CODE_SAYS_MORE, Reason.ACCEPTED, Reason.CANNOT_VERIFY, Reason.WILL_FORWARD)
_STORAGE_REASONS = frozenset({Reason.MESSAGE_TOO_BIG, Reason.MAILBOX_FULL, Reason.STORAGE_FULL})
# A basic code's default that a security or policy status (X.7) rules out: a size or storage limit (552 5.7.0), and a
# server out of service (421 4.7.0 closes on this client for policy, RFC 3463 §3.8; the SPEC's rate_limited '4.7.0 /
# 421'): see code_says.
_NOT_POLICY = frozenset(_STORAGE_REASONS | {Reason.SERVICE_UNAVAILABLE})
# A basic code's default that claims the address is bad, and the enhanced subjects that speak of something
# else (mail system, network and routing, protocol, security or policy): see code_says().
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


class CodeSays:
    """What the codes alone say about a reply (a firm context entry, the enhanced status code, the basic code's
    entry, the class): the parts of the Diagnosis they give. A tier that weighs the words against it takes its
    reason, and, when the words agree, its parts under its own Decision, worked out once without a Diagnosis.
    (A plain class: a NamedTuple's class costs `explain 252` start-up more than this module's other classes.)"""

    __slots__ = ("decision", "meaning", "notes", "reason", "references", "remediation", "severity")

    def __init__(self, reason: Reason, severity: Severity | None, meaning: str, remediation: str,
                 references: tuple[str, ...], notes: tuple[str, ...], decision: Decision) -> None:
        self.reason, self.severity, self.meaning, self.remediation = reason, severity, meaning, remediation
        self.references, self.notes, self.decision = references, notes, decision


def code_says(cat: Catalogue, parsed: ParsedReply, ctx: Context | None, klass: int,
              code_entry: CodeEntry | None, note: Note | None) -> CodeSays:
    """What the codes alone say: a firm context entry of the basic code, else the enhanced status code (unless the
    basic code says more), else the basic code's entry, else the reply class."""
    code_refs = code_entry.references if code_entry else ()
    if code_entry is not None and note is not None and note.firm:
        return CodeSays(note.reason or code_entry.reason, note.severity or code_entry.severity,
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
            if subject_entry is not None and (klass in (2, 3)) != (registered_reason in POSITIVE_REASONS):
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
        return CodeSays(reason, severity, meaning, remediation, enh_entry.references + code_refs, tuple(notes),
                        by_code(parsed, ctx, f"the enhanced status code {parsed.enhanced}"
                                + (f" (subject X.{enh_entry.key})" if "." not in enh_entry.key else "")))

    if code_entry is not None:
        base_meaning = note.meaning if note and note.meaning else code_entry.meaning
        if notes and parsed.enhanced and "not a registered" in notes[-1]:
            subject_entry = cat.enhanced.get(parsed.enhanced.split(".")[1])
            if subject_entry is not None:
                base_meaning = f"{base_meaning} The enhanced code's subject: {subject_entry.meaning}"
        return CodeSays((note.reason if note else None) or code_entry.reason,
                        (note.severity if note else None) or code_entry.severity, base_meaning,
                        (note.remediation if note else None) or code_entry.remediation, code_refs, tuple(notes),
                        by_code(parsed, ctx, f"the {parsed.code} entry" + (f" for {ctx}" if note else "")))

    if parsed.code is not None:
        notes.append(f"{parsed.code} is not a registered SMTP reply code; it is explained by its class "
                     f"({klass}xx: {CLASS_NAMES[klass].lower()}).")
    return CodeSays(_CLASS_REASON[klass], None, _CLASS_MEANING[klass], _CLASS_REMEDIATION[klass], (), tuple(notes),
                    Decision("class", f"only the reply class ({klass}xx) is known"))


def code_reason(cat: Catalogue, parsed: ParsedReply, ctx: Context | None) -> Reason | None:
    """The reason the codes alone give a reply (code_says), or None for text without a code."""
    code = parsed.code
    klass = code // 100 if code is not None else int(parsed.enhanced[0]) if parsed.enhanced else None
    if klass is None:
        return None
    entry = cat.codes.get(code) if code is not None else None
    note = entry.contexts.get(ctx) if entry is not None and ctx is not None else None
    return code_says(cat, parsed, ctx, klass, entry, note).reason
