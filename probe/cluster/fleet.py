"""I/O helper: the Redis backend of probe.smtp.polite.HostLimiter, so politeness holds across a fleet.

The policy (which keys, when to wait, when to back off and by how much) stays in HostLimiter;
this backend only keeps its state in Redis, where every worker sees it:

- a connection slot is a lease in a sorted set per host or address (member: a random token, score:
  the lease's end in Redis's own clock). Taking one is one Lua script (drop expired leases, count,
  add), so two workers never hold more than `per_host` leases at once; the holder renews its lease
  while connected, and a killed worker's lease simply runs out (`lease_s`), so no slot is held forever;
- a backoff is two keys per host or address: the current backoff (doubled by each "slow down", as
  HostLimiter does) and a pause key that lives for that long; a worker waits while any pause lives.

Every key is under `smtp-probe:polite:`; each expires on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from probe.smtp.polite import HostLimiter, host_key, next_backoff

PREFIX = "smtp-probe:polite:"

# KEYS[1] the slot set; ARGV: token, limit, lease in ms. 1 when the lease is taken, 0 when the slots are full.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""
# KEYS[1] the slot set; ARGV: token, lease in ms. Extends a lease still held (0 when it ran out).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


@dataclass
class RedisHostLimiter(HostLimiter):
    """HostLimiter whose slots and backoffs live in Redis (`redis`: a redis.asyncio.Redis)."""

    redis: Any = None
    lease_s: float = 20.0  # a slot not renewed for this long (its worker died) is free again
    remember_s: float = 3600.0  # a backoff not raised again for this long is forgotten
    poll_max_s: float = 0.05  # longest wait between two tries for a full slot (a freed slot idles at most this)

    def __post_init__(self) -> None:
        if self.redis is None:
            raise ValueError("RedisHostLimiter needs a redis.asyncio.Redis")
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._renew = self.redis.register_script(_RENEW)

    @asynccontextmanager
    async def _hold(self, key: str) -> AsyncIterator[None]:
        slots, token, lease_ms = f"{PREFIX}slots:{key}", uuid.uuid4().hex, int(self.lease_s * 1000)
        delay = 0.005
        while not await self._acquire(keys=[slots], args=[token, self.per_host, lease_ms]):
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # slots are full: try again soon
            delay = min(self.poll_max_s, delay * 2)
        renewing = asyncio.ensure_future(self._keep(slots, token, lease_ms))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await asyncio.shield(self.redis.zrem(slots, token))

    async def _keep(self, slots: str, token: str, lease_ms: int) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            await self._renew(keys=[slots], args=[token, lease_ms])

    async def _pause_left_s(self, keys: list[str]) -> float:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.pttl(f"{PREFIX}pause:{key}")
            left_ms = await pipe.execute()
        return float(max([0, *left_ms])) / 1000.0  # PTTL: -2 when no pause, -1 never (not set here)

    async def _learn(self, key: str, slow: bool) -> None:
        backoff = f"{PREFIX}backoff:{key}"
        if not slow:
            await self.redis.delete(backoff)
            return
        current = float(await self.redis.get(backoff) or 0)
        wait = next_backoff(current, self.base_backoff_s, self.max_backoff_s)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(backoff, repr(wait), ex=int(self.remember_s))
            pipe.set(f"{PREFIX}pause:{key}", "1", px=max(1, int(wait * 1000)))
            await pipe.execute()

    async def backoff_of(self, host: str) -> float:
        return float(await self.redis.get(f"{PREFIX}backoff:{host_key(host)}") or 0)
