"""The methods @dataclass writes are compiled once per installation (probe.cli.generated), and the classes
are the same as without the cache."""

from __future__ import annotations

import builtins
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from probe.cli import generated

SCRIPT = """
import dataclasses, sys
from probe.cli import generated

compiled = []
sys.addaudithook(lambda event, args: compiled.append(1) if event == "compile"
                 and isinstance(args[0], (str, bytes)) and b"__create_fn__" in (
                     args[0] if isinstance(args[0], bytes) else args[0].encode()) else None)
cached = sys.argv[1] != "plain"
if cached:
    compiler = generated.install(sys.argv[1])

@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    tags: tuple = ()
    notes: list = dataclasses.field(default_factory=list, compare=False)

p = Point(1, ("a",))
try:
    p.x = 2
    frozen = "mutable"
except dataclasses.FrozenInstanceError:
    frozen = "frozen"
print(len(compiled) > 0)
print(repr(p), p == Point(1, ("a",)), p == Point(2), hash(p) == hash(Point(1, ("a",))), frozen, Point(3).notes,
      Point.__init__.__annotations__, Point.__init__.__code__.co_filename)
if cached:
    generated.save(compiler, sys.argv[1])
"""


def run(arg: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, arg], capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.splitlines()


def test_generated_methods_are_compiled_once_and_the_class_is_the_same(tmp_path: Path) -> None:
    cache = str(tmp_path / "pycache" / "dataclass-methods.test.marshal")
    plain = run("plain")
    first, second = run(cache), run(cache)
    assert first[0] == "True"  # compiled, then stored
    assert second[0] == "False"  # taken from the cache: nothing compiled
    assert first[1:] == second[1:] == plain[1:]  # repr, eq, hash, frozen, defaults, annotations: unchanged
    assert "{'x': <class 'int'>" in plain[1]  # annotations as objects: no __future__ flag was inherited


def test_a_corrupt_or_unwritable_cache_only_costs_the_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataclasses, "exec", builtins.exec, raising=False)  # undone after the test
    cache = tmp_path / "dataclass-methods.x.marshal"
    cache.write_bytes(b"\x00not marshal")
    compiler = generated.install(str(cache))

    @dataclasses.dataclass
    class Pair:
        a: int
        b: str = "b"

    assert Pair(1) == Pair(1, "b") and repr(Pair(2)) == "test_a_corrupt_or_unwritable_cache_only_costs_the_" \
        "compile.<locals>.Pair(a=2, b='b')"
    assert compiler.added
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    generated.save(compiler, str(cache))  # PYTHONDONTWRITEBYTECODE: nothing written, as for a .pyc
    assert cache.read_bytes() == b"\x00not marshal"
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    generated.save(compiler, str(blocked / "sub" / "cache.marshal"))  # a directory that cannot be made: ignored
    generated.save(compiler, str(cache))
    assert generated.install(str(cache)).known.keys() == compiler.known.keys()


def test_the_command_line_compiles_no_dataclass_method_once_the_cache_is_written() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    script = ("import sys\ncount = []\nsys.addaudithook(lambda e, a: count.append(1) if e == 'compile' and "
              "isinstance(a[0], str) and '__create_fn__' in a[0] else None)\nimport atexit\n"
              "atexit.register(lambda: print('compiled', len(count)))\n"
              "sys.argv = ['smtp-probe', 'explain', '550']\nfrom probe.__main__ import run\nrun()\n")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                           env=env) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    assert runs[1].stdout.splitlines()[-1] == "compiled 0"
