"""A fleet that trusts nothing on the wire: malformed and pickled tasks are refused in one logged line and
acknowledged (never retried), and the politeness state is shared by every worker through Redis."""

from __future__ import annotations

import asyncio
import json
import pickle
from typing import Any

import pytest

from probe.cluster.fleet import PREFIX, RedisHostLimiter
from probe.cluster.payload import results_key
from probe.cluster.worker import QUEUE, TASK_NAME, make_app
from probe.model import Reply

from fleetlab import MISSING, PASSWORD, Fleet, RedisServer, until

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)


async def _queue_settled(server: RedisServer) -> None:
    """Bounded wait until nothing is waiting in or taken from the queue (acknowledged)."""
    client = server.client()
    await until(lambda: not client.llen(QUEUE) and not client.hlen("unacked"))
    client.close()


async def test_a_malformed_task_is_rejected_in_one_line_and_acknowledged(fleet: Fleet) -> None:
    worker = await fleet.start_worker("--concurrency", "1")
    app = make_app(fleet.redis.url)
    bad: list[Any] = [
        {"v": 1, "run": "r1", "unit_id": 3, "per_host": 1, "unit": {"domain": "x.test", "lines": []},
         "options": {}, "judge": {"expect": [], "thresholds": {}}},
        {"v": 1, "run": "r1", "unit_id": 4, "per_host": 1,
         "unit": {"domain": "x.test", "lines": [{"line": 1, "input": "x", "addresses": ["a@x.test"]}]},
         "options": {"port": "25; rm -rf /"}, "judge": {"expect": [], "thresholds": {}}},
        "not an object",
    ]
    with app.connection_for_write() as connection:
        for payload in bad:
            app.send_task(TASK_NAME, args=[payload], queue=QUEUE, connection=connection)
        # a pickled message: refused unread (accept_content=['json']), never run
        app.send_task(TASK_NAME, args=[{"v": 1}], queue=QUEUE, connection=connection, serializer="pickle")
    await _queue_settled(fleet.redis)
    await until(lambda: worker.text().count("rejected a task:") == 3 and "refused a message" in worker.text())
    lines = [line for line in worker.text().splitlines() if "rejected a task:" in line]
    assert "unit: no lines" in lines[0] and "options.port: expected an integer" in lines[1]
    assert "the task is not a JSON object" in lines[2]
    refused = [line for line in worker.text().splitlines() if "refused a message" in line]
    assert len(refused) == 1 and "untrusted content of type pickle" in refused[0]
    assert "Traceback" not in worker.text() and "\\x80" not in worker.text()  # one line, no pickled body
    client = fleet.redis.client()
    answers = [json.loads(m) for m in client.lrange(results_key("r1"), 0, -1)]
    client.close()
    assert [a["unit_id"] for a in answers] == [3, 4] and all("rejected by the worker" in a["error"] for a in answers)
    assert PASSWORD not in worker.text()


async def test_a_pickle_payload_never_runs(fleet: Fleet, tmp_path: Any) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> Any:
            return (open, (str(marker), "w"))

    worker = await fleet.start_worker("--concurrency", "1")
    app = make_app(fleet.redis.url)
    from kombu.serialization import register

    register("pickle-raw", pickle.dumps, pickle.loads, content_type="application/x-python-serialize",
             content_encoding="binary")
    with app.connection_for_write() as connection:
        app.send_task(TASK_NAME, args=[Exploit()], queue=QUEUE, connection=connection, serializer="pickle-raw")
    await _queue_settled(fleet.redis)
    await until(lambda: "refused a message" in worker.text())
    assert not marker.exists()


async def test_slots_and_backoff_are_shared_by_every_worker(redis_server: RedisServer) -> None:
    import redis.asyncio

    one, two = (redis.asyncio.from_url(redis_server.url) for _ in range(2))
    a = RedisHostLimiter(redis=one, per_host=1, base_backoff_s=30)
    b = RedisHostLimiter(redis=two, per_host=1, base_backoff_s=30)
    try:
        async with a.slot("mx.a.test", "127.0.0.9"):  # a's worker holds the only slot to that address ...
            slots = f"{PREFIX}slots:127.0.0.9"
            assert await b._acquire(keys=[slots], args=["b-token", 1, 60000]) == 0  # ... so b's cannot take one
        assert await b._acquire(keys=[slots], args=["b-token", 1, 60000]) == 1  # released: now it can
        # a worker that dies holding its slot leaves a lease that runs out: make it run out now
        await two.zadd(slots, {"b-token": 1})  # its end, in the past
        async with asyncio.timeout(10):
            async with a.slot("mx.a.test", "127.0.0.9"):
                pass
        await a.observe("mx.a.test", [Reply(421, ("4.7.0 Too many connections, slow down",))], "127.0.0.9")
        assert await b.backoff_of("MX.a.test.") == await b.backoff_of("127.0.0.9") == 30.0  # learnt by a, seen by b
        assert 25 < await b._pause_left_s(["mx.a.test"]) <= 30
        await a.observe("mx.a.test", [Reply(421, ("4.7.0 slow down",))])
        assert await b.backoff_of("mx.a.test") == 60.0  # doubled, as the local limiter does (polite.next_backoff)
        await b.observe("mx.a.test", [Reply(250, ("2.1.5 Ok",))])
        assert await a.backoff_of("mx.a.test") == 0.0
    finally:
        await one.aclose()
        await two.aclose()
