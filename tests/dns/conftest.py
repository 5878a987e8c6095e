"""Fixtures for the DNS tests: FakeDNS serving fixtures/zones on loopback, and a resolver pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncresolver
import pytest
import pytest_asyncio

from probe.dns.resolve import make_resolver
from probe.testing.fakedns import FakeDNS

ZONES = Path(__file__).resolve().parents[2] / "fixtures" / "zones"

# The misbehaving names documented at the top of fixtures/zones/probe.test.zone.
SWITCHES: dict[str, tuple[str, ...]] = {
    "servfail": ("servfail.probe.test", "broken.probe.test"),
    "refused": ("refused.probe.test",),
    "drop": ("timeout.probe.test", "silent.probe.test"),
    "secure": ("_25._tcp.mx1.probe.test",),
}

TIMEOUT_S = 0.5  # every failing lookup ends within this; passing ones answer at once on loopback


@pytest_asyncio.fixture
async def fake_dns() -> AsyncIterator[FakeDNS]:
    """FakeDNS on 127.0.0.1 (ephemeral port) serving every fixtures/zones/*.zone file."""
    async with FakeDNS.from_files(ZONES.glob("*.zone"), **SWITCHES) as server:
        yield server


@pytest.fixture
def resolver(fake_dns: FakeDNS) -> dns.asyncresolver.Resolver:
    """A resolver that asks only the fake server, with a short timeout."""
    return make_resolver([fake_dns.address], timeout_s=TIMEOUT_S)
