"""benchmarks/bench_rule_reach.py: which rules claim another source's words, and never a sealed entry classified."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from probe.diagnosis.catalogue import load
from probe.diagnosis.classifier import classify
from probe.model import Diagnosis
from probe.testing.corpus import Labelled, is_sealed

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_rule_reach.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_rule_reach_under_test", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(sealed: bool, text: str, expect: str) -> Labelled:
    entry_id = next(f"reach-{i}" for i in range(1000) if is_sealed(f"reach-{i}") is sealed)
    return Labelled(entry_id, "f", text, "RCPT", None, expect, False, "s")


def test_a_broad_rule_that_decides_another_sources_phrase_is_reported(bench: ModuleType) -> None:
    rules = ("[[rule]]\nid = 'broad-access-denied'\npatterns = ['access denied']\nreason = 'policy_rejected'\n"
             "meaning = 'm'\nremediation = 'r'\n")
    lexicon = ("language = 'en'\n[[group]]\nreason = 'sender_rejected'\nsource = 'github:owner/repo/file.c'\n"
               "phrases = ['sender access denied']\n")
    claims = bench.phrase_claims(load(rules=rules, lexicon=lexicon))
    assert claims == {"broad-access-denied": [
        ("sender access denied", "sender_rejected", "policy_rejected", "github:owner/repo/file.c")]}
    assert bench.phrase_claims(load(rules=rules.replace("'access denied'", "'(?<!sender )access denied'"),
                                    lexicon=lexicon)) == {}


def test_corpus_losses_never_classify_a_sealed_entry(bench: ModuleType) -> None:
    text = "550 5.1.1 <someone@example.org>: Recipient address rejected: User unknown in local recipient table"
    sealed, dev = _entry(True, text, "policy_rejected"), _entry(False, text, "policy_rejected")
    asked: list[Labelled] = []

    def with_rules(e: Labelled) -> Diagnosis:
        asked.append(e)
        return classify(e.text, e.context)  # a rule decides: user_unknown, against the label

    def without_rules(e: Labelled) -> Diagnosis:
        asked.append(e)
        return classify("550 5.7.1 Access denied by policy", "RCPT")

    losses = bench.corpus_losses([sealed, dev], with_rules, without_rules)
    assert sealed not in asked and dev in asked
    assert [e.id for found in losses.values() for e in found] == [dev.id]
