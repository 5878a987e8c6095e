"""I/O helper: politeness towards mail servers — connections per host, and backoff when told to slow down.

One `HostLimiter` is shared by every probe of a batch run: at most `per_host`
connections to the same address at a time (one by default, as Internet.nl does;
keyed by the IP actually connected, so two MX names on one machine share the
limit), and after a 421 or a 4.7.x rate-limit reply both the host name and the
address are left alone for a while, doubling up to `max_backoff_s`.

It also carries the run's cache of source-address audits (`audits`), so a batch
audits this machine's echoed public address once, not once per target, and of the greeting checks of
untried equal-preference MX hosts (`greetings`), so each is connected to once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from probe.model import Reply

# RFC 3463 X.7.x with these details, and the basic 421, say "slow down": 4.7.0 is used for
# rate limits by Yahoo, Microsoft (4.7.500-699 are mapped to 4.7.x) and Gmail (4.7.28).
_SLOW_DOWN_TEXTS = ("rate", "too many", "throttl", "slow down", "try again later", "deferred")


def asks_to_slow_down(reply: Reply) -> bool:
    """True when a reply is a temporary refusal that a polite client answers by waiting."""
    if reply.code == 421:
        return True
    if not 400 <= reply.code < 500:
        return False
    text = " ".join(reply.lines).lower()
    return ("4.7." in text or "4.5.3" in text) and any(t in text for t in _SLOW_DOWN_TEXTS)


@dataclass
class _HostState:
    semaphore: asyncio.Semaphore
    backoff_s: float = 0.0
    not_before: float = 0.0  # loop time before which no new connection is opened
    users: int = 0


def host_key(name: str) -> str:
    """The key of a host name or an address: brackets, trailing dot and case folded away."""
    return name.strip("[]").rstrip(".").lower()


def next_backoff(current_s: float, base_s: float, max_s: float) -> float:
    """The backoff after one more "slow down": the base at first, then doubling up to the cap."""
    return min(max_s, max(base_s, current_s * 2))


@dataclass
class HostLimiter:
    """Per-address connection limit and per-host/per-address backoff, shared across concurrent probes.

    This is the local backend (one process). `slot` and `observe` hold the policy; the three backend
    hooks `_hold`, `_pause_left_s` and `_learn` hold the state, and a fleet's backend
    (probe.cluster.fleet.RedisHostLimiter) overrides only those, so every worker shares it.
    """

    per_host: int = 1
    base_backoff_s: float = 2.0
    max_backoff_s: float = 60.0
    _hosts: dict[str, _HostState] = field(default_factory=dict)
    # source IP -> the (running or finished) audit of it, for this run only (probe.run.reachability)
    audits: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    # "IP PORT" -> the (running or finished) greeting check of an MX host no walk tried (probe.run.peercheck), for
    # this run only: a batch of domains served by the same equal-preference hosts connects to each once
    greetings: dict[str, asyncio.Future[Any]] = field(default_factory=dict)

    @asynccontextmanager
    async def slot(self, host: str, address: str | None = None) -> AsyncIterator[None]:
        """Hold one connection slot to `address` (the IP connected; `host` when none is given),
        after waiting out any backoff of the host name and of the address."""
        key = host_key(address) if address else host_key(host)
        async with self._hold(key):
            wait = await self._pause_left_s(list(dict.fromkeys([host_key(host), key])))
            if wait > 0:
                await asyncio.sleep(wait)
            yield

    async def observe(self, host: str, replies: Iterable[Reply], address: str | None = None) -> None:
        """Learn from a finished session: back off after "slow down", relax after a clean one
        (for the host name and, when given, the address)."""
        slow = any(asks_to_slow_down(r) for r in replies)
        for key in dict.fromkeys([host_key(host)] + ([host_key(address)] if address else [])):
            await self._learn(key, slow)

    async def backoff_of(self, host: str) -> float:
        """The current backoff of a host name or an address."""
        state = self._hosts.get(host_key(host))
        return state.backoff_s if state else 0.0

    # -- the local backend's state: an asyncio semaphore and a pause per key, in this process only
    def _state(self, key: str) -> _HostState:
        state = self._hosts.get(key)
        if state is None:
            state = self._hosts[key] = _HostState(asyncio.Semaphore(self.per_host))
        return state

    def _forget(self, key: str) -> None:
        state = self._hosts.get(key)
        if state is not None and state.users == 0 and state.backoff_s == 0:
            self._hosts.pop(key, None)  # keep memory flat in long batches

    @asynccontextmanager
    async def _hold(self, key: str) -> AsyncIterator[None]:
        """Hold one of the key's `per_host` connection slots."""
        state = self._state(key)
        state.users += 1
        try:
            async with state.semaphore:
                yield
        finally:
            state.users -= 1
            self._forget(key)

    async def _pause_left_s(self, keys: list[str]) -> float:
        """Seconds before any of `keys` may be connected to again (0 when none is paused)."""
        others = [self._hosts[k] for k in keys if k in self._hosts]
        return max((s.not_before for s in others), default=0.0) - asyncio.get_running_loop().time()

    async def _learn(self, key: str, slow: bool) -> None:
        if not slow and key not in self._hosts:
            return
        state = self._state(key)
        if slow:
            state.backoff_s = next_backoff(state.backoff_s, self.base_backoff_s, self.max_backoff_s)
            state.not_before = asyncio.get_running_loop().time() + state.backoff_s
        else:
            state.backoff_s = 0.0
        self._forget(key)
