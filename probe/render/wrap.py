"""Edge, pure: text reports fit the terminal. One width rule for every text renderer (report, explain,
self-check): COLUMNS when it is set to a usable number, else 80, the width of a classic terminal."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

DEFAULT_COLUMNS = 80
MIN_COLUMNS = 40  # narrower than this, wrapping helps nobody: use the default


def columns(environ: Mapping[str, str]) -> int:
    """The width to wrap at: $COLUMNS (shells export it for terminals; a user can set it), else 80."""
    try:
        value = int(environ.get("COLUMNS", ""))
    except ValueError:
        return DEFAULT_COLUMNS
    return value if value >= MIN_COLUMNS else DEFAULT_COLUMNS


def wrap(text: str, width: int, first: str = "", rest: str | None = None) -> list[str]:
    """`text` (already printable: no control characters) as lines of at most `width` columns, the first
    starting with `first`, the others indented by `rest` (default: as many blanks as `first` is long).
    Words longer than a line (URLs, long host names) are kept whole rather than cut."""
    rest = " " * len(first) if rest is None else rest
    lines = textwrap.wrap(text, width=max(width, len(first) + 20), initial_indent=first, subsequent_indent=rest,
                          break_long_words=False, break_on_hyphens=False)
    return lines or [first.rstrip()]
