"""I/O layer, process set-up: dnspython loaded without what the probe never uses. For a process that is the
probe's own (the command line); a program that uses probe as a library keeps dnspython as it is.

At import dnspython decides which optional features it has (DNS over HTTPS, DNS over QUIC, IDNA 2008 through
the idna package) by reading installed packages' metadata (dns._features): it imports importlib.metadata,
which imports email, zipfile, csv and pathlib, and scans site-packages; with the idna package it loads its
tables. That was about a tenth of a probe's CPU time. The probe asks plain DNS over UDP and TCP (Do53) only,
and gives dnspython A-label names only (probe.inputs turns a Unicode name into its A-label first; for an
all-ASCII label dnspython's IDNA 2003 and 2008 codecs give the same bytes), so these three features change
no answer: they are settled off with dns._features.force, dnspython's own switch for where metadata lookups
are slow. importlib.metadata is then loaded only if something in the process reads from it.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# dnspython features the probe never uses; each would be looked up in package metadata at import
NEVER_USED = ("doh", "doq", "idna")
_METADATA = "importlib.metadata"


class _MetadataOnFirstUse(types.ModuleType):
    """Stands in sys.modules for importlib.metadata until something reads a name from it (`import
    importlib.metadata` alone reads none); then the real module is imported, takes its place, and answers."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get(_METADATA) is self:
            del sys.modules[_METADATA]
        real = importlib.import_module(_METADATA)  # puts itself in sys.modules and on the importlib package
        self.__dict__.update(real.__dict__)  # whoever holds the stand-in now reads the real module's names
        return getattr(real, name)


def prepare_dnspython() -> None:
    """Before the process first imports dnspython: its unused features settled, importlib.metadata deferred.
    Nothing happens when dnspython's features are loaded already (they may have been decided then)."""
    if "dns._features" in sys.modules:
        return
    if _METADATA not in sys.modules:
        stand_in = _MetadataOnFirstUse(_METADATA)
        sys.modules[_METADATA] = stand_in
        setattr(importlib, "metadata", stand_in)  # noqa: B010 - `import importlib.metadata` reads it there
    import dns._features

    for feature in NEVER_USED:
        dns._features.force(feature, False)
