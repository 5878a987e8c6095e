"""CLI helpers: run `main()` in-process and capture its exit code and streams."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
import pytest

from probe.cli import main


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
