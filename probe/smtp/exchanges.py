"""Data: what one SMTP session produced — its exchanges, in order, and what they decided. No I/O, no classifying.

probe.smtp.session fills these records; probe.run.probe classifies them into the model's Sessions and Steps.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from probe.model import Context, Reply
from probe.smtp.wire import TranscriptLine

EVENTS = frozenset({
    "connect-refused", "connect-timeout", "connect-unreachable", "connection-reset", "connection-closed",
    "reply-timeout", "protocol-error", "reply-too-long", "tls-handshake-failed", "tls-untrusted",
    "starttls-not-offered", "deadline-exceeded", "smtputf8-required", "proxy-failed", "quit-sent", "not-asked",
})


@dataclass
class Exchange:
    """One command and its reply, or one event, exactly as it happened."""

    command: str | None  # exactly as sent; None for the banner, unsolicited replies and connect events
    context: Context
    reply: Reply | None  # None for events
    event: str | None  # None when a reply came; else one of EVENTS
    detail: str  # one line for events; not escaped (renderers escape)
    elapsed_ms: float  # from sending the command (or opening the connection) to the reply or event
    unsolicited: bool = False
    address: str | None = None  # for VRFY/RCPT: the address it was about


@dataclass
class SessionRecord:
    """Everything one connection attempt (and its reconnections for TLS) produced."""

    host: str
    address: str
    port: int
    outcome: str = "completed"  # completed | refused | timeout | reset | rejected | deferred
    #                             | protocol_error | tls_failed | skipped | unreachable
    exchanges: list[Exchange] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)  # final EHLO keywords (upper-case) -> params
    tls: dict[str, Any] | None = None  # {"version", "cipher", "der", "verified", "verify_error"}
    rcpt: dict[str, Exchange] = field(default_factory=dict)  # recipient -> the exchange that decided it
    vrfy: dict[str, Exchange] = field(default_factory=dict)
    catch_all: Exchange | None = None
    catch_all_address: str | None = None
    postmaster: Exchange | None = None  # a domain-only probe's RCPT TO:<postmaster@DOMAIN> (or the MAIL refusal)
    postmaster_address: str | None = None
    # recipients (and the random address) whose answer was asked again in a transaction of their own, because
    # the first transaction accepted the random address after accepting them (probe.smtp.session._recheck):
    # address -> the first transaction's answer, which the one in `rcpt`/`catch_all` replaced
    rechecked: dict[str, Exchange] = field(default_factory=dict)
    unasked: list[str] = field(default_factory=list)  # recipients whose RCPT was never sent: the session ended first
    local_address: str | None = None  # the source IP our (last) connection used, for a retry from the same one
    transcript: list[TranscriptLine] = field(default_factory=list)  # every connection's, in order
    elapsed_ms: float = 0.0

    def from_own_address(self) -> bool:
        """The connection came from the server's own address: the probe ran on the mail server itself (`--mx
        localhost` there, or an MX name that resolves to this machine), a client mail servers trust."""
        if not self.local_address or not self.address:
            return False
        try:
            return ipaddress.ip_address(self.local_address) == ipaddress.ip_address(self.address)
        except ValueError:
            return False
