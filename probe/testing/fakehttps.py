"""Test support: a loopback HTTPS server serving an MTA-STS policy (asyncio + TLS). Never used by a live probe."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from probe.testing.certs import TestCA

_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 500: "Internal Server Error"}


def policy_text(mode: str, mx: list[str], *, max_age: int = 604800, version: str = "STSv1") -> str:
    """An MTA-STS policy file (RFC 8461 §3.2), CRLF line endings."""
    lines = [f"version: {version}", f"mode: {mode}", *(f"mx: {pattern}" for pattern in mx), f"max_age: {max_age}"]
    return "\r\n".join(lines) + "\r\n"


class FakePolicyServer:
    """HTTPS on 127.0.0.1:<ephemeral> with a certificate for mta-sts.<domain> (or `cert_names`) from `ca`.

    Every request gets the same configured answer: status, Content-Type, body, and a Location header
    when `location` is set. `requests` records each request line and Host header.

        async with FakePolicyServer(ca, "probe.test", body=policy_text("enforce", ["mx.probe.test"])) as web:
            # resolver: FakeDNS with "mta-sts.probe.test A 127.0.0.1"
            await check_mta_sts("probe.test", resolver, mx, timeout_s=1, cafile=str(ca.bundle_path), port=web.port)
    """

    def __init__(
        self,
        ca: TestCA,
        domain: str,
        *,
        body: str | bytes = "",
        status: int = 200,
        content_type: str | None = "text/plain; charset=utf-8",
        location: str | None = None,
        cert_names: list[str] | None = None,
        expired: bool = False,
    ) -> None:
        self.domain = domain
        self.body = body.encode() if isinstance(body, str) else body
        self.status = status
        self.content_type = content_type
        self.location = location
        issued = ca.issue(cert_names or [f"mta-sts.{domain}"], expired=expired)
        self._context = ca.server_context(issued)
        self.requests: list[tuple[str, str | None]] = []  # (request line, Host header)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def __aenter__(self) -> FakePolicyServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        if self._server is not None:
            await self._server.wait_closed()

    def _response(self) -> bytes:
        head = [f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Status')}", f"Content-Length: {len(self.body)}",
                "Connection: close"]
        if self.content_type is not None:
            head.append(f"Content-Type: {self.content_type}")
        if self.location is not None:
            head.append(f"Location: {self.location}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await asyncio.wait_for(reader.readline(), 5)).decode("latin-1").strip()
            host = None
            while True:
                line = (await asyncio.wait_for(reader.readline(), 5)).decode("latin-1").strip()
                if not line:
                    break
                name, _, value = line.partition(":")
                if name.strip().lower() == "host":
                    host = value.strip()
            self.requests.append((request_line, host))
            writer.write(self._response())
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # a client that gave up (failed handshake, timeout) is not the server's problem
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1)
