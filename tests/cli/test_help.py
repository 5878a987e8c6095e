"""Help and README (issue 12 item 9): every option and variable documented where a user looks, in 80 columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest

from probe.cli.main import cli
from probe.model import Context
from probe.run.blocklists import DEFAULT_DNSBL_ZONES

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["--help", "probe", "batch", "explain", "self-check", "demo", "worker"])
def test_help_fits_80_columns(run_cli: Any, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli(command) if command == "--help" else run_cli(command, "--help")
    assert result.exit_code == 0 and result.out
    assert [line for line in result.out.splitlines() if len(line) > 80] == []


def test_every_option_is_in_the_readme() -> None:
    ctx = click.Context(cli)  # every command, each loaded from its module (the group imports them when named)
    commands = {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}
    assert set(commands) == {"probe", "explain", "batch", "self-check", "demo", "worker"}
    missing = [f"{name} {opt}" for name, command in commands.items() if command for param in command.params
               for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--") and opt not in README]
    assert missing == []


def test_help_names_variables_defaults_and_families(run_cli: Any) -> None:
    main = " ".join(run_cli("--help").out.split())
    for variable in ("SMTP_PROBE_HELO", "SMTP_PROBE_FROM", "NO_COLOR", "COLUMNS"):
        assert variable in main and f"`{variable}`" in README
    probe = " ".join(run_cli("probe", "--help").out.split())
    assert "env var: SMTP_PROBE_HELO" in probe and "env var: SMTP_PROBE_FROM" in probe
    assert all(zone in probe and zone in README for zone in DEFAULT_DNSBL_ZONES)
    assert "A host with no IPv4 address, or none that accepts a connection, is tried over IPv6 instead" in probe
    check = " ".join(run_cli("self-check", "--help").out.split())
    assert "--timeout SECONDS Limit for each DNS lookup" in check and all(z in check for z in DEFAULT_DNSBL_ZONES)
    explain = " ".join(run_cli("explain", "--help").out.split())
    assert all(c.value in explain and f"`{c.value}`" in README for c in Context)
    batch = " ".join(run_cli("batch", "--help").out.split())
    assert '"addresses"' in batch and '"target", "address"' in batch and "header (skipped)" in batch
