"""I/O helper: a batch's units sent to the fleet, their results gathered for probe.run.batch.run_batch.

`FleetClient.run_unit` is a probe.run.batch.UnitRunner: it publishes the unit as a Celery task (task id
`<run>-<unit>`), and resolves when a worker pushes that unit's results to the run's Redis list.
A unit answered twice (a worker died after answering and before acknowledging, so its task ran
again) is taken once: results are keyed by unit, hence by input line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from probe.cluster.payload import Redactor, encode_task, results_key
from probe.cluster.worker import QUEUE, TASK_NAME, make_app
from probe.errors import ProbeError
from probe.model import ExitCode, ProbeOptions


class FleetError(ProbeError):
    """The fleet cannot be used (broker or Redis unreachable, no worker answering): exit 3."""

    exit_code = ExitCode.UNKNOWN


def check_url(url: str, what: str) -> Redactor:
    """A broker or Redis URL this client can use; FleetError in one line (the secret redacted) if not."""
    from urllib.parse import urlsplit

    shown = Redactor(url)
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises here
    except ValueError as exc:
        raise FleetError(f"{what} {shown.url} is not a usable URL: {shown.text(str(exc))}") from None
    schemes = ("redis", "rediss") if what == "--redis" else ("redis", "rediss", "amqp", "amqps", "pyamqp")
    if parts.scheme not in schemes or not parts.hostname:
        expected = " or ".join(f"{scheme}://HOST" for scheme in schemes)
        raise FleetError(f"{what} {shown.url} is not a usable URL: expected {expected}...")
    return shown


class FleetClient:
    """One batch run on the fleet: `await start()`, then `run_unit` per unit, then `await close()`."""

    def __init__(self, broker: str, redis_url: str, options: ProbeOptions, *, expect: list[str],
                 thresholds: dict[str, Any], per_host: int, wait_s: float) -> None:
        self.broker, self.redis_url = broker, redis_url
        self.options, self.expect, self.thresholds, self.per_host = options, expect, thresholds, per_host
        self.wait_s = wait_s
        self.run = uuid.uuid4().hex
        self.redactors = [Redactor(broker), Redactor(redis_url)]
        self._next_id = 0
        self._pending: dict[int, tuple[asyncio.Future[list[dict[str, Any]]], dict[str, Any]]] = {}
        self._publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp-probe-publish")
        self._app: Any = None
        self._collector: asyncio.Task[None] | None = None
        self._closing = False

    def clean(self, text: str) -> str:
        for redactor in self.redactors:
            text = redactor.text(text)
        return " ".join(text.split())

    async def start(self) -> None:
        """Reach Redis and the broker now, so an unreachable one is one error before any work."""
        import redis.asyncio

        self.redis = redis.asyncio.from_url(self.redis_url, socket_connect_timeout=5, socket_timeout=15)
        try:
            await asyncio.wait_for(self.redis.ping(), 20)
        except (OSError, TimeoutError, redis.RedisError) as exc:
            raise FleetError(f"cannot reach Redis at {self.redactors[1].url}: {self.clean(str(exc))}") from None
        self._app = make_app(self.broker)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._publisher, self._connect)
        except Exception as exc:
            raise FleetError(f"cannot reach the broker {self.redactors[0].url}: {self.clean(str(exc))}") from None
        self._collector = asyncio.ensure_future(self._collect())

    def _connect(self) -> None:
        self._connection = self._app.connection_for_write()
        self._connection.ensure_connection(max_retries=1, timeout=10)

    def _publish(self, task_id: str, payload: dict[str, Any]) -> None:
        self._app.send_task(TASK_NAME, args=[payload], task_id=task_id, queue=QUEUE, connection=self._connection,
                            retry=True, retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5})

    async def run_unit(self, unit: dict[str, Any]) -> list[dict[str, Any]]:
        unit_id, self._next_id = self._next_id, self._next_id + 1
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._pending[unit_id] = (future, unit)
        payload = encode_task(self.run, unit_id, unit, self.options, expect=self.expect,
                              thresholds=self.thresholds, per_host=self.per_host)
        try:
            await asyncio.get_running_loop().run_in_executor(self._publisher, self._publish,
                                                             f"{self.run}-{unit_id}", payload)
        except Exception as exc:
            self._pending.pop(unit_id, None)
            raise FleetError(f"cannot send work to the broker {self.redactors[0].url}: "
                             f"{self.clean(str(exc))}") from None
        return await future

    async def _collect(self) -> None:
        """Pop the run's results; fail every waiting unit when no worker has answered for `wait_s`."""
        key = results_key(self.run)
        loop = asyncio.get_running_loop()
        last = loop.time()
        try:
            while not self._closing:
                got = await self.redis.blpop([key], timeout=1)
                if got is None:
                    if self._pending and loop.time() - last > self.wait_s:
                        raise FleetError(f"no worker answered for {self.wait_s:g} s (are workers running on "
                                         f"{self.redactors[0].url}?); use --resume to go on")
                    if not self._pending:
                        last = loop.time()
                    continue
                last = loop.time()
                message = json.loads(got[1])
                if isinstance(message, dict) and "unit_id" in message:
                    self._deliver(message)
        except Exception as exc:
            error = exc if isinstance(exc, FleetError) else FleetError(
                f"lost Redis at {self.redactors[1].url}: {self.clean(str(exc))}")
            for future, _ in self._pending.values():
                if not future.done():
                    future.set_exception(error)

    def _deliver(self, message: dict[str, Any]) -> None:
        entry = self._pending.pop(message.get("unit_id", -1), None)
        if entry is None:
            return  # answered already (the unit ran twice) or not this run's
        future, unit = entry
        if future.done():
            return
        if "results" in message and len(message["results"]) == len(unit["lines"]):
            future.set_result(message["results"])
            return
        reason = str(message.get("error") or "the worker's answer does not fit its unit")
        future.set_result([_error_line(line, reason) for line in unit["lines"]])

    async def close(self) -> None:
        """Stop gathering (a last message wakes the collector: redis-py may not cancel a BLPOP), let go."""
        self._closing = True
        if self._collector is not None:
            with contextlib.suppress(Exception):
                await self.redis.rpush(results_key(self.run), '{"stop": true}')
            try:
                await asyncio.wait_for(asyncio.shield(self._collector), 5)
            except (TimeoutError, Exception):
                self._collector.cancel()
        if hasattr(self, "redis"):
            with contextlib.suppress(Exception):  # the list expires on its own
                await self.redis.delete(results_key(self.run))
            await self.redis.aclose()
        connection = getattr(self, "_connection", None)
        if connection is not None:
            await asyncio.get_running_loop().run_in_executor(self._publisher, connection.release)
        self._publisher.shutdown(wait=False)


def _error_line(line: dict[str, Any], reason: str) -> dict[str, Any]:
    from probe.run.batch import Line, error_result

    return error_result(Line(line["line"], line["input"], error=reason))
