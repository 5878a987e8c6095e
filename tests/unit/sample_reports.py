"""Test helpers (not tests): hand-built Steps, Sessions and Reports for the health and output-format tests.

A plain module rather than conftest.py: the test directories have no __init__.py, so every conftest.py is
imported under the one name `conftest`, and `from conftest import ...` would pick whichever was loaded last.
"""

from __future__ import annotations

from typing import Any

from probe.model import AddressResult, Context, DomainStatus, MxHost, Reason, Report, Session, Severity, Step

DOMAIN = "example.com"
MX_HOST = "mx1.example.com"
MX_IP = "192.0.2.1"


def step(context: Context, code: int | None, command: str | None = None, *, enhanced: str | None = None,
         reason: Reason = Reason.ACCEPTED, severity: Severity = Severity.OK, text: str = "",
         elapsed_ms: float = 10.0) -> Step:
    """One classified exchange; the reply text defaults to '<code> ok'."""
    return Step(command, context, code, enhanced, text or f"{code} ok", [text] if text else [], reason, severity,
                "m", "r", None, elapsed_ms)


def mx_session(steps: list[Step], *, host: str = MX_HOST, address: str = MX_IP, outcome: str = "completed",
               **kw: Any) -> Session:
    """A session with the one MX host on port 25."""
    return Session(host, address, 25, outcome, steps=steps, **kw)


def one_mx_report(sessions: list[Session], addresses: list[AddressResult], *,
                  status: DomainStatus = DomainStatus.ACCEPTS_MAIL, elapsed_ms: float = 1234.0, **kw: Any) -> Report:
    """A report on example.com whose single MX (preference 10) is mx1.example.com at 192.0.2.1."""
    return Report(DOMAIN, status, mx=[MxHost(MX_HOST, 10, [MX_IP])], sessions=sessions, addresses=addresses,
                  elapsed_ms=elapsed_ms, **kw)
