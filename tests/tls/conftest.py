"""Fixtures for the transport-security tests: a test CA, a loopback TLS server, a fake DNS server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from probe.dns.resolve import make_resolver
from probe.testing.certs import TestCA
from probe.testing.fakedns import FakeDNS


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


async def _greet_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, TimeoutError):
        writer.write(b"hello\n")
        await writer.drain()
        await asyncio.wait_for(reader.read(1), 1)
    writer.close()


TLSServerFactory = Callable[[ssl.SSLContext], Awaitable[int]]


@pytest_asyncio.fixture
async def tls_server() -> AsyncIterator[TLSServerFactory]:
    """Factory: await tls_server(server_context) -> port of a TLS server on 127.0.0.1."""
    servers: list[asyncio.Server] = []

    async def start(context: ssl.SSLContext) -> int:
        server = await asyncio.start_server(_greet_then_close, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()



SOA = "@ SOA ns.probe.test. hostmaster.probe.test. 1 3600 600 86400 300\n@ NS ns.probe.test.\n"


def zone(records: list[str]) -> str:
    """A zone text: SOA, NS and the given relative records, one per line."""
    return "$TTL 300\n" + SOA + "\n".join(records) + "\n"


ResolverFactory = Callable[..., Awaitable[Any]]


@pytest_asyncio.fixture
async def dns_resolver() -> AsyncIterator[ResolverFactory]:
    """Factory: await dns_resolver({"probe.test.": [records]}, secure=[...], servfail=[...]) -> a resolver
    that asks a FakeDNS on 127.0.0.1 (the real resolve.py code path; only the server address differs)."""
    servers: list[FakeDNS] = []

    async def start(zones: dict[str, list[str]], **switches: list[str]) -> Any:
        fake = FakeDNS({origin: zone(records) for origin, records in zones.items()}, **switches)
        await fake.start()
        servers.append(fake)
        return make_resolver([fake.address], timeout_s=1.0)

    yield start
    for fake in servers:
        fake.close()
