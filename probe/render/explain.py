"""Edge: text rendering of explain entries and comparisons. Pure string building; no click, no I/O.

Colour is plain ANSI, applied only when the caller says the output is a colour terminal.
Every string passes through `printable` so server text never reaches the terminal raw.
"""

from __future__ import annotations

import textwrap
from typing import Any

from probe.render.safe import printable
from probe.render.wrap import DEFAULT_COLUMNS

WIDTH = DEFAULT_COLUMNS - 2  # a margin of two columns on the right
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_SEVERITY_COLOUR = {"ok": "\x1b[32m", "info": "\x1b[36m", "warning": "\x1b[33m", "critical": "\x1b[31m"}
_CLASS_LABEL = {"positive": "2xx Positive Completion", "intermediate": "3xx Positive Intermediate",
                "transient": "4xx Transient Negative", "permanent": "5xx Permanent Negative"}


def _style(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _wrap(text: str, indent: str = "  ", width: int = WIDTH) -> str:
    hanging = indent + "  " if text.startswith("- ") else indent
    return textwrap.fill(printable(text), width=width, initial_indent=indent, subsequent_indent=hanging,
                         break_long_words=True, break_on_hyphens=False)


def _section(title: str, body: str | None, color: bool, width: int = WIDTH) -> list[str]:
    if not body:
        return []
    return [_style(title, _BOLD, color), _wrap(body, width=width), ""]


def _label(d: dict[str, Any]) -> str:
    """'550 5.1.1' for an entry or a diagnosis; '' for text without any code."""
    label = d.get("label") or " ".join(str(p) for p in (d.get("code"), d.get("enhanced")) if p)
    return printable(str(label))


def _heading(d: dict[str, Any], color: bool) -> list[str]:
    label = _label(d)
    title = printable(str(d.get("title") or ""))
    severity = str(d.get("severity", ""))
    facts = [
        _CLASS_LABEL.get(str(d.get("class")), "no reply class"),
        f"reason: {d.get('reason')}",
        "severity: " + _style(severity, _SEVERITY_COLOUR.get(severity, ""), color),
    ]
    if d.get("context"):
        facts.append(f"context: {printable(str(d['context']))}")
    head = f"SMTP {label}" if label else "Text without an SMTP reply code"
    lines = [_style(head + (f" — {title}" if title else ""), _BOLD, color), "  " + " · ".join(facts)]
    shown = d.get("input") or d.get("text")
    if shown and shown != label:
        lines.append(_style("  reply: ", _DIM, color) + printable(str(shown)).replace("\n", "\n         "))
    if d.get("provider"):
        lines.append(f"  provider: {printable(str(d['provider']))}")
    decided: dict[str, Any] = d.get("decided_by") or {}
    if decided.get("summary"):
        lines.append(f"  decided by: {printable(str(decided['summary']))}")
    elif d.get("rule"):
        lines.append(f"  rule: {printable(str(d['rule']))}")
    return [*lines, ""]


def _body(d: dict[str, Any], color: bool, width: int = WIDTH) -> list[str]:
    lines: list[str] = []
    lines += _section("Meaning", d.get("meaning"), color, width)
    lines += _section("When you see it", d.get("when"), color, width)
    lines += _section("How to resolve", d.get("remediation"), color, width)
    lines += _section("If your mail bounced with it", d.get("sender"), color, width)
    return lines


def render_entry(d: dict[str, Any], *, color: bool, columns: int = DEFAULT_COLUMNS) -> str:
    """One explain entry (probe.diagnosis.explain.entry) as readable sections, wrapped to `columns` (less a margin)."""
    width = columns - 2
    lines = _heading(d, color) + _body(d, color, width)
    contexts: dict[str, dict[str, Any]] = d.get("contexts") or {}
    if contexts and not d.get("context"):
        lines.append(_style("By command", _BOLD, color))
        for name, note in contexts.items():
            head = f"{name}: {note.get('reason', d.get('reason'))}"
            if note.get("severity"):
                head += f" ({note['severity']})"
            lines.append(_wrap(f"{head} — {note.get('remediation') or note.get('meaning') or ''}", width=width))
        lines.append("")
    for title, key in (("References", "references"), ("Notes", "notes")):
        values = d.get(key) or []
        if values:
            lines.append(_style(title, _BOLD, color))
            lines += [_wrap(f"- {v}", width=width) for v in values]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_comparison(d: dict[str, Any], *, color: bool, columns: int = DEFAULT_COLUMNS) -> str:
    """A comparison (probe.diagnosis.explain.compare): each entry, then the key differences and which applies when."""
    width = columns - 2
    entries: list[dict[str, Any]] = d.get("entries") or []
    labels = " vs ".join(printable(str(e.get("label"))) for e in entries)
    rule = "─" * min(width, max(20, len(labels) + 5))
    lines = [_style(f"SMTP {labels}", _BOLD, color), rule, ""]
    for e in entries:
        lines += _heading(e, color) + _body(e, color, width)
    lines.append(_style("Key differences", _BOLD, color))
    lines += [_wrap(f"- {diff}", width=width) for diff in d.get("differences") or []]
    lines.append("")
    advice: list[dict[str, str]] = d.get("advice") or []
    if advice:
        lines.append(_style("Which applies when", _BOLD, color))
        lines += [_wrap(f"- For {a['label']}: {a['remediation']}", width=width) for a in advice]
    else:
        lines += _section("Which applies when", d.get("which_applies"), color, width)
    return "\n".join(lines).rstrip() + "\n"
