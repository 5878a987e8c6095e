"""Evidence: benchmarks/bench_accuracy.py shows the sealed part only when asked (--sealed), so that the view
used while tuning cannot show it by accident."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from probe.testing.corpus import Labelled

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_accuracy.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_accuracy_under_test", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    asked: list[Labelled] = []

    def ours(e: Labelled) -> str:
        asked.append(e)
        return "unknown"

    monkeypatch.setattr(module, "_ours", ours)
    module.asked = asked
    return module


def _run(bench, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", ["bench_accuracy.py", *args])
    assert bench.main() == 0


def test_without_sealed_no_sealed_entry_is_classified_or_printed(bench, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _run(bench, monkeypatch, "--by", "reason,source,context", "--misses", "dev")
    assert bench.asked and not any(e.sealed for e in bench.asked)
    assert "sealed" not in capsys.readouterr().out.replace("--sealed adds the sealed part", "")


def test_sealed_adds_the_sealed_part(bench, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _run(bench, monkeypatch, "--sealed", "--by", "reason")
    assert any(e.sealed for e in bench.asked)
    assert "dev - sealed" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--misses", "sealed"], ["--misses", "all"], ["--corpus-at", "HEAD"]])
def test_what_shows_sealed_entries_needs_sealed(bench, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                args: list[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["bench_accuracy.py", *args])
    with pytest.raises(SystemExit) as stop:
        bench.main()
    assert stop.value.code == 2
    assert not bench.asked
