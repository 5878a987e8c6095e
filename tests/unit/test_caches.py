"""The caches of the parsed catalogue and of the dataclass methods' code (probe.caches): beside the bytecode, or,
where the package folder cannot be written (installed by root, a read-only image), in the user's cache folder;
nowhere when neither can be written, at the cost of time only."""

from __future__ import annotations

import builtins
import dataclasses
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import probe.diagnosis.catalogue as catalogue
from probe import caches
from probe.cli import generated
from probe.diagnosis.catalogue.parsing import parse

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534


@pytest.fixture
def read_only_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The package's __pycache__ folders cannot be made or written (they would be inside a plain file, which
    stops root too); the user's cache is `<tmp>/xdg/smtp-probe`. Returns that cache folder."""
    blocker = tmp_path / "read-only"
    blocker.write_text("a file, not a folder\n")
    monkeypatch.setattr(caches, "bytecode_dir", lambda package_dir: str(blocker / "__pycache__"))
    monkeypatch.delenv(caches.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "xdg" / "smtp-probe"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the rules are parsed and a TOML file is parsed (not read from a cache)."""
    count = {"rules": 0, "toml": 0}
    parse_rules = catalogue._parse_package_rules

    def counted_rules() -> Any:
        count["rules"] += 1
        return parse_rules()

    def counted_parse(text: str, filename: str) -> Any:
        count["toml"] += 1
        return parse(text, filename)

    monkeypatch.setattr(catalogue, "_parse_package_rules", counted_rules)
    monkeypatch.setattr(catalogue, "parse", counted_parse)
    return count


def files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.is_file()) if folder.exists() else iter(())


def test_a_read_only_package_keeps_its_caches_in_the_users_cache_folder(
        read_only_package: Path, builds: dict[str, int], capfd: pytest.CaptureFixture[str]) -> None:
    rules = catalogue._package_rules()[0]
    assert builds["rules"] == 1
    assert catalogue._package_rules()[0] == rules  # read back from the user's cache, not parsed again
    assert builds["rules"] == 1
    codes = catalogue._package_doc("codes.toml")
    toml = builds["toml"]
    assert catalogue._package_doc("codes.toml") == codes and builds["toml"] == toml
    stored = sorted(str(p.relative_to(read_only_package)) for p in files(read_only_package))
    installation = stored[0].split(os.sep)[0]  # one folder for this installation: interpreter and package path
    assert installation.startswith(sys.implementation.cache_tag + "-")
    catalogue_dir = os.path.join(installation, "diagnosis", "catalogue")
    assert any(s.startswith(os.path.join(catalogue_dir, "rules.")) and s.endswith(".pickle") for s in stored)
    assert any(s.startswith(os.path.join(catalogue_dir, "codes.toml.")) for s in stored)
    for folder in (read_only_package, read_only_package / installation, read_only_package / catalogue_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert capfd.readouterr() == ("", "")


def test_a_corrupt_entry_in_the_users_cache_is_rebuilt_silently(
        read_only_package: Path, builds: dict[str, int], capfd: pytest.CaptureFixture[str]) -> None:
    rules = catalogue._package_rules()[0]
    [entry] = [p for p in files(read_only_package) if p.name.startswith("rules.") and p.suffix == ".pickle"]
    entry.write_bytes(b"not a pickle")
    assert catalogue._package_rules()[0] == rules and builds["rules"] == 2
    assert entry.read_bytes() != b"not a pickle"  # written again
    assert catalogue._package_rules()[0] == rules and builds["rules"] == 2
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("where", ["file", "relative", "no home", "dev null"])
def test_with_no_cache_folder_it_only_costs_time(where: str, read_only_package: Path, builds: dict[str, int],
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    before = sorted(tmp_path.rglob("*"))
    if where == "file":  # XDG_CACHE_HOME is a plain file
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "read-only"))
    elif where == "relative":  # ignored, as the XDG specification says: then ~/.cache, whose home is missing
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    elif where == "no home":  # a home directory is never made
        monkeypatch.delenv("XDG_CACHE_HOME")
    else:
        monkeypatch.setenv(caches.ENV, os.devnull)
    rules = catalogue._package_rules()[0]
    assert catalogue._package_rules()[0] == rules and builds["rules"] == 2
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere
    assert capfd.readouterr() == ("", "")


def test_the_package_folder_comes_first_and_the_override_replaces_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builds: dict[str, int]) -> None:
    beside, user, override = tmp_path / "pycache", tmp_path / "xdg", tmp_path / "override"
    monkeypatch.setattr(caches, "bytecode_dir", lambda package_dir: str(beside))
    monkeypatch.setenv("XDG_CACHE_HOME", str(user))
    monkeypatch.delenv(caches.ENV, raising=False)
    catalogue._package_rules()
    assert any(p.name.startswith("rules.") for p in files(beside)) and not user.exists()
    monkeypatch.setenv(caches.ENV, str(override))
    catalogue._package_rules()  # the override's folder is empty: built again
    assert builds["rules"] == 2
    assert any(p.name.startswith("rules.") for p in files(override)) and not user.exists()
    catalogue._package_rules()
    assert builds["rules"] == 2


def test_two_installations_or_interpreters_never_share_a_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    first = caches._user_dir(None, "/cache", None)
    monkeypatch.setattr(caches, "PACKAGE", "/elsewhere/site-packages/probe")
    second = caches._user_dir(None, "/cache", None)
    monkeypatch.setattr(sys.implementation, "cache_tag", "cpython-399")
    third = caches._user_dir(None, "/cache", None)
    assert first and second and third and len({first[0], second[0], third[0]}) == 3
    assert all(os.path.dirname(d) == os.path.join("/cache", "smtp-probe") and m == "/" for d, m in (first, second))


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="owners are POSIX")
def test_files_in_the_users_cache_are_read_only_if_they_are_its_own(tmp_path: Path) -> None:
    place = caches.Place(str(tmp_path / "cache"), str(tmp_path))
    assert caches.write(place, "entry", b"data")
    entry = tmp_path / "cache" / "entry"
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert caches.read(place, "entry") == b"data"
    entry.chmod(0o620)  # another user could have written it
    assert caches.read(place, "entry") is None
    assert caches.read(caches.Place(place.directory), "entry") == b"data"  # beside the bytecode: as a .pyc is
    entry.chmod(0o600)
    os.symlink(entry, tmp_path / "cache" / "link")
    assert caches.read(place, "link") is None
    if IS_ROOT:
        os.chown(entry, NOBODY, NOBODY)
        assert caches.read(place, "entry") is None


@pytest.mark.skipif(not IS_ROOT, reason="needs a folder owned by another user")
def test_no_cache_is_made_in_another_users_folder(tmp_path: Path) -> None:
    """Root run with another user's HOME (sudo keeping HOME) neither makes folders there nor writes into one of
    theirs: the next runs of that user would find folders they cannot use, or files they did not write."""
    home = tmp_path / "alice"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    place = caches.Place(str(home / ".cache" / "smtp-probe" / "x"), str(home))
    assert not caches.write(place, "entry", b"data") and not (home / ".cache").exists()
    theirs = home / ".cache"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    assert not caches.write(caches.Place(str(theirs), str(home)), "entry", b"data")
    assert list(theirs.iterdir()) == []
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chown(shared, NOBODY, NOBODY)
    shared.chmod(0o1777)  # sticky, as /tmp: a folder of one's own may be made in it
    assert caches.write(caches.Place(str(shared / "mine"), str(tmp_path)), "entry", b"data")


def test_the_dataclass_methods_cache_falls_back_to_the_users_folder(
        read_only_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataclasses, "exec", builtins.exec, raising=False)  # undone after the test
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    compiler = generated.install()

    @dataclasses.dataclass
    class Pair:
        a: int

    assert compiler.added
    generated.save(compiler)
    [entry] = [p for p in files(read_only_package) if p.name == generated.NAME]
    assert entry.parent.name == "cli"
    again = generated.install()
    assert again.known.keys() == compiler.known.keys()


def test_the_command_line_with_a_cache_folder_that_cannot_be_made_says_the_same(tmp_path: Path) -> None:
    """SMTP_PROBE_CACHE_DIR: the caches there, one folder per installation; pointing into a plain file, the
    same output and nothing on stderr."""
    reply = "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table"
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(cache_dir: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "probe", "explain", reply], capture_output=True, text=True,
                              timeout=60, check=False, env={**env, caches.ENV: str(cache_dir), "COLUMNS": "80"})

    first, second, blocked = run(tmp_path / "cache"), run(tmp_path / "cache"), run(blocker / "cache")
    assert first.returncode == second.returncode == blocked.returncode == 0, blocked.stderr[-2000:]
    assert first.stdout == second.stdout == blocked.stdout and "user_unknown" in first.stdout.replace(" ", "_")
    assert first.stderr == second.stderr == blocked.stderr == ""
    stored = {str(p.relative_to(tmp_path / "cache")).split(os.sep, 1)[1] for p in files(tmp_path / "cache")}
    assert any(s.startswith(os.path.join("diagnosis", "catalogue", "rules.")) for s in stored)
    assert os.path.join("cli", generated.NAME) in stored
