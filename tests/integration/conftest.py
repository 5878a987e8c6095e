"""Fixtures for the end-to-end tests: FakeDNS on inline zones and resolvers pointed at it (loopback only)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from importlib import resources
from typing import Any

import dns.asyncresolver
import jsonschema
import pytest
import pytest_asyncio

from probe.dns.resolve import make_resolver
from probe.testing.fakedns import FakeDNS

RESOLVER_TIMEOUT_S = 0.5  # a failing lookup ends within this; passing ones answer at once on loopback

ZoneFactory = Callable[..., Awaitable[FakeDNS]]
ResolverFactory = Callable[..., dns.asyncresolver.Resolver]


@pytest_asyncio.fixture
async def fake_dns_zone() -> AsyncIterator[ZoneFactory]:
    """Factory: `await fake_dns_zone({"example.test.": zone_text}, servfail=[...])` -> a started FakeDNS.

    Zone text needs no SOA or NS, e.g. "@ 60 IN MX 10 mx\\nmx 60 IN A 127.0.0.1\\n" (names relative
    to the origin). Switches are FakeDNS's: servfail, refused, drop (no answer: the client times
    out), secure (AD bit). With no zones the server answers REFUSED to everything, at once.
    Every server is stopped after the test.
    """
    started: list[FakeDNS] = []

    async def make(zones: Mapping[str, str] | None = None, **switches: Iterable[str]) -> FakeDNS:
        server = FakeDNS(dict(zones or {}), **switches)
        await server.start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        await server.aclose()


@pytest.fixture
def resolver_for() -> ResolverFactory:
    """Factory: `resolver_for(fake_dns)` -> a resolver asking only that server (timeout 0.5 s by default)."""

    def make(server: FakeDNS, timeout_s: float = RESOLVER_TIMEOUT_S) -> dns.asyncresolver.Resolver:
        return make_resolver([server.address], timeout_s=timeout_s)

    return make


@pytest_asyncio.fixture
async def no_dns(fake_dns_zone: ZoneFactory, resolver_for: ResolverFactory) -> dns.asyncresolver.Resolver:
    """A resolver whose server serves no zone: every lookup is REFUSED at once (for --mx runs)."""
    return resolver_for(await fake_dns_zone())


@pytest.fixture(scope="session")
def validate_report() -> Callable[[Any], Any]:
    """`validate_report(data or JSON text)` -> the data, after checking it against probe/schema/report.schema.json."""
    schema = json.loads(resources.files("probe").joinpath("schema/report.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)

    def validate(data: Any) -> Any:
        data = json.loads(data) if isinstance(data, str) else data
        validator.validate(data)
        return data

    return validate
