"""Every output format from the same report: the exit code always matches what the format says."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from probe.model import DomainStatus, Verdict

CASES = [(DomainStatus.ACCEPTS_MAIL, [Verdict.DELIVERABLE], 0, "OK"),
         (DomainStatus.ACCEPTS_MAIL, [Verdict.RISKY], 1, "WARNING"),
         (DomainStatus.ACCEPTS_MAIL, [Verdict.UNDELIVERABLE], 2, "CRITICAL")]


@pytest.mark.parametrize(("status", "verdicts", "code", "state"), CASES)
def test_nagios_line_matches_exit_code(canned: Any, run_cli: Any, fake_probe: Any, status: DomainStatus,
                                       verdicts: list[Verdict], code: int, state: str) -> None:
    fake_probe(canned(status, verdicts))
    result = run_cli("example.test", "u0@example.test", "--format", "nagios")
    assert result.exit_code == code
    first = result.out.splitlines()[0]
    assert first.startswith(f"SMTP {state} - ") and " | " in first and "time=" in first


@pytest.mark.parametrize(("status", "verdicts", "code", "state"), CASES)
def test_prometheus_file_is_written_atomically_and_parses(canned: Any, run_cli: Any, fake_probe: Any,
                                                          tmp_path: Path, status: DomainStatus,
                                                          verdicts: list[Verdict], code: int, state: str) -> None:
    fake_probe(canned(status, verdicts))
    target = tmp_path / "smtp.prom"
    target.write_text("old\n", encoding="utf-8")
    result = run_cli("example.test", "u0@example.test", "--format", "prometheus", "--output", str(target))
    assert result.exit_code == code and result.out == ""
    assert sorted(os.listdir(tmp_path)) == ["smtp.prom"]  # no temp file left behind
    text = target.read_text(encoding="utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    success = families["probe_success"].samples[0].value
    assert success == (1.0 if code == 0 else 0.0)
    assert families["smtp_probe_exit_code"].samples[0].value == code


def test_junit_has_a_testcase_per_check(canned: Any, run_cli: Any, fake_probe: Any) -> None:
    fake_probe(canned(DomainStatus.ACCEPTS_MAIL, [Verdict.DELIVERABLE, Verdict.UNDELIVERABLE]))
    result = run_cli("example.test", "u0@example.test", "u1@example.test", "--format", "junit")
    assert result.exit_code == 2
    root = ET.fromstring(result.out)
    cases = root.findall(".//testcase")
    assert len(cases) >= 3
    failures = [c for c in cases if c.find("failure") is not None]
    assert any("u1@example.test" in (c.get("name", "") + (c.find("failure").get("message") or ""))  # type: ignore[union-attr]
               for c in failures)
    assert root.find(".//system-out") is not None


def test_unwritable_output_is_one_line_exit_3(canned: Any, run_cli: Any, fake_probe: Any) -> None:
    fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    result = run_cli("example.test", "--format", "prometheus", "--output", "/nonexistent-dir/x.prom")
    assert result.exit_code == 3 and "cannot write" in result.err and result.err.count("\n") == 1
