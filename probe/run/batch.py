"""Orchestration for many targets: streamed in, probed concurrently and politely, streamed out.

Input is read lazily, a bounded window of targets is in flight, and results are
written as soon as their turn comes (input order by default), so memory stays
flat however long the input. Targets of the same domain within the window share
one unit of work (probe.run.bulk: one MX walk, many RCPT per transaction), and each
line's result speaks of that line's targets only. One resolver (with its cache)
and one HostLimiter serve the whole run.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from probe.dns import resolve
from probe.errors import InputError
from probe.inputs import Target, parse_target
from probe.model import ExitCode, ProbeOptions, Report, could_not_run_dict
from probe.run.bulk import probe_unit
from probe.smtp.polite import HostLimiter

# Addresses of one domain asked in one unit (its sessions): RFC 5321 §4.5.3.1.8 has servers accept at
# least 100 recipients per transaction; a server that takes fewer says 452 and the session goes on in a
# new transaction (probe.smtp.session).
MAX_GROUP = 100
WINDOW = 1000  # lines read ahead and held at most (their results wait for the oldest to be written)

# Probes one JSON unit (see probe.run.bulk), returns one JSON result per line: here, or on a fleet (probe.cluster).
UnitRunner = Callable[[dict[str, Any]], Awaitable[list[dict[str, Any]]]]


@dataclass
class Line:
    """One input line: its number, the raw text, and the target or the reason it is unusable."""

    number: int
    raw: str
    target: Target | None = None
    error: str | None = None


@dataclass
class BatchStats:
    total: int = 0
    errors: int = 0
    skipped: int = 0  # lines already answered in the --resume file
    by_exit: dict[int, int] = field(default_factory=dict)
    worst: int = 0

    def add(self, result: dict[str, Any]) -> None:
        self.total += 1
        code = int(result.get("exit_code", 3))
        self.by_exit[code] = self.by_exit.get(code, 0) + 1
        if "error" in result and result.get("status") is None:
            self.errors += 1
        else:
            self.worst = max(self.worst, code)

    @property
    def exit_code(self) -> int:
        """Worst probe result; UNKNOWN when no line could be probed at all (an input without a single
        target included), unless every target was already answered (--resume)."""
        if (self.total and self.errors == self.total) or (self.total == 0 and self.skipped == 0):
            return int(ExitCode.UNKNOWN)
        return self.worst


def parse_lines(lines: Iterable[str]) -> Iterator[Line]:
    """Targets from text lines: `domain`, `address`, `domain address...`, CSV, or JSON objects.

    Blank lines, `#` comments and a CSV header line ("domain,address") are skipped; a bad line
    becomes a Line with `error`.
    """
    first = True
    for number, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield Line(number, text, target=parse_target(_normalise(stripped)))
        except (InputError, ValueError) as exc:
            if not (first and _is_header(stripped)):
                yield Line(number, text, error=str(exc))
        first = False


_HEADER_WORDS = frozenset({"domain", "domains", "address", "addresses", "email", "e-mail", "email address",
                           "mail", "mailbox", "recipient", "recipients", "target", "targets", "user", "host"})


def _is_header(text: str) -> bool:
    """A CSV header row: plain column names, at least one of them a name a target column would have."""
    cells = [c.strip().strip('"').strip().lower() for c in text.replace("\t", ",").split(",")]
    cells = [c for c in cells if c]
    return bool(cells) and all(c.replace("_", " ").replace("-", " ").replace(" ", "").isalnum() for c in cells) \
        and any(c.replace("_", " ") in _HEADER_WORDS for c in cells)


def _normalise(text: str) -> str:
    """JSON Lines and CSV rows become the plain `domain address...` form."""
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise InputError("a JSON line must be an object like {\"domain\": ..., \"addresses\": [...]}")
        words = [obj.get("domain") or obj.get("target") or ""]
        addresses = obj.get("addresses") or ([obj["address"]] if obj.get("address") else [])
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise InputError("\"addresses\" must be a list of strings")
        words = [w for w in [*words, *addresses] if isinstance(w, str) and w]
        if not words:
            raise InputError("the JSON object names no domain, target or address")
        return " ".join(words)
    if "," in text:  # a CSV row, quoted cells ("t.test","u@t.test") included
        row = next(csv.reader(io.StringIO(text), skipinitialspace=True), [])
        cells = [cell.strip() for cell in row if cell.strip()]
        if cells:
            return " ".join(cells)
    elif text.startswith('"') and text.endswith('"') and len(text) > 1:
        return text[1:-1].strip()  # one quoted cell
    return text


def error_result(line: Line) -> dict[str, Any]:
    """A line that could not be parsed: the schema's required fields (status null, domain the raw
    input, empty lists), the reason in `error`, exit code 3."""
    return {**could_not_run_dict(line.raw, line.error or "unusable line"), "line": line.number}


@dataclass
class _Slot:
    """One line read and not yet written: its result, once its unit has finished."""

    line: Line
    result: dict[str, Any] | None = None


@dataclass
class _Unit:
    """Lines of one domain waiting to be probed together (see probe.run.bulk)."""

    domain: str
    slots: list[_Slot] = field(default_factory=list)
    count: int = 0  # addresses, over all its lines

    def as_json(self) -> dict[str, Any]:
        return {"domain": self.domain,
                "lines": [{"line": s.line.number, "input": s.line.raw,
                           "addresses": [a.original for a in s.line.target.addresses]}  # type: ignore[union-attr]
                          for s in self.slots]}


async def run_batch(
    lines: Iterable[str],
    options: ProbeOptions,
    emit: Callable[[dict[str, Any]], None],
    *,
    finish: Callable[[Report], None],
    concurrency: int = 10,
    per_host: int = 1,
    ordered: bool = True,
    skip: Callable[[Line], bool] = lambda line: False,
    progress: Callable[[BatchStats], None] | None = None,
    resolver: Any | None = None,
    tls_context_factory: Any | None = None,
    window: int = WINDOW,
    run_unit: UnitRunner | None = None,
) -> BatchStats:
    """Probe every target; `emit` gets one JSON-ready dict per input line (input order if `ordered`).

    At most `window` lines are held (read and not yet written). While every worker is busy, lines
    keep being read into one unit per domain; a free worker takes the unit of the oldest line waiting
    (a unit holds at most MAX_GROUP addresses), so the addresses of a domain share sessions.
    `run_unit` probes a unit elsewhere (a fleet of workers); by default it is probed here, with one
    resolver and one HostLimiter for the whole run.
    """
    if run_unit is None:
        run_unit = _local_runner(options, finish, per_host, resolver, tls_context_factory)
    stats = BatchStats()
    held: deque[_Slot] = deque()  # every line read and not yet written, in input order
    waiting: dict[str, _Unit] = {}  # domain -> its unit not yet started (oldest line first)
    running: dict[asyncio.Task[list[dict[str, Any]]], _Unit] = {}
    def unanswered(line: Line) -> bool:
        if skip(line):
            stats.skipped += 1
            return False
        return True

    source = (line for line in parse_lines(lines) if unanswered(line))
    exhausted = False

    def write(slot: _Slot) -> None:
        assert slot.result is not None
        stats.add(slot.result)
        emit(slot.result)

    def write_ready() -> None:
        written = False
        if ordered:
            while held and held[0].result is not None:
                write(held.popleft())
                written = True
        else:
            for slot in [s for s in held if s.result is not None]:
                held.remove(slot)
                write(slot)
                written = True
        if written and progress:
            progress(stats)

    def start(unit: _Unit) -> None:
        task = asyncio.ensure_future(run_unit(unit.as_json()))
        running[task] = unit

    while True:
        while not exhausted and len(held) < max(1, window):
            line = next(source, None)
            if line is None:
                exhausted = True
                break
            slot = _Slot(line)
            held.append(slot)
            if line.target is None:
                slot.result = error_result(line)
                continue
            key = line.target.domain
            unit = waiting.get(key)
            if unit is not None and unit.count + len(line.target.addresses) > MAX_GROUP:
                start(waiting.pop(key))  # full: it goes now, a new unit gathers what follows
                unit = None
            if unit is None:
                unit = waiting[key] = _Unit(key)
            unit.slots.append(slot)
            unit.count += len(line.target.addresses)
        while waiting and len(running) < max(1, concurrency):
            start(waiting.pop(next(iter(waiting))))  # dicts keep insertion order: the oldest line's unit
        write_ready()
        if not running:
            if exhausted and not waiting:
                break
            continue
        done, _ = await asyncio.wait(set(running), return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            unit = running.pop(task)
            for slot, result in zip(unit.slots, task.result(), strict=True):
                slot.result = result
    write_ready()
    return stats


def _local_runner(options: ProbeOptions, finish: Callable[[Report], None], per_host: int, resolver: Any | None,
                  tls_context_factory: Any | None) -> UnitRunner:
    if resolver is None:
        resolver = resolve.make_resolver(options.resolvers, timeout_s=options.timeout_s)
    limiter = HostLimiter(per_host=per_host)

    async def run(unit: dict[str, Any]) -> list[dict[str, Any]]:
        return await probe_unit(unit, options, finish=finish, resolver=resolver, limiter=limiter,
                                tls_context_factory=tls_context_factory)

    return run


def drop_cut_line(path: str) -> int:
    """Before appending to a --resume file: remove a last line cut short by an interrupted run (no
    newline at the end, or not a JSON object), so the file stays valid JSON Lines; its target is not
    among the answered ones and is probed again. Returns the bytes dropped (0: nothing to repair)."""
    try:
        with open(path, "rb+") as handle:
            size = handle.seek(0, 2)
            if size == 0:
                return 0
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
            start = size - len(tail)
            cut = tail.rfind(b"\n", 0, len(tail) - 1) + 1  # where the last line starts within tail
            last = tail[cut:]
            if _is_result(last):
                if not last.endswith(b"\n"):
                    handle.write(b"\n")  # whole, only its newline missing
                return 0
            if cut == 0 and start > 0:  # a last line longer than the tail: find its start the slow way
                cut, start = _line_start(handle), 0
            handle.truncate(start + cut)
            return size - (start + cut)
    except FileNotFoundError:
        return 0


_TAIL_BYTES = 1 << 20


def _is_result(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def _line_start(handle: Any) -> int:
    """Offset where the last line of the file starts (for a line longer than _TAIL_BYTES)."""
    handle.seek(0)
    position = start = 0
    for raw in iter(handle.readline, b""):
        start, position = position, position + len(raw)
    return start


def answered_inputs(path: str) -> set[tuple[int, str]]:
    """(line number, raw input) pairs already answered in a previous output (for --resume)."""
    seen: set[tuple[int, str]] = set()
    try:
        with open(path, encoding="utf-8") as handle:
            for text in handle:
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interrupted run is simply done again
                if isinstance(obj, dict) and "line" in obj and "input" in obj:
                    seen.add((int(obj["line"]), str(obj["input"])))
    except FileNotFoundError:
        pass
    return seen
