"""`--help`, `--version` and `explain` stay light: no DNS, SMTP, TLS or asyncio stack is imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEAVY = ("dns", "asyncio", "ssl", "aiosmtpd", "cryptography", "email_validator", "probe.smtp.wire", "probe.smtp.session",
         "probe.run.probe", "probe.dns.resolve")


# Runs the command as the smtp-probe script does, then reports every module in sys.modules on stderr's last
# line. `python -X importtime` would not do: it logs only the `import` statement's path, not modules loaded
# through importlib.import_module (how the command line loads its commands, probe.cli.main._COMMANDS).
# A stand-in without a spec (probe.dns.loading's importlib.metadata, loaded only when read) is not a module
# that was imported.
REPORT_MODULES = """
import sys
sys.argv = ["smtp-probe", *sys.argv[1:]]
try:
    from probe.__main__ import run
    run()
finally:
    loaded = sorted(name for name, module in list(sys.modules.items()) if getattr(module, "__spec__", None))
    print("\\nmodules: " + " ".join(loaded), file=sys.stderr, flush=True)
"""


def loaded_modules(stderr: str) -> set[str]:
    """The modules REPORT_MODULES found loaded when the command ended."""
    last = stderr.rstrip("\n").rsplit("\n", 1)[-1]
    assert last.startswith("modules: "), stderr[-2000:]
    return set(last.removeprefix("modules: ").split())


def imported_modules(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", REPORT_MODULES, *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return loaded_modules(proc.stderr)


def test_the_module_report_sees_a_module_loaded_through_import_module() -> None:
    """What python -X importtime missed: the worker command's module, loaded by name when named."""
    proc = subprocess.run([sys.executable, "-c", REPORT_MODULES, "worker", "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "probe.cli.cluster" in loaded_modules(proc.stderr)


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("explain", "252"), ("explain", "252", "521"),
                                  ("explain", "--context", "RCPT", "550 5.1.1 user unknown")])
def test_light_commands_do_not_import_the_network_stack(args: tuple[str, ...]) -> None:
    modules = imported_modules(*args)
    assert "probe.cli.main" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)
    assert loaded == []
    if args != ("--help",):  # --help lists every command, with its first line
        assert "probe.cli.cluster" not in modules  # `worker` is loaded when named


async def probe_imports(*args: str) -> set[str]:
    """The modules a probe run imports (REPORT_MODULES), run against loopback servers."""
    import asyncio

    process = await asyncio.create_subprocess_exec(sys.executable, "-c", REPORT_MODULES, *args,
                                                   stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode in (0, 1, 2), err.decode()[-2000:]  # 2: e.g. no SMTPUTF8 for a Unicode address
    return loaded_modules(err.decode())


REVERSE_ZONE = "$ORIGIN 127.in-addr.arpa.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\n1.0.0 PTR mx.test.\n"


async def test_a_probe_imports_certificate_parsing_and_address_checks_only_when_it_needs_them(
        tmp_path: Path) -> None:
    from probe.testing.certs import TestCA
    from probe.testing.fakedns import FakeDNS
    from probe.testing.fakesmtp import FakeSMTP

    ca = TestCA(tmp_path)
    async with FakeDNS({"127.in-addr.arpa.": REVERSE_ZONE}) as dns_server, FakeSMTP() as plain, \
            FakeSMTP(tls_context=ca.server_context(ca.issue(["mx.test"]))) as secure:
        common = ["--resolver", f"127.0.0.1:{dns_server.port}", "--no-tls-policies", "--json", "--helo", "p.test"]
        domain_only = await probe_imports("example.test", "--mx", f"127.0.0.1:{plain.port}", *common)
        address = await probe_imports("a@example.test", "--mx", f"127.0.0.1:{plain.port}", *common)
        unicode_address = await probe_imports("用户@example.test", "--mx", f"127.0.0.1:{plain.port}", *common)
        with_tls = await probe_imports("a@example.test", "--mx", f"127.0.0.1:{secure.port}", *common)
    assert "probe.run.probe" in domain_only and "email_validator" not in domain_only
    assert "email_validator" not in address  # a plain ASCII address is checked without it
    assert "email_validator" in unicode_address
    assert not any(m.startswith("cryptography") for m in domain_only | address)  # no certificate: not loaded
    assert "cryptography.x509" in with_tls
    assert not any(m in ("probe.tls.mtasts", "http.client") for m in domain_only | address | with_tls)
    # dnspython without its package-metadata scan and the idna tables (probe.dns.loading)
    assert not any(m in ("importlib.metadata", "idna", "zipfile") for m in domain_only | address | with_tls)
    assert "probe.cli.cluster" not in domain_only | address | with_tls  # the worker command: loaded when named


def test_a_probe_runs_without_cyclic_collection_a_batch_with_it_and_main_restores_it(
        run_cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import gc

    import probe.cli.main
    import probe.cli.probe
    import probe.run.batch
    from probe.errors import ProbeError

    seen: dict[str, bool] = {}

    def probe_run(*_args: Any) -> Any:
        seen["probe"] = gc.isenabled()
        raise ProbeError("stopped here")

    async def batch_run(*_args: Any, **_kw: Any) -> Any:
        seen["batch"] = gc.isenabled()
        raise ProbeError("stopped here")

    monkeypatch.setattr(probe.cli.probe, "_run_probe", probe_run)
    monkeypatch.setattr(probe.run.batch, "run_batch", batch_run)
    targets = tmp_path / "targets.txt"
    targets.write_text("example.test\n")
    assert gc.isenabled()
    assert run_cli("example.test", "--mx", "127.0.0.1").exit_code == 3
    assert gc.isenabled()  # main() gives the process back as it found it
    assert gc.get_freeze_count() == 0  # nothing left frozen either
    assert run_cli("batch", str(targets)).exit_code == 3
    assert seen == {"probe": False, "batch": True}
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # what the batch froze is given back too
    with pytest.raises(SystemExit):  # the console entry point leaves it off: the process ends
        probe.cli.main.console(["--version"])
    assert not gc.isenabled()
    assert gc.get_freeze_count() > 0  # frozen: the interpreter's collection at exit walks none of it
    gc.unfreeze()
    gc.enable()


COLLECTOR_WHEN_LOADED = """
import gc, sys

class Watch:  # reports the collector's state when the command line's module is looked for
    def find_spec(self, name, path=None, target=None):
        if name == "probe.cli.main":
            print("collector on" if gc.isenabled() else "collector off", flush=True)
        return None

sys.meta_path.insert(0, Watch())
sys.argv = ["smtp-probe", "--version"]
from probe.__main__ import run
run()
"""


def test_the_entry_point_loads_the_command_line_with_the_collector_off() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "smtp-probe"]
    assert script.value == "probe.__main__:run"  # the installed script goes through it too, not only -m
    proc = subprocess.run([sys.executable, "-c", COLLECTOR_WHEN_LOADED], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0] == "collector off"
