"""smtp-probe: a live SMTP diagnostic probe that explains every reply.

Public API (kept light: importing `probe` loads no network code):

    probe.classify(text, context=None, *, host=None) -> Diagnosis
    probe.__version__
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["__version__", "classify"]

if TYPE_CHECKING:
    from probe.model import Context, Diagnosis


def classify(text: str, context: str | Context | None = None, *, host: str | None = None) -> Diagnosis:
    """Diagnose one SMTP reply (one or more lines) seen in `context` (a command name, 'banner', 'bounce').

    `host` is the MX host that said it, when known: it lets provider rules apply.
    Never raises on odd text; an unknown context name raises ValueError.
    """
    from probe.diagnosis.classifier import classify as _classify

    return _classify(text, context, host=host)
