"""What every part of the real-MTA lab shares: how long a daemon may take to listen, the one error a lab start
raises, and the checks that an address and port are free and that a daemon listens (lab.py, its
lab_*.py modules, mailers.py)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT_S = 20.0  # each daemon must listen within this (they take well under a second)
SUBMISSION_PORT = 587  # postfix-submission listens there (RFC 6409), not on the lab's port
# where tests/realmta/install.sh unpacks the MTAs that would replace the machine's own if installed (Exim, Sendmail,
# qpsmtpd; OpenSMTPD under opensmtpd/ of it)
UNPACKED = Path("/opt/smtp-probe-lab")


class LabError(RuntimeError):
    """A lab daemon did not start: one line saying which and why, then its log's last lines."""


def _bindable(ip: str, port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((ip, port))
            except OSError:
                return False
    return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def wait_for_port(name: str, ip: str, port: int, log: Path, process: subprocess.Popen[bytes] | None = None,
                  timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll until `ip`:`port` accepts a connection; LabError (with the log tail) on exit or timeout."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if process is not None and process.poll() is not None:
            raise LabError(f"{name} exited with status {process.returncode} before listening on {ip}:{port}\n"
                           + _tail(log))
        try:
            with socket.create_connection((ip, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise LabError(f"{name} did not listen on {ip}:{port} within {timeout_s:g} s\n" + _tail(log))

