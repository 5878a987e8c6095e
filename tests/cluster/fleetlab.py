"""The fleet's real parts (fixtures re-exported by conftest.py): a redis-server of its own (loopback, free port, own directory, no persistence)
and `smtp-probe worker` processes, as a person would run them. Skipped, in one line, without them."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server")
                                                 else None)
PASSWORD = "fleet-s3cret-pw"  # every test's broker URL carries it; none may ever print it

try:
    import celery  # noqa: F401
    import redis
except ImportError:  # pragma: no cover - depends on the machine
    redis = None

# Why the fleet tests cannot run here (each test module skips with it, in one line), or None.
MISSING = None if REDIS_SERVER is not None and redis is not None else (
    "cluster tests need redis-server and celery[redis]: apt-get install redis-server; pip install '.[test]'")


def free_ports(count: int) -> list[int]:
    """Loopback ports bound and let go (held together, so they differ): free to listen on, and refusing
    connections until something does."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


@dataclass
class RedisServer:
    port: int
    url: str  # with the password
    process: subprocess.Popen[bytes]

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test only, ready when yielded, stopped after."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    for _attempt in range(5):  # a free port may be taken by another test between bind and listen
        port = free_port()
        process = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
             "--appendonly", "no", "--requirepass", PASSWORD, "--protected-mode", "yes", "--loglevel", "notice"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # ends when the server exits; its log says when it is ready
            lines.append(line)
            if b"Ready to accept connections" in line:
                break
        if process.poll() is None:
            break
        process.wait(10)
        process.stdout.close()
    else:  # pragma: no cover - the machine has no free port
        pytest.fail("redis-server did not start: " + b"".join(lines).decode(errors="replace")[-500:])
    server = RedisServer(port, f"redis://:{PASSWORD}@127.0.0.1:{port}/0", process)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def units(self, event: str) -> set[str]:
        """The ids of the units its log says were `event` ('received', 'succeeded')."""
        return set(re.findall(rf"smtp_probe\.unit\[(\S+)\] {event}", self.text()))


@dataclass
class Fleet:
    redis: RedisServer
    tmp: Path
    workers: list[Worker] = field(default_factory=list)
    broker: str | None = None  # another broker (amqp://...), the Redis keeping politeness and results; else Redis

    def urls(self) -> list[str]:
        """The broker (and Redis) options of `batch` and `worker` for this fleet."""
        return ["--broker", self.broker, "--redis", self.redis.url] if self.broker else ["--broker", self.redis.url]

    async def start_worker(self, *args: str) -> Worker:
        """`smtp-probe worker` on this fleet's broker; returns once Celery says it is ready (bounded)."""
        log = self.tmp / f"worker{len(self.workers)}.log"
        handle = log.open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "probe", "worker", *self.urls(), *args,
            stdin=subprocess.DEVNULL, stdout=handle, stderr=handle)
        handle.close()
        worker = Worker(process, log)
        self.workers.append(worker)
        await until(lambda: " ready." in worker.text() or process.returncode is not None)
        if process.returncode is not None:
            pytest.fail(f"the worker exited {process.returncode}: {worker.text()[-2000:]}")
        return worker

    async def stop(self) -> None:
        for worker in self.workers:
            if worker.process.returncode is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                await asyncio.wait_for(worker.process.wait(), 20)
            except TimeoutError:  # pragma: no cover - a worker stuck in shutdown
                worker.process.kill()
                await worker.process.wait()


@pytest.fixture
async def fleet(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Fleet]:
    fleet = Fleet(redis_server, tmp_path)
    try:
        yield fleet
    finally:
        await fleet.stop()


async def until(condition: Callable[[], object], timeout_s: float = 30, what: str = "") -> None:
    """Bounded wait for a condition that another process makes true (a log line, a queue emptied)."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 -- polls another process's state; no event to await
            await asyncio.sleep(0.05)


async def smtp_probe(*args: str, stdin: bytes = b"", timeout_s: float = 90) -> tuple[int, str, str]:
    """Run the command line in a subprocess (the loop keeps serving the fakes meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "probe", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout_s)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture(autouse=True)
def fqdn_helo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PROBE_HELO", "probe.test")
