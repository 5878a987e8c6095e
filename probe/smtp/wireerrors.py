"""I/O support: the errors of the SMTP wire layer (probe.smtp.wire raises them, the session turns them into fields).

Plain exception classes and the OSError -> ConnectError mapping; this module must not open sockets or
import asyncio/ssl, and it must not classify replies.
"""

from __future__ import annotations

import errno

from probe.model import Reply


class WireError(Exception):
    """Base class: the conversation broke. `partial` holds the raw bytes of the unfinished reply."""

    def __init__(self, message: str, *, partial: bytes = b"", step: str | None = None) -> None:
        super().__init__(message)
        self.partial = partial
        self.step = step  # what we were doing: "connect", "reading the reply to RCPT TO", ...


class WireTimeout(WireError):
    """The peer did not finish within the step's timeout."""


class WireClosed(WireError):
    """The peer closed the connection (`reset` True: it was reset rather than closed cleanly; `broken_tls`:
    OpenSSL's reason when the last bytes in a TLS session were not TLS, e.g. "wrong version number")."""

    def __init__(self, message: str, *, reset: bool = False, partial: bytes = b"",
                 step: str | None = None, broken_tls: str | None = None) -> None:
        super().__init__(message, partial=partial, step=step)
        self.reset = reset
        self.broken_tls = broken_tls


class WireProtocolError(WireError):
    """The peer does not speak SMTP, or broke a `Limits` bound.

    `kind`: "not-smtp" (garbage, an HTTP or SSH banner, a code outside 2xx-5xx),
    "line-too-long",
    "reply-too-large", "data-after-starttls" (bytes after the
    220 to STARTTLS: a possible injection, RFC 3207 §5).
    """

    def __init__(self, message: str, *, kind: str, partial: bytes = b"", step: str | None = None) -> None:
        super().__init__(message, partial=partial, step=step)
        self.kind = kind


class WireTLSFailed(WireError):
    """The TLS handshake failed. `untrusted`: the certificate did not verify (`verify_message` says why)."""

    def __init__(self, message: str, *, untrusted: bool = False, verify_message: str | None = None,
                 step: str | None = "TLS handshake") -> None:
        super().__init__(message, step=step)
        self.untrusted = untrusted
        self.verify_message = verify_message


class WireUnsolicited(WireError):
    """The server sent a reply nobody asked for (e.g. "421 4.4.2 timeout"); nothing was written."""

    def __init__(self, reply: Reply, *, partial: bytes = b"") -> None:
        super().__init__(f"server sent a reply without being asked: {reply.text}", partial=partial,
                         step="before sending the next command")
        self.reply = reply


class ConnectError(WireError):
    """The TCP connection could not be opened."""


class ConnectRefused(ConnectError):
    """The host answered and refused the connection (RST: nothing listens on that port)."""


class ConnectTimeout(ConnectError, WireTimeout):
    """No answer to the connection attempt within the timeout (filtered port, dead host)."""


class ConnectUnreachable(ConnectError):
    """No route to the host or network, or the local address cannot be used."""


_UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL,
                                 errno.EAFNOSUPPORT, errno.ENETDOWN, errno.EHOSTDOWN})


def connect_error(exc: OSError, host: str, port: int) -> ConnectError:
    """The ConnectError that tells what an OSError from connect() means."""
    where = f"{host} port {port}"
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return ConnectRefused(f"connection to {where} refused", step="connect")
    if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
        return ConnectTimeout(f"connection to {where} timed out", step="connect")
    if exc.errno in _UNREACHABLE_ERRNOS:
        return ConnectUnreachable(f"{where} unreachable: {exc.strerror or exc}", step="connect")
    return ConnectUnreachable(f"cannot connect to {where}: {exc.strerror or exc}", step="connect")
