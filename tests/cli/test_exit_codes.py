"""Exit codes are an interface (SPEC.md): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""

from __future__ import annotations

from typing import Any

import pytest

import probe
from probe.model import DomainStatus, Reason, Verdict


@pytest.mark.parametrize(
    ("status", "verdicts", "code"),
    [
        (DomainStatus.ACCEPTS_MAIL, [], 0),
        (DomainStatus.ACCEPTS_MAIL, [Verdict.DELIVERABLE], 0),
        (DomainStatus.ACCEPTS_MAIL, [Verdict.DELIVERABLE, Verdict.RISKY], 1),
        (DomainStatus.ACCEPTS_MAIL, [Verdict.UNDELIVERABLE], 2),
        (DomainStatus.DOES_NOT_ACCEPT_MAIL, [], 2),
        (DomainStatus.UNREACHABLE, [], 2),
        (DomainStatus.NO_SUCH_DOMAIN, [], 2),
    ],
)
def test_report_decides_exit_code(canned: Any, run_cli: Any, fake_probe: Any, validate_report: Any,
                                  status: DomainStatus, verdicts: list[Verdict], code: int) -> None:
    fake_probe(canned(status, verdicts))
    args = ["example.test"] + [f"u{i}@example.test" for i in range(len(verdicts))]
    result = run_cli(*args, "--json")
    assert result.exit_code == code, result.err
    assert result.json["exit_code"] == code
    validate_report(result.json)


def test_expectation_flips_exit_code(canned: Any, run_cli: Any, fake_probe: Any) -> None:
    fake_probe(canned(DomainStatus.DOES_NOT_ACCEPT_MAIL, [], Reason.NOT_ACCEPTING_MAIL))
    assert run_cli("parked.example.test", "--expect", "no-mail").exit_code == 0
    assert run_cli("parked.example.test", "--expect", "accepts-mail").exit_code == 2


def test_address_target_takes_domain_from_address(canned: Any, run_cli: Any, fake_probe: Any) -> None:
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, [Verdict.DELIVERABLE]))
    run_cli("User@Example.TEST", "--helo", "probe.example.net")
    domain, addresses, options = calls[0]
    assert domain == "example.test"
    assert [a.original for a in addresses] == ["User@Example.TEST"]
    assert options.helo == "probe.example.net"
    assert options.mail_from == ""


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("probe",),
        ("--no-such-option", "example.test"),
        ("--port", "0", "example.test"),
        ("--format", "xml", "example.test"),
        ("exa\rmple.test",),
        ("example.test", "--helo", "x\r\nMAIL FROM:<a@b.test>"),
        ("example.test", "a@b.test>\r\nDATA"),
        ("example.test", "--from", "bad\x00@example.test"),
        ("example.test", "--expect", "sunshine"),
        ("example.test", "--mx", "mx.example.test:99999"),
        ("explain", "999"),
        ("explain", "--context", "TELEPORT", "550 x"),
    ],
)
def test_bad_usage_and_input_exit_3_with_one_line(canned: Any, run_cli: Any, fake_probe: Any, args: tuple[str, ...]) -> None:
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    result = run_cli(*args)
    assert result.exit_code == 3
    assert calls == []  # nothing was probed, nothing sent
    assert "Traceback" not in result.err + result.out
    if args:
        assert result.err.strip(), "an error line on stderr"
        assert "\r" not in result.err and "\x00" not in result.err


def test_help_and_version_exit_0(run_cli: Any) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    assert "smtp-probe DOMAIN [ADDRESS ...]" in result.out
    assert "3 UNKNOWN" in result.out
    version = run_cli("--version")
    assert version.exit_code == 0 and probe.__version__ in version.out


def test_text_output_has_no_colour_when_not_a_terminal(canned: Any, run_cli: Any, fake_probe: Any) -> None:
    fake_probe(canned(DomainStatus.ACCEPTS_MAIL, [Verdict.DELIVERABLE]))
    result = run_cli("example.test", "u0@example.test")
    assert "\x1b[" not in result.out
    assert "ACCEPTS MAIL" in result.out and "DELIVERABLE" in result.out
    forced = run_cli("example.test", "u0@example.test", "--color")
    assert "\x1b[" in forced.out


def test_no_color_env_wins(canned: Any, run_cli: Any, fake_probe: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert "\x1b[" not in run_cli("example.test").out
