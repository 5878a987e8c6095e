"""Edge: `smtp-probe worker`, and what `smtp-probe batch --broker` runs instead of probing here.

Only click is imported at module level (probe.cli.main registers the command when it is named); Celery and
redis are imported when a cluster command runs, and a missing extra is one line saying how to install it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from typing import Any

import click

from probe.cli.options import bare_ip, collect_cycles, fail
from probe.errors import ProbeError

INSTALL_HINT = "the cluster commands need the cluster extra: pip install 'smtp-probe[cluster]'"


def _need_extra() -> None:
    try:
        import celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError:
        raise ProbeError(INSTALL_HINT) from None


@click.command("worker", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--broker", envvar="SMTP_PROBE_BROKER", required=True, metavar="URL",
              help="Celery broker: redis://[:PASSWORD@]HOST:6379/0, rediss://... (TLS) or amqp://...")
@click.option("--redis", "redis_url", envvar="SMTP_PROBE_REDIS", metavar="URL",
              help="Redis for the fleet's politeness and results (default: the broker, when it is Redis).")
@click.option("--concurrency", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Units (domains) probed at the same time by this worker.")
@click.option("--source-ip", metavar="IP",
              help="Connect to mail servers from this local address (this worker's egress).")
@click.option("--proxy", metavar="socks5://HOST:PORT", help="Connect to mail servers through this SOCKS5 proxy.")
@click.option("--visibility-timeout", type=click.FloatRange(5, 86400), default=600.0, show_default=True,
              metavar="SECONDS", help="A unit taken by a worker that died is given to another after this long "
                                      "(Redis; RabbitMQ gives it at once); units whose --deadline does not fit "
                                      "are refused.")
@click.option("--slot-lease", type=click.FloatRange(1, 600), default=20.0, show_default=True, metavar="SECONDS",
              help="A connection slot held by a worker that died is free again after this long.")
@click.option("--name", metavar="NAME", help="This worker's name (default: smtp-probe-PID@HOST).")
@click.option("--loglevel", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
def worker_command(broker: str, redis_url: str | None, concurrency: int, source_ip: str | None, proxy: str | None,
                   visibility_timeout: float, slot_lease: float, name: str | None, loglevel: str) -> int:
    """Probe the units a `smtp-probe batch --broker URL` sends, politely across the whole fleet.

    \b
      export SMTP_PROBE_BROKER=redis://:PASSWORD@queue.example.net:6379/0
      smtp-probe worker --source-ip 203.0.113.5
    """
    from probe.dns.loading import prepare_dnspython

    prepare_dnspython()
    collect_cycles()
    try:
        _need_extra()
        from probe.cluster.client import check_url

        shown = check_url(broker, "--broker")
        redis_url = _redis_url(broker, redis_url)
        if source_ip and proxy:
            raise ProbeError("--source-ip and --proxy exclude each other (a proxy chooses the egress address)")
        if source_ip:
            source_ip = bare_ip(source_ip)
        if proxy:
            from probe.smtp.proxy import parse_proxy_url

            parse_proxy_url(proxy)
        _preflight(broker, redis_url)
    except ProbeError as exc:
        from probe.cluster.payload import Redactor

        message = str(exc)
        for url in (broker, redis_url or "", proxy or ""):
            message = Redactor(url).text(message)
        return fail(message)
    from probe.cluster.payload import Redactor
    from probe.cluster.worker import SafeLogFilter, WorkerRuntime, make_app

    runtime = WorkerRuntime(redis_url, source_ip=source_ip, proxy=proxy, visibility_timeout_s=visibility_timeout,
                            lease_s=slot_lease)
    runtime.start()
    app = make_app(broker, visibility_timeout_s=visibility_timeout, runtime=runtime)
    safe_log = SafeLogFilter([shown, Redactor(redis_url), *([Redactor(proxy)] if proxy else [])])
    _redact_logs(safe_log)
    node = name or f"smtp-probe-{os.getpid()}@{socket.gethostname()}"
    egress = f"source address {source_ip}" if source_ip else "proxy " + Redactor(proxy).url if proxy else \
        "this machine's default address"
    click.echo(f"smtp-probe worker {node}: broker {shown.url}, {concurrency} at a time, egress {egress}", err=True)
    worker = app.Worker(pool="threads", concurrency=concurrency, hostname=node, loglevel=loglevel.upper(),
                        quiet=True, without_mingle=True, without_gossip=True, without_heartbeat=True)
    worker.start()
    return int(worker.exitcode or 0)


def _redact_logs(safe_log: Any) -> None:
    from celery import signals

    def add(logger: Any, **_: Any) -> None:
        for handler in logger.handlers:
            handler.addFilter(safe_log)

    signals.after_setup_logger.connect(add, weak=False)
    signals.after_setup_task_logger.connect(add, weak=False)


def _redis_url(broker: str, redis_url: str | None) -> str:
    from probe.cluster.client import check_url

    if redis_url:
        check_url(redis_url, "--redis")
        return redis_url
    if broker.startswith(("redis://", "rediss://")):
        return broker
    raise ProbeError("the fleet keeps its politeness and results in Redis: with a non-Redis --broker, "
                     "give --redis redis://HOST:6379/0")


def _preflight(broker: str, redis_url: str) -> None:
    """Both reachable now, or one line naming which (redacted) and why."""
    import redis

    from probe.cluster.client import FleetError
    from probe.cluster.payload import Redactor

    shown = Redactor(redis_url)
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10).ping()
    except (OSError, redis.RedisError) as exc:
        raise FleetError(f"cannot reach Redis at {shown.url}: {shown.text(' '.join(str(exc).split()))}") from None
    if broker != redis_url:
        from probe.cluster.worker import make_app

        shown = Redactor(broker)
        try:
            with make_app(broker).connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=10)
        except Exception as exc:
            raise FleetError(f"cannot reach the broker {shown.url}: {shown.text(' '.join(str(exc).split()))}") from None


async def batch_on_fleet(lines: Iterable[str], plan: Any, emit: Callable[[dict[str, Any]], None], *,
                         broker: str, redis_url: str | None, wait_s: float, expect: list[str], per_host: int,
                         concurrency: int, ordered: bool, skip: Callable[[Any], bool],
                         progress: Callable[[Any], None] | None) -> Any:
    """probe.run.batch.run_batch with each unit probed by a worker (same lines, order, stats and exit code)."""
    from probe.cluster.client import FleetClient, check_url
    from probe.run.batch import run_batch

    _need_extra()
    check_url(broker, "--broker")
    if plan.options.proxy:
        raise ProbeError("with --broker, the egress is each worker's: give --proxy to `smtp-probe worker`")
    client = FleetClient(broker, _redis_url(broker, redis_url), plan.options, expect=expect,
                         thresholds=plan.thresholds, per_host=per_host, wait_s=wait_s)
    try:
        await client.start()
        return await run_batch(lines, plan.options, emit, finish=lambda report: None, concurrency=concurrency,
                               per_host=per_host, ordered=ordered, skip=skip, progress=progress,
                               run_unit=client.run_unit)
    finally:
        await client.close()
