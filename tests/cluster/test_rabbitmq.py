"""`smtp-probe batch --broker amqp://...` on real Celery workers, a real RabbitMQ node (rabbitlab.py) as the
broker and a real Redis (`--redis`) for the politeness state and the results: every line once and in order,
one connection per mail server across the fleet, a killed worker's units given again at once (RabbitMQ
requeues a dead consumer's unacknowledged messages when its connection closes: no visibility timeout), and
one-line errors without the password."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

from fleetlab import MISSING, Fleet, RedisServer, free_port, smtp_probe, until
from rabbitlab import PASSWORD, RABBIT_MISSING, USER, RabbitServer
from test_fleet import DOMAINS, TARGETS, ZONE, common, steady

if MISSING or RABBIT_MISSING:
    pytest.skip(MISSING or RABBIT_MISSING, allow_module_level=True)

pytestmark = pytest.mark.timeout(180)  # the node's start (about 5 s idle) counts in the first test's time


@pytest.fixture
async def rabbit_fleet(rabbitmq_server: RabbitServer, redis_server: RedisServer,
                       tmp_path: Path) -> AsyncIterator[Fleet]:
    """Workers on the RabbitMQ node, politeness and results in this test's Redis; the queue emptied first."""
    from probe.cluster.worker import make_app

    app = make_app(rabbitmq_server.url)
    with app.connection_for_write() as connection:
        app.control.purge(connection=connection)  # whatever an earlier test of this module left
    fleet = Fleet(redis_server, tmp_path, broker=rabbitmq_server.url)
    try:
        yield fleet
    finally:
        await fleet.stop()


async def test_a_rabbitmq_fleet_answers_every_line_in_order_one_session_per_host(
        rabbit_fleet: Fleet, tmp_path: Path) -> None:
    import redis.asyncio

    from probe.cluster.fleet import RedisHostLimiter

    fleet = rabbit_fleet
    async with FakeDNS({"f.test.": ZONE}) as dns, FakeSMTP(rcpt={"bob@d3.f.test": "550 5.1.1 no such user"},
                                                          banner_delay_s=0.05) as smtp:
        local = await smtp_probe("batch", "-", "--per-host", "1", *common(dns, smtp), stdin=TARGETS.encode())
        assert smtp.most_open == 1, local[2]
        for _ in range(2):
            await fleet.start_worker("--concurrency", "4")
        # Both workers must hold units at once: while the test holds the mail server's only slot no unit
        # can finish, and a worker has at most --concurrency (4) of the 8 mail units unacknowledged
        # (RabbitMQ's prefetch count), so the other worker must take the rest.
        client = redis.asyncio.from_url(fleet.redis.url)
        try:
            async with RedisHostLimiter(redis=client, per_host=1).slot("mx.f.test", "127.0.0.1"):
                batch = asyncio.ensure_future(smtp_probe(
                    "batch", "-", *fleet.urls(), "--per-host", "1", "--concurrency", "10", "--progress",
                    *common(dns, smtp), stdin=TARGETS.encode()))
                await until(lambda: all("received" in w.text() for w in fleet.workers), what="both workers")
                assert smtp.open_now == 0  # the slot held here kept every worker out
        finally:
            await client.aclose()
        code, out, err = await batch
    assert code == local[0] == 2, err
    mine = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in mine] == list(range(1, len(DOMAINS) * 2 + 3))  # every line once, in input order
    assert steady(mine) == steady([json.loads(line) for line in local[1].splitlines()])
    assert mine[7]["addresses"][0]["verdict"] == "undeliverable"  # bob@d3: a worker asked, its answer came back
    assert smtp.most_open == 1  # one session at a time on the one mail server, fleet-wide
    assert "done, 1 bad lines" in err and err.splitlines()[-1].split(",")[:3] == local[2].splitlines()[-1].split(
        ",")[:3]
    assert all(f"{USER}:***@127.0.0.1" in w.text() for w in fleet.workers)  # the worker names its broker...
    assert PASSWORD not in out + err + "".join(w.text() for w in fleet.workers)  # ...without the password


async def test_a_killed_workers_units_come_back_at_once(rabbit_fleet: Fleet, tmp_path: Path) -> None:
    # The workers keep the default --visibility-timeout (600 s): with RabbitMQ it plays no part, the dead
    # worker's connection closes and its unacknowledged units are queued again at once.
    fleet = rabbit_fleet
    async with FakeDNS({"f.test.": ZONE}) as dns, FakeSMTP(banner_delay_s=0.5) as smtp:
        first = await fleet.start_worker("--concurrency", "4", "--slot-lease", "2")
        client = asyncio.ensure_future(smtp_probe(
            "batch", "-", *fleet.urls(), *common(dns, smtp), stdin=TARGETS.encode(), timeout_s=120))
        await until(lambda: smtp.connections)  # the first worker is in a session (the banner takes 0.5 s)
        first.process.kill()  # SIGKILL: no warm shutdown, its units stay unacknowledged
        await first.process.wait()
        taken = first.units("received") - first.units("succeeded")
        assert taken  # it died holding units
        second = await fleet.start_worker("--concurrency", "4", "--slot-lease", "2")
        code, out, err = await client
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in results] == list(range(1, len(DOMAINS) * 2 + 3)), err  # each line once, in order
    assert code == 2 and [r.get("error") for r in results[:-1]] == [None] * (len(results) - 1)
    assert all(r["status"] == "accepts_mail" for r in results[:-2])
    assert taken <= second.units("received")  # given again


async def test_a_refused_or_unreachable_rabbitmq_is_one_line_exit_3(
        rabbitmq_server: RabbitServer, redis_server: RedisServer) -> None:
    wrong = rabbitmq_server.url.replace(PASSWORD, "wr0ng-pw")
    closed = f"amqp://{USER}:{PASSWORD}@127.0.0.1:{free_port()}/probe-fleet"
    for broker in (wrong, closed):
        for command in ("batch", "worker"):
            code, out, err = await smtp_probe(command, "-", "--broker", broker, "--redis", redis_server.url,
                                              stdin=b"example.com\n", timeout_s=60) if command == "batch" else \
                await smtp_probe(command, "--broker", broker, "--redis", redis_server.url, timeout_s=60)
            assert code == 3 and err.count("\n") == 1 and not out, err
            assert f"cannot reach the broker amqp://{USER}:***@127.0.0.1:" in err, err
            assert PASSWORD not in err and "wr0ng-pw" not in err
    code, _, err = await smtp_probe("batch", "-", "--broker", rabbitmq_server.url, stdin=b"example.com\n")
    assert code == 3 and "with a non-Redis --broker, give --redis" in err and PASSWORD not in err, err
