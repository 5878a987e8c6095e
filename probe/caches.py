"""Where the caches of parsed data and generated code live, and how their files are read and written.

A cache belongs to a package folder (`probe/diagnosis/catalogue`, `probe/cli`) and is kept next to its
bytecode, in its `__pycache__`, like a .pyc. Where that folder cannot be written or read (installed by root
and run by a user, a read-only image), the user's cache folder takes it: `$XDG_CACHE_HOME/smtp-probe`
(`~/.cache/smtp-probe`), on Windows `%LOCALAPPDATA%\\smtp-probe\\Cache`, in one folder per installation
named for the package's path and the interpreter, so that two installations (two versions side by side,
two virtual environments) never share an entry; within it, as in __pycache__, the callers' keys (the sizes
and times of the data files and of the modules that build from them, the Python version) tell an upgrade
in place. `SMTP_PROBE_CACHE_DIR` (an absolute path) replaces both places; `/dev/null` there turns the
caches off.

The user's folders are made 0700, and only inside a folder the user owns (or a sticky one such as /tmp);
files are written there only into a folder the user owns, read back only if the user owns them and no
one else may write them (a pickle is code: root run with a user's HOME reads none of that user's files).
A cache that cannot be read or written only costs the time: nothing here raises or prints.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from typing import TypeVar

ENV = "SMTP_PROBE_CACHE_DIR"
PACKAGE = os.path.dirname(os.path.abspath(__file__))  # the probe package: one user folder per installation
T = TypeVar("T")


class Place:
    """A folder caches are read from and written to. `made_in`: for a folder of the user's cache, the folder
    that must already exist (what is missing below it is made 0700); None beside the bytecode."""

    __slots__ = ("directory", "made_in")

    def __init__(self, directory: str, made_in: str | None = None) -> None:
        self.directory = directory
        self.made_in = made_in

    @property
    def private(self) -> bool:
        """In the user's cache: folders made 0700, files read only if the user's own."""
        return self.made_in is not None

    def __repr__(self) -> str:
        return f"Place({self.directory!r}, {self.made_in!r})"


def bytecode_dir(package_dir: str) -> str:
    """The package folder's own cache folder, beside its bytecode."""
    return os.path.join(package_dir, "__pycache__")


def places(package_dir: str, sub: str = "") -> tuple[Place, ...]:
    """Where the caches of `package_dir` (a folder of the probe package; `sub`: a folder inside its cache)
    are looked for, in order, and written (in the first that takes them)."""
    environ = os.environ
    return _places(package_dir, sub, bytecode_dir(package_dir), environ.get(ENV) or None,
                   environ.get("XDG_CACHE_HOME"), environ.get("LOCALAPPDATA"), environ.get("HOME"))


@cache
def _places(package_dir: str, sub: str, beside: str, override: str | None, xdg: str | None, local: str | None,
            home: str | None) -> tuple[Place, ...]:
    """`places`, for the given environment (`home`: HOME, which `os.path.expanduser` reads)."""
    found = [] if override else [Place(os.path.join(beside, sub) if sub else beside)]
    user = _user_dir(override, xdg, local)
    try:
        relative = os.path.relpath(package_dir, PACKAGE)
    except ValueError:  # another drive
        relative = os.pardir
    if user is not None and not relative.startswith(os.pardir):
        directory, made_in = user
        found.append(Place(os.path.normpath(os.path.join(directory, relative, sub)), made_in))
    return tuple(found)


def _user_dir(override: str | None, xdg: str | None, local: str | None) -> tuple[str, str] | None:
    """(this installation's folder in SMTP_PROBE_CACHE_DIR or the user's cache, the folder that must exist
    for it to be made), or None when there is no absolute path for it."""
    if override is not None:
        base, made_in = override, os.path.dirname(override)
    elif os.name == "nt":
        local = local or os.path.expanduser(r"~\AppData\Local")
        base, made_in = os.path.join(local, "smtp-probe", "Cache"), local
    else:  # a relative XDG_CACHE_HOME is ignored, as the XDG base directory specification says
        home = xdg if xdg and os.path.isabs(xdg) else os.path.expanduser(os.path.join("~", ".cache"))
        base, made_in = os.path.join(home, "smtp-probe"), os.path.dirname(home)
    if not os.path.isabs(base):  # no home directory, or a relative SMTP_PROBE_CACHE_DIR
        return None
    tag = sys.implementation.cache_tag
    digest = 0xCBF29CE484222325  # FNV-1a, 64 bits: no module to import for a hash of a few dozen bytes
    for byte in f"{PACKAGE}\0{tag}".encode("utf-8", "surrogateescape"):
        digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return os.path.join(base, f"{tag}-{digest:016x}"), made_in


def _mine(st: os.stat_result) -> bool:
    """A plain file owned by this process's user and writable by no one else (owners only where there are)."""
    geteuid = getattr(os, "geteuid", None)
    return stat.S_ISREG(st.st_mode) and (geteuid is None or (
        st.st_uid == geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)))


def read(place: Place, name: str) -> bytes | None:
    """The file's bytes, or None when it is missing or unreadable or, in a private place, not the user's own
    plain file (not a link, not a pipe that would block)."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    if place.private:
        flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(os.path.join(place.directory, name), flags)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    try:
        with open(fd, "rb") as fh:
            if place.private and not _mine(os.fstat(fd)):
                return None
            return fh.read()
    except OSError:
        return None


def load(found: tuple[Place, ...], name: str, decode: Callable[[bytes], T]) -> T | None:
    """`decode` of the first of `found`'s files named `name` that it accepts (raising anything rejects it)."""
    for place in found:
        data = read(place, name)
        if data is not None:
            try:
                return decode(data)
            except Exception:  # a stale or corrupt cache (any error a codec raises) is rebuilt
                pass
    return None


def _make_private(place: Place) -> bool:
    """The place's folder made where missing (each folder 0700, only below `made_in`, and only inside one the
    user owns or a sticky one such as /tmp): True if it is then a folder the user owns."""
    directory, limit = place.directory, os.path.normpath(place.made_in or "")
    missing: list[str] = []
    path = directory
    while True:
        try:
            st = os.stat(path)
            break
        except FileNotFoundError:
            if path == limit or os.path.dirname(path) == path:
                return False  # the home directory, the cache's parent, is not ours to make
            missing.append(path)
            path = os.path.dirname(path)
    geteuid = getattr(os, "geteuid", None)
    if missing:
        if not stat.S_ISDIR(st.st_mode) or (geteuid is not None and st.st_uid != geteuid()
                                            and not st.st_mode & stat.S_ISVTX):
            return False
        for folder in reversed(missing):
            with suppress(FileExistsError):
                os.mkdir(folder, 0o700)
        st = os.stat(directory)
    return stat.S_ISDIR(st.st_mode) and (geteuid is None or st.st_uid == geteuid())


def write(place: Place, name: str, data: bytes, stale: Callable[[str], bool] = lambda _: False) -> bool:
    """`data` stored as `name` in `place`, atomically, and the files `stale` names there removed; False
    when the place cannot take it."""
    directory = place.directory
    try:
        if place.private:
            if not _make_private(place):
                return False
        else:
            os.makedirs(directory, exist_ok=True)
        for old in os.listdir(directory):  # caches of earlier versions
            if old != name and stale(old):
                os.remove(os.path.join(directory, old))
        path = os.path.join(directory, name)
        tmp = f"{path}.{os.getpid()}.tmp"
        with suppress(FileNotFoundError):
            os.remove(tmp)  # left by a process of the same id that died
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o600 if place.private else 0o666)
        try:
            with open(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with suppress(OSError):
                os.remove(tmp)
            raise
    except (OSError, ValueError):  # read-only, not a folder, a NUL in the path: this place cannot take it
        return False
    return True


def store(found: tuple[Place, ...], name: str, data: bytes, stale: Callable[[str], bool] = lambda _: False) -> None:
    """`data` written to the first of `found` that takes it (see `write`)."""
    for place in found:
        if write(place, name, data, stale):
            return
