"""I/O helper: politeness towards mail servers — connections per host, and backoff when told to slow down.

One `HostLimiter` is shared by every probe of a batch run: at most `per_host`
connections to the same MX host at a time (one by default, as Internet.nl does),
and after a 421 or a 4.7.x rate-limit reply the host is left alone for a while,
doubling up to `max_backoff_s`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from .model import Reply

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


@dataclass
class HostLimiter:
    """Per-host connection limit and backoff, shared across concurrent probes."""

    per_host: int = 1
    base_backoff_s: float = 2.0
    max_backoff_s: float = 60.0
    _hosts: dict[str, _HostState] = field(default_factory=dict)

    def _state(self, host: str) -> _HostState:
        key = host.rstrip(".").lower()
        state = self._hosts.get(key)
        if state is None:
            state = self._hosts[key] = _HostState(asyncio.Semaphore(self.per_host))
        return state

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's connection slots, after waiting out any backoff."""
        state = self._state(host)
        state.users += 1
        try:
            async with state.semaphore:
                loop = asyncio.get_running_loop()
                wait = state.not_before - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                yield
        finally:
            state.users -= 1
            if state.users == 0 and state.backoff_s == 0:
                self._hosts.pop(host.rstrip(".").lower(), None)  # keep memory flat in long batches

    def observe(self, host: str, replies: Iterable[Reply]) -> None:
        """Learn from a finished session: back off after "slow down", relax after a clean one."""
        slow = any(asks_to_slow_down(r) for r in replies)
        if not slow and host.rstrip(".").lower() not in self._hosts:
            return
        state = self._state(host)
        loop = asyncio.get_running_loop()
        if slow:
            state.backoff_s = min(self.max_backoff_s, max(self.base_backoff_s, state.backoff_s * 2))
            state.not_before = loop.time() + state.backoff_s
        else:
            state.backoff_s = 0.0

    def backoff_of(self, host: str) -> float:
        state = self._hosts.get(host.rstrip(".").lower())
        return state.backoff_s if state else 0.0
