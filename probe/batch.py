"""Orchestration for many targets: streamed in, probed concurrently and politely, streamed out.

Input is read lazily, a bounded window of targets is in flight, and results are
written as soon as their turn comes (input order by default), so memory stays
flat however long the input. Consecutive targets of the same domain share one
SMTP session (many RCPT in one transaction). One resolver (with its cache) and
one HostLimiter serve the whole run.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from . import resolve
from .errors import InputError
from .inputs import Address, Target, parse_target
from .model import ExitCode, ProbeOptions, Report
from .polite import HostLimiter

MAX_GROUP = 50  # addresses of one domain put into one session


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
        """Worst probe result; UNKNOWN only when no line could be probed at all."""
        if self.total and self.errors == self.total:
            return int(ExitCode.UNKNOWN)
        return self.worst


def parse_lines(lines: Iterable[str]) -> Iterator[Line]:
    """Targets from text lines: `domain`, `address`, `domain address...`, CSV, or JSON objects.

    Blank lines and `#` comments are skipped; a bad line becomes a Line with `error`.
    """
    for number, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield Line(number, text, target=parse_target(_normalise(stripped)))
        except (InputError, ValueError) as exc:
            yield Line(number, text, error=str(exc))


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


def _error_result(line: Line) -> dict[str, Any]:
    """A line that could not be parsed: the schema's required fields (status null, domain the raw
    input, empty lists), the reason in `error`, exit code 3."""
    return {"schema": "smtp-probe/1", "input": line.raw, "line": line.number, "error": line.error,
            "domain": line.raw, "status": None, "mx": [], "sessions": [], "addresses": [], "findings": [],
            "exit_code": int(ExitCode.UNKNOWN)}


def _groups(lines: Iterator[Line]) -> Iterator[list[Line]]:
    """Consecutive good lines for the same domain form one group (one SMTP session)."""
    group: list[Line] = []
    count = 0
    for line in lines:
        t = line.target
        same = (group and t is not None and group[0].target is not None
                and group[0].target.domain == t.domain and count + len(t.addresses) <= MAX_GROUP)
        if group and not same:
            yield group
            group, count = [], 0
        group.append(line)
        count += len(t.addresses) if t else 0
        if t is None:
            yield group
            group, count = [], 0
    if group:
        yield group


def split_report(report: Report, line: Line, finish: Callable[[Report], None]) -> dict[str, Any]:
    """The part of a shared report that answers one line, as its own JSON object."""
    assert line.target is not None
    wanted = {a.original for a in line.target.addresses}
    own = replace(report, addresses=[a for a in report.addresses if a.address in wanted],
                  input=line.raw)
    finish(own)
    data = own.to_dict()
    data["line"] = line.number
    return data


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
) -> BatchStats:
    """Probe every target; `emit` gets one JSON-ready dict per input line (input order if `ordered`)."""
    from .runner import probe_domain

    if resolver is None:
        resolver = resolve.make_resolver(options.resolvers, timeout_s=options.timeout_s)
    limiter = HostLimiter(per_host=per_host)
    stats = BatchStats()
    window = max(1, concurrency) * 4
    pending: dict[int, asyncio.Task[list[dict[str, Any]]]] = {}
    next_out = 0

    async def work(group: list[Line]) -> list[dict[str, Any]]:
        first = group[0]
        if first.target is None:
            return [_error_result(first)]
        addresses: list[Address] = [a for line in group for a in line.target.addresses]  # type: ignore[union-attr]
        async with sem:
            report = await probe_domain(first.target.domain, addresses, options, resolver=resolver,
                                        limiter=limiter, tls_context_factory=tls_context_factory)
        return [split_report(report, line, finish) for line in group]

    def flush(results: list[dict[str, Any]]) -> None:
        for r in results:
            stats.add(r)
            emit(r)
        if progress:
            progress(stats)

    sem = asyncio.Semaphore(max(1, concurrency))
    groups = (g for g in _groups(line for line in parse_lines(lines) if not skip(line)))
    for index, group in enumerate(groups):
        pending[index] = asyncio.create_task(work(group))
        while len(pending) >= window:
            next_out = await _drain(pending, next_out, ordered, flush, wait_one=True)
    while pending:
        next_out = await _drain(pending, next_out, ordered, flush, wait_one=True)
    return stats


async def _drain(pending: dict[int, asyncio.Task[list[dict[str, Any]]]], next_out: int, ordered: bool,
                 flush: Callable[[list[dict[str, Any]]], None], *, wait_one: bool) -> int:
    """Wait for some work to finish, then write whatever may be written now."""
    if ordered:
        task = pending.get(next_out)
        if task is not None:
            await asyncio.wait({task})
        while next_out in pending and pending[next_out].done():
            flush(pending.pop(next_out).result())
            next_out += 1
        return next_out
    done, _ = await asyncio.wait(set(pending.values()), return_when=asyncio.FIRST_COMPLETED)
    for key in [k for k, t in pending.items() if t in done]:
        flush(pending.pop(key).result())
    return next_out


def end_with_newline(path: str) -> None:
    """Before appending to a --resume file: finish a line cut short by an interrupted run, so the
    next result starts on its own line (the fragment stays an unparsable line, done again)."""
    try:
        with open(path, "rb+") as handle:
            if handle.seek(0, 2) == 0:
                return
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
    except FileNotFoundError:
        pass


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
