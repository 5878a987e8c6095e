"""What travels between a batch client and its workers: JSON only, validated on arrival.

A task is one unit of probe.run.bulk (one domain, the addresses of its lines) with how to probe it
(ProbeOptions as a JSON object) and how to judge each line (the --expect texts and the thresholds):

    {"v": 1, "run": "3f2a...", "unit_id": 7, "per_host": 1,
     "unit": {"domain": "example.org", "lines": [{"line": 3, "input": "...", "addresses": ["a@example.org"]}]},
     "options": {"helo": "probe.example.net", "port": 25, ...},
     "judge": {"expect": ["deliverable"], "thresholds": {"warning_s": null, ...}}}

A worker trusts nothing in it: `decode_task` checks every field's type and range and raises
TaskRejected with a one-line reason (the worker logs it and acknowledges the message).
URLs with credentials are shown through `Redactor`, never as given.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from probe.errors import InputError
from probe.model import ProbeOptions

VERSION = 1
MAX_GROUP = 100  # addresses in one unit: probe.run.batch.MAX_GROUP (a worker refuses bigger units)
_RUN_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_USERINFO_PASSWORD = re.compile(r"(://[^/@\s:]*:)[^@\s/]+@")
_THRESHOLDS = {"warning_s": (float, True), "critical_s": (float, True), "cert_warning_days": (int, True),
               "cert_critical_days": (int, True), "starttls_required": (bool, False)}


class TaskRejected(ValueError):
    """A task that cannot be probed; the message is the one-line reason."""


@dataclass(frozen=True)
class Task:
    run: str
    unit_id: int
    unit: dict[str, Any]
    options: ProbeOptions
    expectations: list[Any]  # probe.judge.expect.Expectation
    thresholds: dict[str, Any]
    per_host: int


def results_key(run: str) -> str:
    """The Redis list where the workers push the results of a run (the client pops them)."""
    return f"smtp-probe:results:{run}"


def options_to_json(options: ProbeOptions) -> dict[str, Any]:
    return {f.name: _plain(getattr(options, f.name)) for f in dataclasses.fields(ProbeOptions)}


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


def options_from_json(data: Any) -> ProbeOptions:
    """ProbeOptions from their JSON object; TaskRejected naming the first bad field."""
    if not isinstance(data, dict):
        raise TaskRejected("options: not a JSON object")
    known = {f.name: f for f in dataclasses.fields(ProbeOptions)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise TaskRejected(f"options: unknown field {unknown[0]!r} (a newer client than this worker?)")
    values = {name: _field(name, str(known[name].type), value) for name, value in data.items()}
    options = ProbeOptions(**values)
    if options.starttls not in ("auto", "require", "never"):
        raise TaskRejected(f"options.starttls: {options.starttls!r} is not auto, require or never")
    if not (0 < options.timeout_s <= 600 and 0 < options.deadline_s <= 3600 and 0 <= options.retry_greylist_s <= 3600):
        raise TaskRejected("options: timeout_s, deadline_s or retry_greylist_s out of range")
    if not all(0 < port < 65536 for port in [options.port, *(p for _, p in options.mx + options.resolvers)]):
        raise TaskRejected("options: a port is out of range")
    if options.family not in (None, 4, 6):
        raise TaskRejected("options.family: must be 4, 6 or null")
    return options


def _field(name: str, annotation: str, value: Any) -> Any:
    def bad(what: str) -> TaskRejected:
        return TaskRejected(f"options.{name}: expected {what}")

    if annotation.endswith(" | None"):
        return None if value is None else _field(name, annotation[:-7], value)
    if annotation == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if annotation == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if annotation == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise bad("a number")
        return float(value)
    if annotation == "str":
        if not isinstance(value, str) or len(value) > 1000:
            raise bad("a string")
        return value
    if annotation == "tuple[str, ...]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        return tuple(value)
    if annotation == "tuple[tuple[str, int], ...]":
        if not isinstance(value, list) or not all(
                isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and type(v[1]) is int for v in value):
            raise bad("a list of [host, port] pairs")
        return tuple((h, p) for h, p in value)
    raise TaskRejected(f"options.{name}: this worker cannot read a {annotation}")  # pragma: no cover - new type


def encode_task(run: str, unit_id: int, unit: dict[str, Any], options: ProbeOptions, *, expect: list[str],
                thresholds: dict[str, Any], per_host: int) -> dict[str, Any]:
    return {"v": VERSION, "run": run, "unit_id": unit_id, "per_host": per_host, "unit": unit,
            "options": options_to_json(options), "judge": {"expect": list(expect), "thresholds": thresholds}}


def task_address(payload: Any) -> tuple[str, int] | None:
    """(run, unit_id) of a task, when they can be read: where to send the reason it was rejected."""
    if isinstance(payload, dict):
        run, unit_id = payload.get("run"), payload.get("unit_id")
        if isinstance(run, str) and _RUN_ID.fullmatch(run) and type(unit_id) is int:
            return run, unit_id
    return None


def decode_task(payload: Any) -> Task:
    """A validated Task, or TaskRejected with a one-line reason."""
    from probe.inputs import parse_address
    from probe.judge.expect import parse_expectation

    if not isinstance(payload, dict):
        raise TaskRejected("the task is not a JSON object")
    if payload.get("v") != VERSION:
        raise TaskRejected(f"task version {payload.get('v')!r}, this worker reads version {VERSION}")
    address = task_address(payload)
    if address is None:
        raise TaskRejected("run (letters, digits, '-') or unit_id (an integer) missing or malformed")
    per_host = payload.get("per_host")
    if type(per_host) is not int or not 1 <= per_host <= 16:
        raise TaskRejected("per_host: expected an integer from 1 to 16")
    unit = payload.get("unit")
    if not isinstance(unit, dict) or not isinstance(unit.get("domain"), str) or not isinstance(unit.get("lines"), list):
        raise TaskRejected("unit: expected {\"domain\": ..., \"lines\": [...]}")
    lines = unit["lines"]
    if not lines:
        raise TaskRejected("unit: no lines")
    count = 0
    for line in lines:
        if not (isinstance(line, dict) and type(line.get("line")) is int and isinstance(line.get("input"), str)
                and isinstance(line.get("addresses"), list)
                and all(isinstance(a, str) for a in line["addresses"])):
            raise TaskRejected("unit.lines: each must be {\"line\": int, \"input\": str, \"addresses\": [str]}")
        count += len(line["addresses"])
        try:
            for text in line["addresses"]:
                parse_address(text)
        except InputError as exc:
            raise TaskRejected(f"unit line {line['line']}: {exc}") from None
    if count > MAX_GROUP:
        raise TaskRejected(f"unit: {count} addresses, more than {MAX_GROUP}")
    options = options_from_json(payload.get("options"))
    judge = payload.get("judge")
    if not isinstance(judge, dict) or not isinstance(judge.get("expect"), list) \
            or not isinstance(judge.get("thresholds"), dict):
        raise TaskRejected("judge: expected {\"expect\": [...], \"thresholds\": {...}}")
    try:
        expectations = [parse_expectation(text) for text in judge["expect"]]
    except (InputError, TypeError, AttributeError) as exc:
        raise TaskRejected(f"judge.expect: {exc}") from None
    thresholds = _thresholds(judge["thresholds"])
    return Task(address[0], address[1], unit, options, expectations, thresholds, per_host)


def _thresholds(data: dict[str, Any]) -> dict[str, Any]:
    if set(data) != set(_THRESHOLDS):
        raise TaskRejected(f"judge.thresholds: expected exactly {', '.join(sorted(_THRESHOLDS))}")
    for name, (kind, optional) in _THRESHOLDS.items():
        value = data[name]
        ok = (value is None and optional) or (
            isinstance(value, bool) if kind is bool else
            not isinstance(value, bool) and isinstance(value, int | float) and (kind is float or type(value) is int))
        if not ok:
            raise TaskRejected(f"judge.thresholds.{name}: expected {kind.__name__}{' or null' if optional else ''}")
    return dict(data)


class Redactor:
    """Shows a URL, and any text that may quote it, without its password: redis://:***@host:6379/0."""

    def __init__(self, url: str) -> None:
        self.secrets: list[str] = []
        self.url = url
        try:
            parts = urlsplit(url)
            password = parts.password
        except ValueError:
            self.url = "(an unreadable URL)"  # it might hold a secret in a place urlsplit did not find
            return
        if password:
            self.secrets = sorted({password, unquote(password), quote(unquote(password), safe="")}, key=len,
                                  reverse=True)
            user = parts.netloc.rpartition("@")[0].partition(":")[0]
            self.url = parts._replace(netloc=f"{user}:***@{parts.netloc.rpartition('@')[2]}").geturl()

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _USERINFO_PASSWORD.sub(r"\1***@", text)  # any other URL's password too
