"""`--help`, `--version` and `explain` stay light: no DNS, SMTP, TLS or asyncio stack is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("dns", "asyncio", "ssl", "aiosmtpd", "cryptography", "email_validator", "probe.wire", "probe.session",
         "probe.runner", "probe.resolve")


def imported_modules(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "probe", *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("explain", "252"), ("explain", "252", "521"),
                                  ("explain", "--context", "RCPT", "550 5.1.1 user unknown")])
def test_light_commands_do_not_import_the_network_stack(args: tuple[str, ...]) -> None:
    modules = imported_modules(*args)
    assert "probe.cli" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)
    assert loaded == []
