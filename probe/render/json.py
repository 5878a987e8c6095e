"""Edge: the SPEC.md JSON report. Pure: Report -> str. JSON keeps server text exact (escaped as JSON)."""

from __future__ import annotations

import json
from typing import Any

from ..model import Report


def report_json(report: Report, *, indent: int | None = 2) -> str:
    """The report as one JSON document (`--json`); indent=None gives one line (batch, JSON Lines)."""
    return dumps(report.to_dict(), indent=indent)


def dumps(data: Any, *, indent: int | None = 2) -> str:
    """Stable JSON: UTF-8 text kept as is; lone surrogates from undecodable server bytes escaped."""
    separators = (",", ": ") if indent else (",", ":")
    return json.dumps(data, indent=indent, ensure_ascii=False, separators=separators,
                      default=str).encode("utf-8", "backslashreplace").decode("utf-8")
