"""Edge I/O: write a rendered report to stdout or, atomically, to a file. Knows nothing of formats.

A Prometheus textfile collector (or any reader) must never see half a file, so a
path is written to a temporary file in the same directory, flushed, fsynced and
renamed over the target with os.replace (atomic on POSIX within one filesystem).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys


def write_output(text: str, path: str | None) -> None:
    """Write `text` to stdout (path None or "-") or atomically replace the file at `path`.

    Characters the output cannot encode (lone surrogates from undecodable server bytes, or
    anything a non-UTF-8 stdout lacks) are written as backslash escapes, never an exception.
    The new file keeps the mode of the file it replaces, or gets 0666 minus the umask
    (what open() would give), so a collector running as another user can still read it.
    Raises OSError when the directory is not writable; the previous file is then intact.
    """
    if path is None or path == "-":
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
        sys.stdout.flush()
        return
    target = os.path.abspath(path)
    directory, name = os.path.split(target)
    temp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never follow or reuse someone else's file; 0o666 lets the umask decide, like open()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        previous = _existing_mode(target)
        if previous is not None:
            os.chmod(temp, previous)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _existing_mode(target: str) -> int | None:
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return None


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable where the platform allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
