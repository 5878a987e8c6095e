"""`smtp-probe batch --broker` on real Celery workers and a real Redis: the same output as a local batch,
politeness across workers, nothing lost when a worker is killed, and one-line errors."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP, RcptRequest

from fleetlab import MISSING, PASSWORD, Fleet, free_port, smtp_probe, until

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

DOMAINS = [f"d{i}" for i in range(8)]
ZONE = "$ORIGIN f.test.\n@ SOA ns.f.test. h.f.test. 1 3600 600 86400 60\nmx A 127.0.0.1\nnullmx MX 0 .\n" + "".join(
    f"{d} MX 10 mx\n" for d in DOMAINS)
TARGETS = "".join(f"{d}.f.test alice@{d}.f.test\nbob@{d}.f.test\n" for d in DOMAINS) + "nullmx.f.test\nbad\x01line\n"
_CATCH_ALL = re.compile(r"smtp-probe-[a-z0-9]{12}@")  # the random catch-all local part of each run
_VARYING = {"elapsed_ms", "started_at", "finished_at", "elapsed_s", "duration_ms", "t_ms", "ms", "at"}


def common(dns: FakeDNS, smtp: FakeSMTP, deadline: str = "20") -> list[str]:
    return ["--resolver", f"127.0.0.1:{dns.port}", "--port", str(smtp.port), "--timeout", "3", "--deadline", deadline,
            "--no-tls-policies", "--starttls", "never", "--helo", "probe.f.test"]


def steady(value: Any) -> Any:
    """A result without what differs from one run to the next (times, the random catch-all address)."""
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if k not in _VARYING}
    if isinstance(value, list):
        return [steady(v) for v in value]
    if isinstance(value, str):
        return _CATCH_ALL.sub("smtp-probe-RANDOM@", value)
    return value


async def test_fleet_output_equals_a_local_batch(fleet: Fleet, tmp_path: Path) -> None:
    async with FakeDNS({"f.test.": ZONE}) as dns, FakeSMTP(rcpt={"bob@d3.f.test": "550 5.1.1 no such user"},
                                                          banner_delay_s=0.05) as smtp:
        targets = tmp_path / "targets.txt"
        targets.write_text(TARGETS, encoding="utf-8")
        local = await smtp_probe("batch", str(targets), *common(dns, smtp))
        for _ in range(2):
            await fleet.start_worker("--concurrency", "3", "--visibility-timeout", "60")
        remote = await smtp_probe("batch", str(targets), "--broker", fleet.redis.url, "--progress",
                                  *common(dns, smtp))
    assert remote[0] == local[0] == 2, remote[2]
    mine = [json.loads(line) for line in remote[1].splitlines()]
    theirs = [json.loads(line) for line in local[1].splitlines()]
    assert [r["line"] for r in mine] == list(range(1, len(DOMAINS) * 2 + 3))
    assert steady(mine) == steady(theirs)
    assert mine[7]["addresses"][0]["verdict"] == "undeliverable"  # bob@d3: a worker asked, its answer came back
    summary = remote[2].splitlines()[-1]
    assert summary.startswith(f"smtp-probe batch: {len(mine)} results (") and "0 skipped" in summary
    assert local[2].splitlines()[-1].split(",")[:3] == summary.split(",")[:3]
    assert "done, 1 bad lines" in remote[2]  # the same progress line
    assert PASSWORD not in remote[1] + remote[2] + "".join(w.text() for w in fleet.workers)


async def test_two_workers_never_exceed_per_host_on_one_mx(fleet: Fleet, tmp_path: Path) -> None:
    # eight domains, one mail server: without a fleet-wide limit, 2 workers x 4 would open up to 8 at once
    import redis.asyncio

    from probe.cluster.fleet import RedisHostLimiter

    async with FakeDNS({"f.test.": ZONE}) as dns, FakeSMTP(banner_delay_s=0.2) as smtp:
        for _ in range(2):
            await fleet.start_worker("--concurrency", "4", "--visibility-timeout", "60")
        targets = "".join(f"x@{d}.f.test\n" for d in DOMAINS).encode()
        # Both workers must hold units at once, whatever the broker's timing: while the test holds the
        # mail server's only slot no unit can finish, and a worker reserves at most --concurrency (4) of the
        # 8 units (prefetch 1 per process), so the other worker must take the rest.
        client = redis.asyncio.from_url(fleet.redis.url)
        try:
            async with RedisHostLimiter(redis=client, per_host=1).slot("mx.f.test", "127.0.0.1"):
                batch = asyncio.ensure_future(smtp_probe("batch", "-", "--broker", fleet.redis.url, "--concurrency",
                                                         "8", *common(dns, smtp), stdin=targets))
                await until(lambda: all("received" in w.text() for w in fleet.workers), what="both workers")
                assert not smtp.connections  # the slot held here kept every worker out
        finally:
            await client.aclose()
        code, out, err = await batch
        assert code == 1, err  # catch-all: the fake accepts every address
        assert smtp.most_open == 1 and len(smtp.connections) == len(DOMAINS)

        code, out, err = await smtp_probe("batch", "-", "--broker", fleet.redis.url, "--concurrency", "8",
                                          "--per-host", "2", *common(dns, smtp), stdin=targets)
        assert code == 1 and len(out.splitlines()) == len(DOMAINS), err
        assert smtp.most_open <= 2


@pytest.mark.timeout(180)  # the killed worker's units come back after its --visibility-timeout (10 s)
async def test_a_worker_killed_mid_run_loses_nothing(fleet: Fleet, tmp_path: Path) -> None:
    async with FakeDNS({"f.test.": ZONE}) as dns, FakeSMTP(banner_delay_s=0.5) as smtp:
        first = await fleet.start_worker("--concurrency", "4", "--visibility-timeout", "10", "--slot-lease", "2")
        targets = tmp_path / "targets.txt"
        targets.write_text(TARGETS, encoding="utf-8")
        client = asyncio.ensure_future(smtp_probe(
            "batch", str(targets), "--broker", fleet.redis.url, *common(dns, smtp, deadline="4"), timeout_s=120))
        await until(lambda: smtp.connections)  # the first worker is in a session (the banner takes 0.5 s)
        first.process.kill()  # SIGKILL: no warm shutdown, its units stay unacknowledged
        await first.process.wait()
        taken = first.units("received") - first.units("succeeded")
        assert taken  # it died holding units
        second = await fleet.start_worker("--concurrency", "4", "--visibility-timeout", "10", "--slot-lease", "2")
        code, out, err = await client
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in results] == list(range(1, len(DOMAINS) * 2 + 3)), err  # each line once, in order
    assert code == 2 and [r.get("error") for r in results[:-1]] == [None] * (len(results) - 1)
    assert all(r["status"] == "accepts_mail" for r in results[:-2])
    assert "lost" not in err
    assert taken <= second.units("received")  # given again


async def test_unreachable_or_bad_broker_is_one_line_exit_3(tmp_path: Path) -> None:
    closed = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    for args in (["batch", "-", "--broker", closed], ["worker", "--broker", closed]):
        code, out, err = await smtp_probe(*args, stdin=b"example.com\n", timeout_s=60)
        assert code == 3 and err.count("\n") == 1 and "cannot reach Redis at redis://:***@127.0.0.1" in err, err
        assert PASSWORD not in out + err and not out
    for url in ("http://queue.example:6379/0", f"redis://:{PASSWORD}@127.0.0.1:notaport/0", "redis://"):
        code, out, err = await smtp_probe("batch", "-", "--broker", url, stdin=b"example.com\n")
        assert code == 3 and err.count("\n") == 1 and "is not a usable URL" in err, err
        assert PASSWORD not in out + err


async def test_an_interrupted_client_resumes_and_writes_each_line_once(fleet: Fleet, tmp_path: Path) -> None:
    async with FakeDNS({"f.test.": ZONE}) as dns, FakeSMTP(banner_delay_s=0.2) as smtp:
        await fleet.start_worker("--concurrency", "1", "--visibility-timeout", "60")
        targets = tmp_path / "targets.txt"
        targets.write_text(TARGETS, encoding="utf-8")
        out = tmp_path / "out.jsonl"
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "probe", "batch", str(targets), "--broker", fleet.redis.url, "--resume", str(out),
            *common(dns, smtp), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        await until(lambda: out.exists() and out.read_text(encoding="utf-8").count("\n") >= 2)
        client.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(client.communicate(), 60)
        assert client.returncode == 3 and "interrupted" in err.decode() and PASSWORD not in err.decode()
        first = len(out.read_text(encoding="utf-8").splitlines())
        assert first < len(DOMAINS) * 2 + 2  # cut short
        code, _, err2 = await smtp_probe("batch", str(targets), "--broker", fleet.redis.url, "--resume", str(out),
                                         *common(dns, smtp))
    numbers = [json.loads(line)["line"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(numbers) == list(range(1, len(DOMAINS) * 2 + 3)), err2  # every line, each once
    assert code == 2 and f"{first} skipped as already answered" in err2


async def test_a_worker_connects_from_its_own_source_address(fleet: Fleet) -> None:
    peers: list[str] = []

    def remember(request: RcptRequest) -> None:
        peers.append(request.peer)

    async with FakeDNS({"f.test.": ZONE}) as dns, FakeSMTP(rcpt_policy=remember) as smtp:
        await fleet.start_worker("--source-ip", "127.0.0.7")
        code, _, err = await smtp_probe("batch", "-", "--broker", fleet.redis.url, *common(dns, smtp),
                                        stdin=b"x@d0.f.test\n")
    assert code == 1 and peers and set(peers) == {"127.0.0.7"}, err


async def test_a_bad_worker_proxy_is_one_line_without_its_password(fleet: Fleet) -> None:
    code, _out, err = await smtp_probe("worker", "--broker", fleet.redis.url, "--proxy", "http://u:pr0xypw@h:1")
    assert code == 3 and err.count("\n") == 1 and "pr0xypw" not in err and "only socks5" in err, err
