"""Edge: the Celery app of a fleet, and the worker that runs probe.run.bulk.probe_unit for it.

Safe settings, for client and worker alike: JSON only (accept_content=['json']: a pickled message
is refused, never unpickled), acknowledged late and re-queued when a worker dies mid-task, one task
reserved at a time per slot (prefetch 1, so a killed worker strands little). A task that cannot be
read is logged in one line and acknowledged, and when it names its run the client is told why.

A worker runs one asyncio loop in a thread; Celery's thread pool hands each task to it and waits,
so `--concurrency` units are probed at once, sharing one Redis connection pool, one HostLimiter
backend (RedisHostLimiter) and a resolver per resolver setting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from probe.cluster.payload import Redactor, Task, TaskRejected, decode_task, results_key, task_address

TASK_NAME = "smtp_probe.unit"
QUEUE = "smtp-probe"
DEADLINE_MARGIN_S = 5  # a unit's deadline, plus this, must fit in the visibility timeout (else it may run twice)
RESULTS_KEEP_S = 86400  # a run's results list expires a day after its last result
log = logging.getLogger("smtp_probe.worker")


def make_app(broker: str, *, visibility_timeout_s: float = 600.0, runtime: WorkerRuntime | None = None) -> Any:
    """The Celery app for `broker`; with a `runtime`, its task probes (a worker), else it only sends."""
    from celery import Celery

    app = Celery("smtp-probe", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"], result_accept_content=["json"],
        event_serializer="json", task_acks_late=True, task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True, worker_prefetch_multiplier=1, task_ignore_result=True,
        task_default_queue=QUEUE, worker_enable_remote_control=False, worker_send_task_events=False,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=True,
        broker_transport_options={"visibility_timeout": visibility_timeout_s,
                                  "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout_s / 4))},
    )

    # shared=False: Celery's default adds a task to every app made afterwards in the process, and the first
    # registered wins; a worker with a non-Redis broker makes a sending app first (its preflight check), so
    # every unit would have run that app's task ("this app only sends tasks") instead of this one.
    @app.task(name=TASK_NAME, ignore_result=True, shared=False)  # type: ignore[untyped-decorator]
    def unit_task(payload: Any) -> None:
        if runtime is None:
            raise RuntimeError("this app only sends tasks")
        runtime.handle(payload)

    return app


@dataclass
class WorkerRuntime:
    """One worker process's loop, Redis client and politeness state, and what it does with a task."""

    redis_url: str
    source_ip: str | None = None
    proxy: str | None = None
    visibility_timeout_s: float = 600.0
    lease_s: float = 20.0  # a connection slot's lease (RedisHostLimiter.lease_s)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _limiters: dict[int, Any] = field(default_factory=dict)
    _resolvers: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def start(self) -> None:
        import redis.asyncio

        threading.Thread(target=self.loop.run_forever, name="smtp-probe-loop", daemon=True).start()
        self.redis = redis.asyncio.from_url(self.redis_url, socket_connect_timeout=10, socket_timeout=30,
                                            health_check_interval=30)
        self.redactor = Redactor(self.redis_url)

    def handle(self, payload: Any) -> None:
        """Probe one task and push its results; a bad task is logged, answered if possible, and dropped."""
        try:
            task = decode_task(payload)
            if task.options.deadline_s + DEADLINE_MARGIN_S > self.visibility_timeout_s:
                raise TaskRejected(f"deadline_s {task.options.deadline_s:g} s does not fit in this worker's "
                                   f"--visibility-timeout {self.visibility_timeout_s:g} s "
                                   f"(minus {DEADLINE_MARGIN_S} s)")
        except TaskRejected as exc:
            reason = self.redactor.text(" ".join(str(exc).split()))
            log.error("rejected a task: %s", reason)
            where = task_address(payload)
            if where is not None:
                self._call(self._push(where[0], {"unit_id": where[1], "error": f"rejected by the worker: {reason}"}))
            return
        self._call(self._probe(task), timeout_s=task.options.deadline_s + DEADLINE_MARGIN_S)

    def _call(self, coroutine: Any, timeout_s: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    async def _push(self, run: str, message: dict[str, Any]) -> None:
        key = results_key(run)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(message, separators=(",", ":")))
            pipe.expire(key, RESULTS_KEEP_S)
            await pipe.execute()

    async def _probe(self, task: Task) -> None:
        from probe.cluster.fleet import RedisHostLimiter
        from probe.judge.health import finish_report
        from probe.run.bulk import probe_unit

        options = replace(task.options, source_ip=self.source_ip, proxy=self.proxy)  # this worker's egress
        limiter = self._limiters.get(task.per_host)
        if limiter is None:
            limiter = self._limiters[task.per_host] = RedisHostLimiter(per_host=task.per_host, redis=self.redis,
                                                                         lease_s=self.lease_s)

        def finish(report: Any) -> None:
            finish_report(report, task.expectations, **task.thresholds)

        try:
            results = await probe_unit(task.unit, options, finish=finish, resolver=self._resolver(options),
                                       limiter=limiter)
        except Exception as exc:  # a defect must not re-queue the unit for ever: it answers as an error
            log.exception("unit %s of run %s failed", task.unit_id, task.run)
            await self._push(task.run, {"unit_id": task.unit_id,
                                        "error": self.redactor.text(f"the worker failed: {type(exc).__name__}: {exc}")})
            return
        await self._push(task.run, {"unit_id": task.unit_id, "results": results})
        log.info("unit %s of run %s: %d lines", task.unit_id, task.run, len(results))

    def _resolver(self, options: Any) -> Any:
        from probe.dns import resolve

        key = (options.resolvers, options.timeout_s)
        if key not in self._resolvers:
            self._resolvers[key] = resolve.make_resolver(options.resolvers, timeout_s=options.timeout_s)
        return self._resolvers[key]


class SafeLogFilter(logging.Filter):
    """Every worker log line without the secrets of its URLs; a refused message in one line (Celery's own
    report of an undecodable message spans lines and dumps the body, a pickle's included)."""

    _REFUSALS = ("Received invalid task message", "Can't decode message body", "Received unregistered task")

    def __init__(self, redactors: list[Redactor]) -> None:
        super().__init__()
        self.redactors = redactors

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if text.startswith(self._REFUSALS):
            text = "refused a message: " + text.split("\n", 1)[0].rstrip(".") + "; acknowledged and dropped"
            record.exc_info, record.exc_text = None, None
        elif record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, None
        for redactor in self.redactors:
            text = redactor.text(text)
        record.msg, record.args = text, None
        return True
