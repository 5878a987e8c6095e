"""`smtp-probe batch --broker` on real Celery workers and a real Redis: the same output as a local batch,
politeness across workers, nothing lost when a worker is killed, and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import PASSWORD, Fleet, smtp_probe

from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

DOMAINS = [f"d{i}" for i in range(8)]
ZONE = "$ORIGIN f.test.\n@ SOA ns.f.test. h.f.test. 1 3600 600 86400 60\nmx A 127.0.0.1\nnullmx MX 0 .\n" + "".join(
    f"{d} MX 10 mx\n" for d in DOMAINS)
TARGETS = "".join(f"{d}.f.test alice@{d}.f.test\nbob@{d}.f.test\n" for d in DOMAINS) + "nullmx.f.test\nbad\x01line\n"
_CATCH_ALL = re.compile(r"smtp-probe-[a-z0-9]{12}@")  # the random catch-all local part of each run
_VARYING = {"elapsed_ms", "started_at", "finished_at", "elapsed_s", "duration_ms", "t_ms", "ms", "at"}


def common(dns: FakeDNS, smtp: FakeSMTP) -> list[str]:
    return ["--resolver", f"127.0.0.1:{dns.port}", "--port", str(smtp.port), "--timeout", "5", "--deadline", "20",
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
