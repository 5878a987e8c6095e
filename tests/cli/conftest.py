"""CLI helpers: run `main()` in-process and capture its exit code and streams."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
import pytest

import probe.cli.probe
from probe.cli.main import main
from probe.model import AddressResult, DomainStatus, MxHost, ProbeOptions, Reason, Report, Verdict


@pytest.fixture(autouse=True)
def fqdn_helo(monkeypatch: pytest.MonkeyPatch) -> None:
    """A HELO name for every CLI run (in-process and subprocess): this machine may have no dotted name,
    and then the fallback warning line would be on stderr. test_helo_fallback_is_said tests it."""
    monkeypatch.setenv("SMTP_PROBE_HELO", "probe.test")


@dataclass
class Result:
    exit_code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 3)
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def report_schema() -> dict[str, Any]:
    text = resources.files("probe").joinpath("schema/report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.fixture
def validate_report(report_schema: dict[str, Any]) -> Callable[[Any], None]:
    def validate(data: Any) -> None:
        jsonschema.Draft202012Validator(report_schema).validate(data)

    return validate


def canned(status: DomainStatus, verdicts: list[Verdict], reason: Reason = Reason.ACCEPTED) -> Report:
    report = Report(domain="example.test", status=status, reason=reason,
                    mx=[MxHost("mx.example.test", 10, ["127.0.0.1"])], started_at="2026-11-29T00:00:00Z")
    for i, v in enumerate(verdicts):
        r = {Verdict.DELIVERABLE: Reason.ACCEPTED, Verdict.RISKY: Reason.GREYLISTED,
             Verdict.UNDELIVERABLE: Reason.USER_UNKNOWN, Verdict.UNKNOWN: Reason.NETWORK_ERROR}[v]
        report.addresses.append(AddressResult(f"u{i}@example.test", v, r, 250, None, "m", "r"))
    return report


@pytest.fixture
def fake_probe(monkeypatch: pytest.MonkeyPatch) -> Callable[[Report], list[Any]]:
    calls: list[Any] = []

    def install(report: Report) -> list[Any]:
        def fake(domain: str, addresses: list[Any], options: ProbeOptions) -> Report:
            calls.append((domain, addresses, options))
            return report

        monkeypatch.setattr(probe.cli.probe, "_run_probe", fake)
        return calls

    return install


@pytest.fixture(name="canned")
def canned_fixture() -> Callable[..., Report]:
    """Build a canned Report: canned(status, verdicts, reason=...)."""
    return canned
