"""Evidence: benchmarks/bench_accuracy.py --sisimai asks the installed Sisimai, and maps every reason it can give.

Skipped where Sisimai (Debian: libsisimai-perl) is not installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from probe.model import Reason
from probe.testing.corpus import Labelled

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_accuracy.py"


def _has_sisimai() -> bool:
    if shutil.which("perl") is None:
        return False
    return subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True, check=False).returncode == 0


pytestmark = pytest.mark.skipif(not _has_sisimai(), reason="Sisimai (libsisimai-perl) not installed")


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_accuracy"] = module
    spec.loader.exec_module(module)
    return module


def _entry(i: int, text: str, context: str, host: str | None = None) -> Labelled:
    return Labelled(id=f"t-{i}", file="t", text=text, context=context, host=host, expect="unknown",
                    misleading=False, source="test")


def test_every_reason_sisimai_knows_maps_to_a_spec_reason() -> None:
    bench = _bench()
    out = subprocess.run(["perl", "-MSisimai::Reason", "-e", 'print join("\\n", @{Sisimai::Reason->index})'],
                         capture_output=True, text=True, check=True).stdout
    known = {r.lower() for r in out.split()} | {"delivered"}
    assert known <= set(bench.SISIMAI_REASONS), sorted(known - set(bench.SISIMAI_REASONS))
    assert set(bench.SISIMAI_REASONS.values()) <= {r.value for r in Reason}


def test_sisimai_gives_its_own_verdict_per_line() -> None:
    bench = _bench()
    corpus = [
        _entry(0, "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table",
               "RCPT"),
        _entry(1, "452 4.2.2 <someone@example.org>: Mailbox full", "RCPT"),
        _entry(2, "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "RCPT"),
        _entry(3, "no code and no known words", "bounce"),
    ]
    assert bench._sisimai(corpus) == {
        "t-0": "user_unknown", "t-1": "mailbox_full", "t-2": "blocklisted", "t-3": "unknown",
    }
