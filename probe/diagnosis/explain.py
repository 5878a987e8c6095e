"""Pure: catalogue entries and comparisons for `smtp-probe explain`. No I/O, no network stack, no click."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from probe.diagnosis.catalogue import CodeEntry, EnhancedEntry, default
from probe.diagnosis.classifier import classify, diagnose
from probe.diagnosis.codes import parse, split_enhanced
from probe.diagnosis.codesays import CLASS_NAMES
from probe.errors import InputError
from probe.model import Context, Diagnosis, Reason

_BARE_CODE = re.compile(r"^[0-9]{3}$")
_CODE_LIKE = re.compile(r"^[0-9.]+$")  # digits and dots only: meant as a code, so a bad one is an error
_ACTION = {
    2: "needs no action",
    3: "is an intermediate step, not a verdict",
    4: "is temporary: retrying later can succeed",
    5: "is permanent: retrying unchanged will fail again",
}


def _context(value: str | Context | None) -> Context | None:
    try:
        return Context.parse(value)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _context_view(code_entry: CodeEntry | None, enh_entry: EnhancedEntry | None) -> dict[str, dict[str, Any]]:
    """Per-command notes: what changes when the code answers that command."""
    view: dict[str, dict[str, Any]] = {}
    if code_entry is not None:
        for ctx, note in code_entry.contexts.items():
            view[ctx.value] = {
                "reason": str(note.reason or code_entry.reason),
                "severity": str(note.severity or code_entry.severity),
                "meaning": note.meaning or code_entry.meaning,
                "when": note.when or code_entry.when,
                "remediation": note.remediation or code_entry.remediation,
            }
    if enh_entry is not None:
        for ctx, note in enh_entry.contexts.items():
            view.setdefault(ctx.value, {}).update({k: str(v) for k, v in (
                ("reason", note.reason), ("meaning", note.meaning), ("remediation", note.remediation)) if v})
    return view


def entry(code_or_line: str, context: str | Context | None = None, *, host: str | None = None) -> dict[str, Any]:
    """The explain entry for '252', '5.7.26', '550 5.1.1' or a pasted reply (SPEC.md explain fields).

    Raises InputError (one line) for anything that is not a code, an enhanced code or a reply.
    """
    raw = code_or_line if isinstance(code_or_line, str) else str(code_or_line)
    text = raw.strip()
    ctx = _context(context)
    if not text:
        raise InputError("nothing to explain: give a reply code (252), an enhanced code (5.7.26) or a reply line")
    bare = False
    if _BARE_CODE.match(text):
        if not 200 <= int(text) <= 599:
            raise InputError(f"{text} is not an SMTP reply code: reply codes run from 200 to 599")
        bare = True
    elif split_enhanced(text) is not None:
        bare = True
    elif _CODE_LIKE.match(text):
        raise InputError(f"{text[:40]!r} is neither a reply code (252) nor an enhanced status code (5.7.26)")
    parsed = parse(text)
    # Text without any code (a provider's error table, a DSN line, a log excerpt) is judged by its words.
    diag = diagnose(parsed, ctx, host=host, use_rules=not bare)
    cat = default()
    code_entry = cat.codes.get(parsed.code) if parsed.code is not None else None
    enh_entry = None
    if parsed.enhanced:
        _, subject, detail = parsed.enhanced.split(".")
        enh_entry = cat.enhanced.get(f"{subject}.{detail}")
    titles = [e.title for e in (code_entry, enh_entry) if e is not None]
    result = diag.to_dict()
    result.update({
        "input": text,
        "label": " ".join(str(p) for p in (parsed.code, parsed.enhanced) if p),
        "title": " / ".join(titles) if titles else None,
        "sender": _sender_advice(code_entry, diag, ctx),
        "contexts": _context_view(code_entry, enh_entry),
    })
    result["references"] = _distinct_references([*result["references"], *(enh_entry.references if enh_entry else ())])
    kept = _kept_despite_5xx(parsed.code, text)
    if kept:
        result["notes"] = [*result["notes"], kept]
    return result


def _file_key(ref: str) -> object:
    """One file of a repository, however the catalogue cites it: a GitHub URL ("https://github.com/OWNER/REPO/blob/
    BRANCH/PATH") or "github:OWNER/REPO/PATH (what it says there)"; any other reference is its own key. Plain string
    work: a regular expression compiled here would cost `explain 252` start-up."""
    if ref.startswith("https://github.com/"):
        parts = ref[len("https://github.com/"):].split("/", 4)
        if len(parts) == 5 and parts[2] == "blob":
            return (f"{parts[0]}/{parts[1]}".lower(), parts[4].split(" ", 1)[0].split("#", 1)[0])
    elif ref.startswith("github:"):
        parts = ref[len("github:"):].split("/", 2)
        if len(parts) == 3:
            return (f"{parts[0]}/{parts[1]}".lower(), parts[2].split(" ", 1)[0].split("#", 1)[0])
    return ref


def _distinct_references(references: list[str]) -> list[str]:
    """The references once each: a repository's file cited twice (its GitHub URL by a rule, "github:..." with what it
    says there by a code entry) is listed once, where it comes first, in the form that says the most."""
    kept: dict[object, str] = {}
    for ref in references:
        key = _file_key(ref)
        if key not in kept or (" (" in ref and " (" not in kept[key]):
            kept[key] = ref
    return list(kept.values())


def _kept_despite_5xx(code: int | None, text: str) -> str | None:
    """What a Postfix log line that keeps a message after a 5xx reply means for it: Postfix retries, although
    retrying will not help (postconf(5) smtp_skip_5xx_greeting, soft_bounce). Postfix logs such a message as
    "status=deferred (host X refused to talk to me: 521 ...)", or under soft_bounce = yes as "dsn=4.1.1,
    status=SOFTBOUNCE (host X said: 550 5.1.1 ...)" (Postfix 3.7, seen in the lab)."""
    if code is None or code // 100 != 5:
        return None
    if "status=SOFTBOUNCE" in text:
        why = ("status=SOFTBOUNCE: soft_bounce = yes is set on the sending Postfix, which keeps a message that a "
               "5xx reply refused instead of returning it")
    elif "status=deferred" in text and "refused to talk to me" in text:
        why = ("status=deferred: the server refused at its greeting, and by default (smtp_skip_5xx_greeting = yes) "
               "the Postfix SMTP client treats a 5xx greeting like a temporary failure: it tries the next MX host "
               "and, when none accepts, keeps the message")
    else:
        return None
    return (f"The sending Postfix logged {why}. It retries until maximal_queue_lifetime (5 days by default) and then "
            "returns it; unless the receiver lifts the refusal, retrying will not help. Fix the cause, or remove "
            "the message (postsuper -d QUEUE_ID) and tell the sender.")


def _sender_advice(code_entry: CodeEntry | None, diag: Diagnosis, ctx: Context | None) -> str | None:
    """The advice to someone whose mail bounced with the reply: the reason's own (reasons.toml `bounced`) when the
    words gave the reason and it has one; else the code's, when it speaks of the reason diagnosed: a 552 whose
    words say 'Virus found' is no size or quota problem, so 552's size advice would mislead there. A code whose own
    reason is unknown (550, 554) has advice that names the usual causes, and always fits."""
    by_words = diag.decided_by is not None and diag.decided_by.by != "code"  # a bare code never reads reasons.toml
    texts = default().reason_texts.get(diag.reason) if by_words else None
    if texts is not None and texts.bounced:
        return texts.bounced
    if code_entry is None or not code_entry.sender:
        return None
    note = code_entry.contexts.get(ctx) if ctx is not None else None
    usual = {code_entry.reason, *([note.reason] if note is not None and note.reason else [])}
    return code_entry.sender if diag.reason in usual or Reason.UNKNOWN in usual else None


def _class_digit(e: dict[str, Any]) -> int | None:
    if e["code"] is not None:
        return int(e["code"]) // 100
    return int(e["enhanced"][0]) if e["enhanced"] else None


def _class_phrase(e: dict[str, Any]) -> str:
    digit = _class_digit(e)
    return f"a {digit}xx {CLASS_NAMES[digit]} response" if digit else "not a valid reply"


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + (", and " if len(items) > 2 else " and ") + items[-1]


def compare(items: list[str], context: str | Context | None = None) -> dict[str, Any]:
    """Side-by-side comparison of two or more codes: entries, key differences, which applies when."""
    if len(items) < 2:
        raise InputError("compare needs at least two codes, e.g. 252 521")
    entries = [entry(item, context) for item in items]
    labels = [e["label"] for e in entries]
    differences: list[str] = []
    digits = {_class_digit(e) for e in entries}
    if len(digits) == 1:
        differences.append(f"{_join(labels)} are all {_class_phrase(entries[0]).removeprefix('a ')}s."
                           if len(entries) > 2 else
                           f"Both {labels[0]} and {labels[1]} are {_class_phrase(entries[0]).removeprefix('a ')}s.")
    else:
        phrases = [f"{e['label']} is {_class_phrase(e)}" for e in entries]
        differences.append(", while ".join(phrases) + "." if len(phrases) == 2 else _join(phrases) + ".")
    for e in entries:
        differences.append(f"SMTP {e['label']}: {e['meaning']}")
    for e in entries:
        when = e["when"]
        differences.append(f"You encounter {e['label']} {when[0].lower() + when[1:]}" if when else "")
    reasons = {e["reason"] for e in entries}
    if len(reasons) > 1:
        differences.append("; ".join(f"{e['label']} means {e['reason']} (severity {e['severity']})"
                                     for e in entries) + ".")
    actions = [f"{e['label']} {_ACTION[d]}" for e in entries if (d := _class_digit(e))]
    if len(digits) > 1 and actions:
        differences.append("; ".join(actions) + ".")
    advice = [{"label": f"{e['label']} ({e['title'] or e['reason']})", "remediation": e["remediation"]}
              for e in entries]
    which = " ".join(f"For {a['label']}: {a['remediation']}" for a in advice)
    return {"entries": entries, "differences": [d for d in differences if d], "which_applies": which,
            "advice": advice}


def explain_stream(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """JSON Lines in ({"context": ..., "reply": ..., "host": ...}) -> one diagnosis object per line.

    A bad line becomes {"line": n, "error": "..."}; the stream never stops on bad input.
    """
    import json  # here: `explain CODE` needs no JSON parser

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield {"line": number, "error": f"not JSON: {exc}"}
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("reply"), str):
            yield {"line": number, "error": 'each line must be an object with a "reply" string'}
            continue
        context, host = obj.get("context"), obj.get("host")
        if context is not None and not isinstance(context, str):
            yield {"line": number, "error": '"context" must be a string'}
            continue
        if host is not None and not isinstance(host, str):
            yield {"line": number, "error": '"host" must be a string'}
            continue
        try:
            diag = classify(obj["reply"], context, host=host)
        except ValueError as exc:
            yield {"line": number, "error": str(exc)}
            continue
        yield {"line": number, **diag.to_dict()}
