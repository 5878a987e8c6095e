"""The whole (small) exception tree. Exceptions are for misuse only; probe failures are report fields."""

from __future__ import annotations


class ProbeError(Exception):
    """Base class for every smtp-probe exception. str() is one sentence a user can read."""


class InputError(ProbeError, ValueError):
    """A domain, address, host name, option or input line is not usable. Nothing was sent."""


class CatalogueError(ProbeError, ValueError):
    """The shipped catalogue data is malformed: raised when it is loaded, never mid-probe."""
