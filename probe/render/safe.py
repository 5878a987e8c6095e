"""Edge helper: make untrusted server text safe for a terminal. Pure; no I/O, no colour, no click."""

from __future__ import annotations

import re

# Characters that act on a terminal or change how text reads there: C0 controls except newline,
# DEL, C1 controls (including the 8-bit CSI \x9b), the Unicode format characters that reorder or
# hide text (bidi embeddings/overrides/isolates, zero-width and invisible marks, line/paragraph
# separators), and lone surrogates (printing them to a UTF-8 stream raises). One list for every
# output: printable() shows them as escapes, the JSON writer as \uXXXX.
TERMINAL_ACTIVE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    cp = ord(ch)
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}"


def printable(text: str) -> str:
    """`text` with control characters, escape sequences and bidi overrides shown as visible escapes.

    '\\x1b[31mred' -> '\\\\x1b[31mred' (the ESC is made visible, so no sequence reaches the terminal).
    Newlines are kept; tabs and carriage returns are escaped like other controls.
    """
    return TERMINAL_ACTIVE.sub(_escape, text)
