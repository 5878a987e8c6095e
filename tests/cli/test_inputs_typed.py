"""Inputs a person types (issue 12 item 6) and bad input in JSON (item 4): one clear line, exit 3,
nothing sent; the JSON of a run that could not run has the schema's nulls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from probe.model import DomainStatus, Verdict


@pytest.mark.parametrize(("target", "said"), [
    ("http://example.com/", "looks like a URL, not a mail domain; give just the domain, e.g. smtp-probe example.com"),
    ("example.com:25", "looks like HOST:PORT, not a mail domain; to probe that host on that port use "
                       "--mx example.com:25"),
])
def test_url_or_host_port_target_says_what_to_type(run_cli: Any, fake_probe: Any, canned: Any, target: str,
                                                    said: str) -> None:
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    result = run_cli(target)
    assert result.exit_code == 3 and calls == []
    assert said in result.err and "codepoint" not in result.err and len(result.err.splitlines()) == 1


@pytest.mark.parametrize(("args", "said"), [
    (["--expect", "deliverable", "example.test"], "--expect deliverable judges addresses, but none was given"),
    (["--expect", "accepts-mail", "--expect", "no-mail", "example.test"],
     "--expect accepts-mail and --expect no-mail contradict each other"),
    (["--expect", "deliverable", "--expect", "undeliverable", "a@example.test"],
     "--expect deliverable and --expect undeliverable contradict each other"),
])
def test_impossible_expectations_are_usage_errors_before_any_connection(run_cli: Any, fake_probe: Any,
                                                                         canned: Any, args: list[str],
                                                                         said: str) -> None:
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    result = run_cli(*args)
    assert result.exit_code == 3 and calls == [], "refused before the probe ran"
    assert result.err == f"smtp-probe: {said}" + result.err.split(said, 1)[1]
    assert len(result.err.splitlines()) == 1


def test_trailing_dot_in_an_address_domain_is_accepted(run_cli: Any, fake_probe: Any, canned: Any) -> None:
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, [Verdict.DELIVERABLE]))
    result = run_cli("user@example.test.")
    assert result.exit_code != 3, result.err
    domain, addresses, _options = calls[0]
    assert domain == "example.test" and addresses[0].smtp_form == "user@example.test"


def test_bad_domain_in_json_is_a_usage_error_with_the_schemas_nulls(run_cli: Any, validate_report: Any) -> None:
    result = run_cli("--json", "bad..domain")
    assert result.exit_code == 3
    data = json.loads(result.out)
    validate_report(data)
    assert data["status"] is None and data["error"] and "empty label" in data["error"]
    assert data["mx"] == data["sessions"] == data["addresses"] == data["findings"] == []
    assert "started_at" not in data and data["exit_code"] == 3 and data["input"] == "bad..domain"
    assert data["summary"] == f"bad..domain: probe could not run: {data['error']}"


def test_bad_domain_in_text_says_nothing_was_sent(run_cli: Any) -> None:
    result = run_cli("--format", "junit", "bad..domain")
    assert "DNS ERROR" not in result.out and "COULD NOT RUN" in result.out
    assert 'name="status" value="could_not_run"' in result.out
