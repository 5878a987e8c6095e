"""CLI edges: one-line usage errors, checked thresholds, "could not run" in every machine format,
why the exit code is what it is (text and JSON), inert JSON, the HELO fallback, --dnsbl, --source-ip."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from probe.model import DomainStatus, Reason, Verdict


def test_usage_error_is_one_line(run_cli: Any) -> None:
    result = run_cli("t.test", "--bogus")
    assert result.exit_code == 3 and len(result.err.splitlines()) == 1, result.err
    assert result.err.startswith("smtp-probe: ") and "--bogus" in result.err and "(see --help)" in result.err


def test_pasted_text_read_as_an_option_says_to_put_double_dash_before_it(run_cli: Any) -> None:
    """A bounce's section line starts with '-' (Sendmail's savemail.c: '----- The following addresses had permanent
    fatal errors -----'): click reads it as an unknown option; the one-line error says how to pass it, and that way
    works."""
    line = "----- The following addresses had permanent fatal errors -----"
    result = run_cli("explain", line)
    assert result.exit_code == 3 and len(result.err.splitlines()) == 1, result.err
    assert f"smtp-probe explain -- '{line}'" in result.err
    assert run_cli("explain", "--", line).exit_code == 0
    assert "goes after --" not in run_cli("explain", "--bogus", "252").err  # a mistyped option gets click's hint


def test_explain_with_a_context_or_host_gives_the_whole_entry(run_cli: Any) -> None:
    """`explain --context ...` printed the bare diagnosis: no title, and no advice for mail that bounced."""
    reply = ("450 4.2.0 <bob@example.net>: Recipient address rejected: Greylisted, see "
             "http://postgrey.schweikert.ch/help/example.net.html")  # postgrey's greylist_text
    data = json.loads(run_cli("explain", "--json", "--context", "bounce", reply).out)
    assert data["title"] and data["context"] == "bounce" and "Action: delayed" in data["sender"]
    text = run_cli("explain", "--context", "bounce", reply).out
    assert "If your mail bounced with it" in text
    gmail = json.loads(run_cli("explain", "--json", "--host", "gmail-smtp-in.l.google.com",
                               "550 5.7.1 blocked").out)
    assert "Gmail" in gmail["provider"]  # the host still names the provider


@pytest.mark.parametrize("args", [
    ("--warning", "-1"), ("--critical", "-0.5"), ("--cert-warning", "-3"), ("--cert-critical", "-1"),
    ("--warning", "5", "--critical", "1"), ("--cert-warning", "7", "--cert-critical", "21"),
    ("--warning", "nan"),
])
def test_bad_thresholds_exit_3_with_one_line(run_cli: Any, fake_probe: Any, canned: Any,
                                             args: tuple[str, ...]) -> None:
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    result = run_cli("t.test", *args)
    assert result.exit_code == 3 and len(result.err.splitlines()) == 1, result.err
    assert calls == []


def test_cert_threshold_given_alone_is_judged_with_a_compatible_default(run_cli: Any, fake_probe: Any,
                                                                         canned: Any) -> None:
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    assert run_cli("t.test", "--cert-critical", "30").exit_code == 0
    options = calls[0][2]
    assert (options.cert_warning_days, options.cert_critical_days) == (30, 30)


@pytest.mark.parametrize("fmt", ["nagios", "prometheus", "junit", "json"])
def test_could_not_run_is_rendered_in_machine_formats(run_cli: Any, fake_probe: Any, canned: Any,
                                                      validate_report: Any, tmp_path: Path, fmt: str) -> None:
    fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    stdout = run_cli("bad domain!", "--format", fmt)
    assert stdout.exit_code == 3 and len(stdout.err.splitlines()) == 1
    assert stdout.out.strip(), "a report on stdout, not nothing"
    target = tmp_path / f"out.{fmt}"
    target.write_text("stale good result\n", encoding="utf-8")
    written = run_cli("t.test", "--resolver", "not-an-ip", "--format", fmt, "--output", str(target))
    assert written.exit_code == 3 and len(written.err.splitlines()) == 1 and written.out == ""
    text = target.read_text(encoding="utf-8")
    assert "stale" not in text
    if fmt == "nagios":
        assert stdout.out.startswith("SMTP UNKNOWN - ") and text.startswith("SMTP UNKNOWN - ")
    elif fmt == "prometheus":
        assert 'smtp_probe_exit_code{domain="t.test"} 3' in text
    elif fmt == "junit":
        assert ET.fromstring(text.split("\n", 1)[1]).find("testsuite/testcase/error") is not None
    else:
        data = json.loads(text)
        validate_report(data)
        assert data["exit_code"] == 3 and data["error"] and data["health"]["state"] == "UNKNOWN"


def test_text_and_json_say_why_the_exit_code(run_cli: Any, fake_probe: Any, canned: Any,
                                             validate_report: Any) -> None:
    report = canned(DomainStatus.ACCEPTS_MAIL, [])
    report.elapsed_ms = 50.0
    fake_probe(report)
    text = run_cli("t.test", "--critical", "0.001", "--expect", "no-mail")
    assert text.exit_code == 2
    assert "CRITICAL: " in text.out
    words = " ".join(text.out.split())  # the report is wrapped to 80 columns
    for why in ("expected no-mail: domain accepts mail", "probe took 0.050 s (critical over 0.001 s)"):
        assert words.count(why) == 1, "said once: in the summary, not again below it"
    text = run_cli("t.test", "--critical", "0.001", "--expect", "no-mail", "--expect", "code=599",
                   "--expect", "reason=blocklisted")  # more than the summary shows: the rest below it
    words = " ".join(text.out.split())
    assert "+1 more" in words and words.count("probe took 0.050 s (critical over 0.001 s)") == 1
    result = run_cli("t.test", "--critical", "0.001", "--expect", "no-mail", "--json")
    data = result.json
    validate_report(data)
    assert data["health"]["state"] == "CRITICAL" and data["health"]["summary"]
    statuses = {c["name"]: c["status"] for c in data["health"]["checks"]}
    assert statuses["time"] == "CRITICAL" and statuses["expect no-mail"] == "CRITICAL"


def test_json_escapes_terminal_active_characters(run_cli: Any, fake_probe: Any, canned: Any) -> None:
    report = canned(DomainStatus.ACCEPTS_MAIL, [Verdict.UNDELIVERABLE], Reason.ACCEPTED)
    evil = "550 user\u202eliated \x9b31m \x1b[2J gone\u2066x\u2069"
    report.addresses[0].text = evil
    fake_probe(report)
    result = run_cli("t.test", "u0@example.test", "--json")
    assert not any(ch in result.out for ch in "\u202e\x9b\x1b\u2066\u2069")
    assert "\\u202e" in result.out and result.json["addresses"][0]["text"] == evil


def test_helo_fallback_is_said(run_cli: Any, fake_probe: Any, canned: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMTP_PROBE_HELO", raising=False)
    monkeypatch.setattr("socket.getfqdn", lambda *a: "buildbox")
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    result = run_cli("t.test")
    assert calls[0][2].helo == "localhost.localdomain"
    assert len(result.err.splitlines()) == 1 and "localhost.localdomain" in result.err and "buildbox" in result.err
    monkeypatch.setattr("socket.getfqdn", lambda *a: "mail.example.net")
    assert run_cli("t.test").err == ""


def test_dnsbl_option_reaches_the_probe(run_cli: Any, fake_probe: Any, canned: Any) -> None:
    calls = fake_probe(canned(DomainStatus.ACCEPTS_MAIL, []))
    assert run_cli("t.test", "--dnsbl", "bl.example", "--dnsbl", "Zen.Example").exit_code == 0
    assert calls[0][2].dnsbl_zones == ("bl.example", "zen.example")
    bad = run_cli("t.test", "--dnsbl", "not a zone")
    assert bad.exit_code == 3 and len(bad.err.splitlines()) == 1 and len(calls) == 1


@pytest.mark.parametrize("value", ["203.0.113.5:25", "[2001:db8::5]:25", "mail.example.test", "203.0.113"])
def test_self_check_source_ip_must_be_a_bare_ip(run_cli: Any, value: str) -> None:
    result = run_cli("self-check", "--source-ip", value, "--resolver", "127.0.0.1:9")
    assert result.exit_code == 3 and len(result.err.splitlines()) == 1 and "bare IP" in result.err
