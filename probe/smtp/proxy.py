"""I/O: a TCP connection to a mail server through a SOCKS5 proxy (python-socks, optional). It must not speak SMTP.

Proxy failures must not be opaque (anchors.md item 15: `io: incomplete`, "malformed
reply", auth panics, bare "connection refused"): every failure is a `ProxyFailed`
whose `kind` and one-line message say WHO failed: the proxy itself (unreachable,
timed out, not SOCKS5), our credentials, the proxy's rules, or the proxy's attempt
to reach the mail server (RFC 1928 §6 reply codes).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from probe.errors import InputError

MISSING_DEPENDENCY = "--proxy needs the optional dependency: pip install 'smtp-probe[socks]'"

# RFC 1928 §6: the REP field of the reply to CONNECT -> (kind, what it means for us)
_SOCKS5_REPLIES: dict[int, tuple[str, str]] = {
    0x01: ("mx-unreachable", "the proxy reported a general failure reaching"),
    0x02: ("refused-by-proxy", "the proxy's rules do not allow a connection to"),
    0x03: ("mx-unreachable", "the proxy has no route to the network of"),
    0x04: ("mx-unreachable", "the proxy could not reach the host"),
    0x05: ("mx-refused", "the mail server refused the proxy's connection to"),
    0x06: ("mx-unreachable", "the proxy's connection attempt timed out (TTL expired) reaching"),
    0x07: ("proxy-unsupported", "the proxy does not support the CONNECT command for"),
    0x08: ("proxy-unsupported", "the proxy does not support this address type for"),
}


@dataclass(frozen=True, slots=True)
class ProxyUrl:
    """A checked `socks5://[user:password@]host:port` (socks5h:// is accepted too: names resolve at the proxy)."""

    url: str
    host: str
    port: int
    has_credentials: bool


class ProxyFailed(Exception):
    """The connection through the proxy failed. `kind`: proxy-unreachable | proxy-timeout | proxy-auth |
    refused-by-proxy | mx-refused | mx-unreachable | proxy-unsupported | proxy-protocol."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def parse_proxy_url(url: str) -> ProxyUrl:
    """Check a --proxy value and that python-socks is installed. Raises InputError (nothing is sent)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("socks5", "socks5h"):
        raise InputError(f"--proxy {url!r}: only socks5://host:port is supported")
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"--proxy {url!r}: the port is not a number from 1 to 65535") from None
    if not parts.hostname or port is None or port == 0:
        raise InputError(f"--proxy {url!r}: give a host and a port, e.g. socks5://127.0.0.1:1080")
    try:
        import python_socks  # noqa: F401  (only checking that it is there)
    except ImportError:
        raise InputError(MISSING_DEPENDENCY) from None
    return ProxyUrl(url.strip(), parts.hostname, port, parts.username is not None)


def _describe_reply_error(message: str, code: int | None, where: str) -> ProxyFailed:
    lowered = message.lower()
    if code in _SOCKS5_REPLIES:
        kind, text = _SOCKS5_REPLIES[code]
        return ProxyFailed(kind, f"{text} {where} (SOCKS5 reply {code})")
    if "authentication" in lowered and "no acceptable" in lowered:
        return ProxyFailed("proxy-auth", "the proxy requires authentication we did not offer "
                                         "(put user:password@ in the --proxy URL)")
    if "authentication" in lowered or "auth" in lowered:
        return ProxyFailed("proxy-auth", f"the proxy refused our user name and password ({message})")
    return ProxyFailed("proxy-protocol", f"the proxy did not answer as a SOCKS5 proxy: {message}")


async def open_via_proxy(proxy: ProxyUrl, host: str, port: int, *, timeout_s: float) -> socket.socket:
    """A connected socket to host:port through the proxy (names resolved by the proxy). Raises ProxyFailed."""
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError
    from python_socks.async_.asyncio import Proxy

    where = f"{host} port {port}"
    at = f"{proxy.host}:{proxy.port}"
    try:
        client = Proxy.from_url(proxy.url.replace("socks5h://", "socks5://", 1), rdns=True)
        sock = await client.connect(dest_host=host, dest_port=port, timeout=max(timeout_s, 0.001))
    except ProxyTimeoutError:
        raise ProxyFailed("proxy-timeout", f"the SOCKS proxy at {at} did not complete the connection to "
                                           f"{where} within {timeout_s:g} s") from None
    except ProxyConnectionError as exc:
        reason = unquote(str(exc.strerror or exc))
        raise ProxyFailed("proxy-unreachable", f"cannot connect to the SOCKS proxy at {at}: {reason}") from None
    except ProxyError as exc:
        raise _describe_reply_error(str(exc), exc.error_code, where) from None
    except (OSError, ValueError) as exc:  # a proxy that hangs up mid-handshake, a garbled reply
        raise ProxyFailed("proxy-protocol", f"the SOCKS proxy at {at} broke off the handshake: "
                                            f"{exc or type(exc).__name__}") from None
    sock.setblocking(False)
    return sock
