"""A RabbitMQ node of the fleet tests' own (fixture re-exported by conftest.py): Debian's rabbitmq-server started
as a private node, never the system service. Everything is on loopback and in a temporary folder:

- AMQP on 127.0.0.1 at a free port, Erlang distribution on 127.0.0.1 at another (inet_dist_use_interface), and an epmd of its own (started here, in
  the foreground, on 127.0.0.1 at a third free port: ERL_EPMD_ADDRESS / ERL_EPMD_PORT), so neither the
  machine's epmd (4369) nor its RabbitMQ (5672) is used or disturbed;
- a unique node name (probe-<random>@localhost), its database, logs, configuration, enabled plugins (none)
  and Erlang cookie (HOME) in the folder; /etc/rabbitmq/rabbitmq-env.conf is not read
  (RABBITMQ_CONF_ENV_FILE points to an empty file);
- its user, password and vhost made at first boot by rabbitmq.conf (default_user, default_pass,
  default_vhost, default_permissions): no guest user, no rabbitmqctl call.

Ready when its AMQP port accepts connections and its log says the startup is complete (bounded: 90 s, else the
test fails with the log's tail); stopped by SIGTERM (the start script stops the node cleanly), then its process
group and the epmd are killed, leaving nothing running. Skipped, in one line, where rabbitmq-server is missing
or the tests do not run as root (the CI installs the Debian package as root; see .ci/run).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleetlab import free_ports

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the Debian package's start script (no su wrapper)
EPMD = shutil.which("epmd") or ("/usr/bin/epmd" if os.path.exists("/usr/bin/epmd") else None)
USER = "probe"
PASSWORD = "rabbit-s3cret-pw"  # in every test's broker URL; none may ever print it
VHOST = "probe-fleet"
START_S = 90.0  # a cold start takes about 5 s idle on 2 cores; much more on a loaded machine

# Why the RabbitMQ tests cannot run here (one line), or None.
RABBIT_MISSING = (
    "RabbitMQ tests need rabbitmq-server (apt-get install rabbitmq-server) and root" if not (
        os.path.exists(RABBITMQ_SERVER) and EPMD is not None and hasattr(os, "geteuid") and os.geteuid() == 0)
    else None)


@dataclass
class RabbitServer:
    port: int
    url: str  # amqp://USER:PASSWORD@127.0.0.1:PORT/VHOST
    log: Path  # the node's log file
    node: str

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the start script (it stops the node cleanly), then the whole process group, bounded."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):  # a node stuck in shutdown: killed below
            process.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the VM and its helpers, if any is left
    if process.poll() is None:  # pragma: no cover
        process.wait(10)


def _start(folder: Path) -> tuple[RabbitServer, subprocess.Popen[bytes], subprocess.Popen[bytes]] | str:
    """One attempt: the node and its epmd, ready; or why not (its log's tail)."""
    amqp_port, dist_port, epmd_port = free_ports(3)
    node = f"probe-{secrets.token_hex(4)}@localhost"
    home, base, logs = folder / "home", folder / "mnesia", folder / "log"
    for path in (home, base, logs):
        path.mkdir(parents=True, exist_ok=True)
    (folder / "rabbitmq-env.conf").write_text("", encoding="utf-8")
    (folder / "enabled_plugins").write_text("[].\n", encoding="utf-8")
    (folder / "rabbitmq.conf").write_text(
        f"default_user = {USER}\ndefault_pass = {PASSWORD}\ndefault_vhost = {VHOST}\n"
        "default_permissions.configure = .*\ndefault_permissions.read = .*\ndefault_permissions.write = .*\n",
        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    env.update(
        HOME=str(home),  # its own Erlang cookie: HOME/.erlang.cookie, made at first start
        RABBITMQ_CONF_ENV_FILE=str(folder / "rabbitmq-env.conf"), RABBITMQ_NODENAME=node,
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(amqp_port), RABBITMQ_DIST_PORT=str(dist_port),
        RABBITMQ_MNESIA_BASE=str(base), RABBITMQ_LOG_BASE=str(logs), RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq.conf"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(folder / "enabled_plugins"), RABBITMQ_PID_FILE=str(folder / "node.pid"),
        ERL_EPMD_ADDRESS="127.0.0.1", ERL_EPMD_PORT=str(epmd_port),
        # the Erlang distribution listener on loopback too (by default it listens on every interface)
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
    output = (folder / "server.out").open("wb")
    epmd = subprocess.Popen([str(EPMD), "-address", "127.0.0.1", "-port", str(epmd_port)], env=env,
                            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    process = subprocess.Popen([RABBITMQ_SERVER], env=env, cwd=folder, stdin=subprocess.DEVNULL, stdout=output,
                               stderr=subprocess.STDOUT, start_new_session=True)
    output.close()
    server = RabbitServer(amqp_port, f"amqp://{USER}:{PASSWORD}@127.0.0.1:{amqp_port}/{VHOST}",
                          logs / f"{node}.log", node)
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None or epmd.poll() is not None:
            break
        if _accepts(amqp_port) and "Server startup complete" in server.log_tail(100_000):
            return server, process, epmd
        time.sleep(0.1)
    why = (f"rabbitmq-server did not start in {START_S:g} s (exit {process.poll()}, epmd {epmd.poll()}):\n"
           + (folder / "server.out").read_text(encoding="utf-8", errors="replace")[-1500:] + "\n" + server.log_tail())
    _stop(process)
    epmd.kill()
    epmd.wait(10)
    return why


@pytest.fixture(scope="module")
def rabbitmq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitServer]:
    """A RabbitMQ node for this test module only, ready when yielded, stopped after (nothing left running)."""
    why = ""
    for attempt in range(3):  # a free port may be taken between the check and the node's listen
        started = _start(tmp_path_factory.mktemp(f"rabbitmq{attempt}"))
        if not isinstance(started, str):
            break
        why = started
    else:
        pytest.fail(why)
    server, process, epmd = started
    try:
        yield server
    finally:
        _stop(process)
        epmd.kill()
        epmd.wait(10)
