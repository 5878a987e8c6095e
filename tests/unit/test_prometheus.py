"""render_prometheus (parsed back with prometheus_client) and the atomic --output it is written with."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from probe.judge.health import HealthResult, evaluate, parse_expectation
from probe.model import AddressResult, Context, DomainStatus, ExitCode, Reason, Report, Verdict
from probe.render.output import write_output
from probe.render.prometheus import render_prometheus

from sample_reports import MX_HOST, mx_session, one_mx_report, step

NOT_AFTER = "2027-01-31T00:00:00Z"
NOT_AFTER_UNIX = 1801353600.0  # calendar.timegm((2027, 1, 31, 0, 0, 0))


def sample_report(*, verdict: Verdict = Verdict.DELIVERABLE, address: str = "user@example.com",
                  **kw: Any) -> Report:
    tls = {"version": "TLSv1.3", "cipher": "TLS_AES_128_GCM_SHA256",
           "certificate": {"not_after": NOT_AFTER, "days_left": 63}}
    session = mx_session([
        step(Context.BANNER, 220), step(Context.EHLO, 250, "EHLO probe.test"),
        step(Context.STARTTLS, 220, "STARTTLS"), step(Context.EHLO, 250, "EHLO probe.test"),
        step(Context.MAIL, 250, "MAIL FROM:<>"), step(Context.RCPT, 550, f"RCPT TO:<{address}>"),
    ], tls=tls, elapsed_ms=300.0)
    result = AddressResult(address, verdict, Reason.ACCEPTED, 250, None, "m", "r", host=MX_HOST)
    return one_mx_report([session], [result], elapsed_ms=1234.5, **kw)


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        families[family.name] = [(dict(s.labels), s.value) for s in family.samples]
        assert all(s.timestamp is None for s in family.samples)
    return families


def render(report: Report, health: HealthResult | None = None, **kw: Any) -> str:
    return render_prometheus(report, health or evaluate(report), **kw)


def value(families: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    matches = [v for lab, v in families[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(matches) == 1, (name, labels, families[name])
    return matches[0]


def test_exposition_parses_and_has_the_core_metrics() -> None:
    text = render(sample_report(), dns_lookup_s=0.025)
    assert text.endswith("\n") and not text.endswith("\n\n")
    families = parse(text)
    assert value(families, "probe_success", domain="example.com") == 1
    assert value(families, "probe_duration_seconds") == 1.2345
    assert value(families, "probe_dns_lookup_time_seconds") == 0.025
    assert value(families, "smtp_probe_exit_code") == 0
    assert value(families, "probe_ssl_earliest_cert_expiry", mx="mx1.example.com") == NOT_AFTER_UNIX
    assert value(families, "smtp_probe_tls_version_info", version="TLSv1.3") == 1
    assert value(families, "smtp_probe_check_success", mx="mx1.example.com", check="banner") == 1
    assert value(families, "smtp_probe_reply_code", command="RCPT", address="user@example.com") == 550
    assert value(families, "smtp_probe_reply_code", command="banner") == 220


def test_one_help_and_type_per_family_and_no_timestamps() -> None:
    text = render(sample_report())
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")]
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert helps == types and len(set(helps)) == len(helps)
    for line in text.splitlines():
        if not line.startswith("#"):
            assert len(line.rsplit("} ", 1)[1].split()) == 1  # a value, never a timestamp


def test_dns_time_is_absent_when_not_measured() -> None:
    assert "probe_dns_lookup_time_seconds" not in parse(render(sample_report()))


@pytest.mark.parametrize("actual", list(Verdict))
def test_address_verdict_is_one_hot(actual: Verdict) -> None:
    families = parse(render(sample_report(verdict=actual)))
    samples = families["smtp_probe_address_verdict"]
    assert {lab["verdict"]: v for lab, v in samples} == {str(v): float(v is actual) for v in Verdict}


def test_failure_is_visible_per_check_and_overall() -> None:
    report = sample_report(verdict=Verdict.UNDELIVERABLE)
    families = parse(render(report))
    assert value(families, "probe_success") == 0
    assert value(families, "smtp_probe_exit_code") == int(ExitCode.CRITICAL)
    assert value(families, "smtp_probe_check_success", check="rcpt user@example.com") == 0
    assert value(families, "smtp_probe_check_status", check="rcpt user@example.com") == 2
    assert value(families, "smtp_probe_check_success", check="domain", mx="") == 1


def test_expectations_are_checks_too() -> None:
    report = sample_report()
    families = parse(render(report, evaluate(report, [parse_expectation("code=5.1.1")])))
    assert value(families, "smtp_probe_check_success", check="expect code=5.1.1") == 0
    assert value(families, "probe_success") == 0


def test_label_values_are_escaped() -> None:
    hostile = 'a"b\\c\nd@example.com'
    families = parse(render(sample_report(address=hostile)))
    addresses = {lab["address"] for lab, _ in families["smtp_probe_address_verdict"]}
    assert addresses == {hostile}


def test_lone_surrogates_from_server_bytes_cannot_break_the_file(tmp_path: Path) -> None:
    text = render(sample_report(address="caf\udce9@example.com"))
    target = tmp_path / "smtp.prom"
    write_output(text, str(target))
    assert parse(target.read_text(encoding="utf-8"))["smtp_probe_address_verdict"]


def test_skipped_checks_have_no_sample() -> None:
    report = sample_report()
    report.sessions[0].tls = None
    report.sessions[0].steps = [s for s in report.sessions[0].steps if s.context is not Context.STARTTLS]
    families = parse(render(report))
    assert not [lab for lab, _ in families["smtp_probe_check_success"] if lab["check"] == "starttls"]


def test_certificate_without_parsable_expiry_is_left_out() -> None:
    report = sample_report()
    assert report.sessions[0].tls is not None
    report.sessions[0].tls["certificate"] = {"not_after": "garbage", "days_left": 3}
    assert "probe_ssl_earliest_cert_expiry" not in parse(render(report))


def test_naive_expiry_is_utc() -> None:
    report = sample_report()
    assert report.sessions[0].tls is not None
    report.sessions[0].tls["certificate"] = {"not_after": "2027-01-31T00:00:00", "days_left": 3}
    assert value(parse(render(report)), "probe_ssl_earliest_cert_expiry") == NOT_AFTER_UNIX


def test_unknown_report_still_renders() -> None:
    report = Report("bad..domain", DomainStatus.DNS_ERROR, error="bad input: empty label")
    families = parse(render(report))
    assert value(families, "smtp_probe_exit_code") == 3
    assert value(families, "smtp_probe_check_status", check="probe") == 3


# --- write_output: the atomic --output used for textfile collectors ---------------------------------

@pytest.mark.parametrize("path", [None, "-"])
def test_output_to_stdout(path: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    write_output("probe_success 1\n", path)
    assert capsys.readouterr().out == "probe_success 1\n"


def test_output_file_is_written_and_no_temp_is_left(tmp_path: Path) -> None:
    target = tmp_path / "smtp.prom"
    write_output("probe_success 1\n", str(target))
    assert target.read_text(encoding="utf-8") == "probe_success 1\n"
    assert os.listdir(tmp_path) == ["smtp.prom"]


def test_output_relative_path_and_unicode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_output("café ✓\n", "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == "café ✓\n".encode()


def test_output_temp_lives_in_the_target_directory_and_is_renamed(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real_replace: Callable[[str, str], None] = os.replace

    def spy(src: str, dst: str) -> None:
        calls.append((src, dst))
        assert Path(src).read_text(encoding="utf-8") == "new\n"  # complete before the rename
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "smtp.prom"
    target.write_text("old\n", encoding="utf-8")
    write_output("new\n", str(target))
    [(src, dst)] = calls
    assert os.path.dirname(src) == str(tmp_path) and dst == str(target)
    assert not os.path.exists(src)
    assert target.read_text(encoding="utf-8") == "new\n"


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_output_failure_leaves_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    failing: str) -> None:
    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    target = tmp_path / "smtp.prom"
    target.write_text("probe_success 1\n", encoding="utf-8")
    with pytest.raises(OSError, match="No space"):
        write_output("probe_success 0\n", str(target))
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "probe_success 1\n"
    assert os.listdir(tmp_path) == ["smtp.prom"]


def test_output_missing_directory_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_output("x\n", str(tmp_path / "nope" / "smtp.prom"))


def test_output_keeps_mode_of_replaced_file_and_new_file_follows_umask(tmp_path: Path) -> None:
    target = tmp_path / "smtp.prom"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    write_output("new\n", str(target))
    assert target.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.prom"
    previous = os.umask(0o022)
    try:
        write_output("new\n", str(fresh))
    finally:
        os.umask(previous)
    assert fresh.stat().st_mode & 0o777 == 0o644  # readable by a collector running as another user


def test_output_never_fails_on_lone_surrogates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.txt"
    write_output("caf\udce9\n", str(target))
    assert target.read_bytes() == b"caf\\udce9\n"
    write_output("caf\udce9\n", None)
    assert capsys.readouterr().out == "caf\\udce9\n"


def test_reply_code_labels_are_stable_across_runs() -> None:
    """command is the verb only; the probe's random catch-all address never becomes a label value."""
    def run(random_local: str) -> str:
        report = sample_report()
        report.sessions[0].steps.append(step(Context.RCPT, 250, f"RCPT TO:<{random_local}@example.com>"))
        report.sessions[0].steps.append(step(Context.MAIL, 250, "MAIL FROM:<probe@sender.test>"))
        return render(report)

    first, second = run("smtp-probe-0msxpbl5jvw1"), run("smtp-probe-zz81kd0qq2a7")
    assert first == second and "smtp-probe-0msxpbl5jvw1" not in first and "TO:" not in first
    families = parse(first)
    assert value(families, "smtp_probe_reply_code", command="RCPT", catch_all="true", address="catch-all") == 250
    assert value(families, "smtp_probe_reply_code", command="RCPT", catch_all="false",
                 address="user@example.com") == 550
    assert value(families, "smtp_probe_reply_code", command="MAIL") == 250
