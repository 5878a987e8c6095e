"""benchmarks/bench_learn_from_dev.py: words learned from labelled replies reach the learned tier, and go again."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from probe.diagnosis.catalogue import default
from probe.diagnosis.classifier import classify
from probe.testing.corpus import Labelled

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_learn_from_dev.py"


@pytest.fixture
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_learn_from_dev_under_test", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.learn_with(default(), ())  # the package's own learned words again, for every later test


def _reply(i: int) -> Labelled:
    return Labelled(f"learn-{i}", "f", "the frobnicated account", "bounce", None, "mailbox_disabled", False,
                    f"https://example.org/source-{i % 2}")


def test_words_learned_from_replies_decide_and_the_package_words_come_back(bench: ModuleType) -> None:
    text = "Delivery failed: frobnicated"  # a word no catalogue text holds: nothing decides it
    assert classify(text, "bounce").reason.value == "unknown"
    package = len(default().learned.words)
    bench.learn_with(default(), [_reply(i) for i in range(8)])
    assert default().learned.words["frobnicated"].reason.value == "mailbox_disabled"
    diagnosis = classify(text, "bounce")
    assert diagnosis.reason.value == "mailbox_disabled"
    assert diagnosis.decided_by is not None and diagnosis.decided_by.by == "learned"
    assert bench.score([_reply(0)]) == (1, 1)
    assert bench.learn_with(default(), ()) == package
    assert classify(text, "bounce").reason.value == "unknown"


def test_labels_words_never_give_are_not_learned_from(bench: ModuleType) -> None:
    accepted = [Labelled(f"ok-{i}", "f", "250 frobnicated", "RCPT", None, "accepted", False, f"s{i % 2}")
                for i in range(8)]
    assert bench.learn_with(default(), accepted) == len(default().learned.words)
    sys.modules.pop("bench_learn_from_dev_under_test", None)
