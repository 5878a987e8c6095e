"""Edge: the SPEC.md JSON report. Pure: Report -> str. JSON keeps server text exact (escaped as JSON).

Characters that would act on a terminal when the file is `cat`-ed — C0/C1 controls (ESC, the
8-bit CSI U+009B), bidi embeddings/overrides/isolates and other invisible format characters,
lone surrogates from undecodable server bytes — are written as \\uXXXX escapes, so the JSON
text is inert while json.loads still gives back the exact original string.
"""

from __future__ import annotations

import json
import re
from typing import Any

from probe.model import Report
from probe.render.safe import TERMINAL_ACTIVE  # json.dumps has escaped C0 inside strings; the rest is ours


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def health_dict(health: Any) -> dict[str, Any]:
    """The `health` object of the JSON report: state, summary and every check (why the exit code)."""
    checks = [{"name": c.name, "status": c.status.name, "message": c.message, "mx": c.mx,
               "elapsed_ms": c.elapsed_ms, "skipped": c.skipped} for c in health.checks]
    return {"state": health.state, "summary": health.summary, "checks": checks}


def report_json(report: Report, *, indent: int | None = 2, health: Any | None = None) -> str:
    """The report as one JSON document (`--json`); indent=None gives one line (batch, JSON Lines).

    With `health` (a probe.judge.health.HealthResult) the document carries a `health` object too.
    """
    data = report.to_dict()
    if health is not None:
        data["health"] = health_dict(health)
    return dumps(data, indent=indent)


def dumps(data: Any, *, indent: int | None = 2) -> str:
    """Stable JSON: UTF-8 text kept as is, except terminal-active characters (see above) as \\uXXXX."""
    separators = (",", ": ") if indent else (",", ":")
    text = json.dumps(data, indent=indent, ensure_ascii=False, separators=separators, default=str)
    return TERMINAL_ACTIVE.sub(_escape, text)
