"""Edge, process set-up: the methods that @dataclass writes, compiled once per installation, not at every start.

The dataclasses module writes each method it generates (__init__, __repr__, __eq__, a frozen class's
__setattr__ and __delattr__ ...) as source text and compiles it with exec() when the class is defined, at
every import. For the ~50 dataclasses a probe loads (its own and dnspython's) that parsing and compiling was
about a sixth of a probe's CPU time (callgrind: 180M of 1,024M instructions). The text depends only on the
class's definition, so its code object can be kept, as a .pyc keeps a module's: `install()` gives the
dataclasses module an exec of its own (a module global, found before the builtin) that looks each text up
among the code objects compiled before, compiling only a text it has not seen, exactly as exec() compiles
it ("<string>", no inherited __future__ flags); `save()` stores them, marshalled, in __pycache__ (or the
user's cache where that cannot be written: probe.caches), in a file named for the interpreter's exact
version (not under PYTHONDONTWRITEBYTECODE). The classes are the same; a missing, stale, unreadable or
unwritable cache only costs the time. For the probe's own process (python -m probe, the smtp-probe script):
a program that uses probe as a library keeps dataclasses as it is.
"""

import builtins
import dataclasses
import marshal
import os
import sys
from types import CodeType
from typing import Any

from probe import caches

NAME = f"dataclass-methods.{sys.implementation.cache_tag}.{sys.hexversion:x}.marshal"
HERE = os.path.dirname(os.path.abspath(__file__))
MAX_TEXTS = 2000  # past this many (classes edited over time), a save keeps only the texts this run used


class CompilingOnce:
    """exec() for the dataclasses module: a source text's code object compiled once, then reused."""

    def __init__(self, known: dict[str, CodeType]) -> None:
        self.known = known
        self.used: set[str] = set()
        self.added = False

    def __call__(self, source: Any, globals: dict[str, Any] | None = None,
                 locals: dict[str, Any] | None = None, /) -> None:
        if globals is None:  # exec() in the dataclasses module would run in that module's namespace
            globals = vars(dataclasses)
        if isinstance(source, str):
            code = self.known.get(source)
            if code is None:
                code = self.known[source] = compile(source, "<string>", "exec", dont_inherit=True)
                self.added = True
            self.used.add(source)
            source = code
        builtins.exec(source, globals, locals)


def _places(path: str | None) -> tuple[tuple[caches.Place, ...], str]:
    """(where the cache is, its file name): this package's places, or the one file `path` (for tests)."""
    if path is None:
        return caches.places(HERE), NAME
    directory, name = os.path.split(path)
    return (caches.Place(directory),), name


def _decode(data: bytes) -> dict[str, CodeType]:
    known = marshal.loads(data)  # corrupt: any error marshal raises makes caches.load skip it
    if not isinstance(known, dict) or not all(isinstance(k, str) and isinstance(v, CodeType)
                                              for k, v in known.items()):
        raise ValueError("not a dataclass methods cache")
    return known


def install(path: str | None = None) -> CompilingOnce:
    """From now on the dataclasses module compiles through the cache (read now): in __pycache__, and in the
    user's cache (both read: a run that cannot write __pycache__ keeps what it adds in the user's), or `path`."""
    found, name = _places(path)
    known: dict[str, CodeType] = {}
    for place in found:
        known.update(caches.load((place,), name, _decode) or {})
    compiler = CompilingOnce(known)
    setattr(dataclasses, "exec", compiler)  # noqa: B010 - a module global that shadows the builtin
    return compiler


def save(compiler: CompilingOnce, path: str | None = None) -> None:
    """The texts compiled since `install` added to the cache (in the first place that can take it, or
    `path`); caches of other interpreters' versions are removed. Like a .pyc, nothing is written under
    PYTHONDONTWRITEBYTECODE. Never raises."""
    if not compiler.added or sys.dont_write_bytecode:
        return
    known = compiler.known
    if len(known) > MAX_TEXTS:
        known = {text: known[text] for text in compiler.used}
    found, name = _places(path)
    prefix = name.split(".", 1)[0] + "."
    try:
        data = marshal.dumps(known)
    except ValueError:
        return
    caches.store(found, name, data, lambda old: old.startswith(prefix) and old.endswith(".marshal"))
