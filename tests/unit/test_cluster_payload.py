"""The fleet's wire format: ProbeOptions as JSON and back, every field checked by the worker; URLs redacted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from probe.cluster.payload import Redactor, TaskRejected, decode_task, encode_task, options_from_json, options_to_json
from probe.model import ProbeOptions

THRESHOLDS = {"warning_s": None, "critical_s": 30.0, "cert_warning_days": 21, "cert_critical_days": 7,
              "starttls_required": False}
UNIT = {"domain": "example.org", "lines": [{"line": 3, "input": "a@example.org", "addresses": ["a@example.org"]}]}


def test_options_travel_as_json_and_come_back_equal() -> None:
    options = ProbeOptions(helo="probe.example.net", mx=(("mx.example.org", 2525),), resolvers=(("127.0.0.1", 53),),
                           dnsbl_zones=("bl.test",), family=4, deadline_s=30.0, starttls="require")
    wire = json.loads(json.dumps(encode_task("run-1", 7, UNIT, options, expect=["deliverable"], thresholds=THRESHOLDS,
                                             per_host=2)))
    task = decode_task(wire)
    assert task.options == options and task.unit == UNIT and (task.run, task.unit_id, task.per_host) == ("run-1", 7, 2)
    assert task.thresholds == THRESHOLDS and len(task.expectations) == 1


@pytest.mark.parametrize(("change", "reason"), [
    ({"evil": 1}, "unknown field 'evil'"),
    ({"port": "25"}, "options.port: expected an integer"),
    ({"port": True}, "options.port: expected an integer"),
    ({"vrfy": "yes"}, "options.vrfy: expected true or false"),
    ({"mx": [["h", "25"]]}, "options.mx: expected a list of [host, port] pairs"),
    ({"timeout_s": 1e9}, "out of range"),
    ({"starttls": "maybe"}, "options.starttls"),
    ({"port": 70000}, "a port is out of range"),
])
def test_a_bad_option_is_named(change: dict[str, Any], reason: str) -> None:
    data = {**options_to_json(ProbeOptions()), **change}
    with pytest.raises(TaskRejected, match=reason.replace("[", r"\[").replace("]", r"\]")):
        options_from_json(data)


@pytest.mark.parametrize(("change", "reason"), [
    ({"v": 2}, "task version 2"),
    ({"run": "../x"}, "run"),
    ({"per_host": 100}, "per_host"),
    ({"unit": {"domain": "x", "lines": [{"line": 1, "input": "x", "addresses": ["not an address"]}]}}, "unit line 1"),
    ({"unit": {"domain": "x", "lines": [{"line": 1, "input": "x", "addresses": [f"u{i}@x.test" for i in range(101)]}]}},
     "101 addresses"),
    ({"judge": {"expect": ["nonsense"], "thresholds": THRESHOLDS}}, "judge.expect"),
    ({"judge": {"expect": [], "thresholds": {**THRESHOLDS, "critical_s": "soon"}}}, "judge.thresholds.critical_s"),
])
def test_a_bad_task_is_rejected_with_its_reason(change: dict[str, Any], reason: str) -> None:
    task = {**encode_task("r", 1, UNIT, ProbeOptions(), expect=[], thresholds=THRESHOLDS, per_host=1), **change}
    with pytest.raises(TaskRejected, match=reason) as caught:
        decode_task(task)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:s3cret@queue.test:6379/0", "redis://:***@queue.test:6379/0"),
    ("rediss://probe:p%40ss@queue.test/1", "rediss://probe:***@queue.test/1"),
    ("amqp://probe:guestpw@rabbit.test//", "amqp://probe:***@rabbit.test//"),
    ("redis://queue.test:6379/0", "redis://queue.test:6379/0"),
    ("redis://:x@[::1", "(an unreadable URL)"),
])
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    redactor = Redactor(url)
    assert redactor.url == shown
    assert redactor.text(f"Error connecting to {url}: refused") == f"Error connecting to {shown}: refused" \
        or shown.startswith("(")
    for password in ("s3cret", "p@ss", "p%40ss", "guestpw", ":x@"):
        assert password not in redactor.text(f"Error connecting to {url}: refused")
    assert "s3cret" not in Redactor("redis://:s3cret@q.test").text("AUTH s3cret: WRONGPASS")


def test_a_workers_app_runs_its_own_task_after_a_sending_app_was_made() -> None:
    # `smtp-probe worker --broker amqp://...` checks the broker with a sending app before it makes its own:
    # the task must not be shared between apps, else the first app's ("this app only sends tasks") runs.
    pytest.importorskip("celery")
    from probe.cluster.worker import TASK_NAME, make_app

    handled: list[Any] = []

    class Runtime:
        def handle(self, payload: Any) -> None:
            handled.append(payload)

    sender = make_app("amqp://u:p@127.0.0.1:1/v")
    worker = make_app("amqp://u:p@127.0.0.1:1/v", runtime=Runtime())  # type: ignore[arg-type]
    worker.tasks[TASK_NAME].run({"v": 1})
    assert handled == [{"v": 1}]
    with pytest.raises(RuntimeError, match="only sends"):
        sender.tasks[TASK_NAME].run({"v": 1})
