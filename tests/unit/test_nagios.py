"""render_nagios: the monitoring-plugins line, perfdata that a parser can read, escaped server text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from probe.judge.health import HealthResult, evaluate, parse_expectation
from probe.model import (
    AddressResult,
    Context,
    DomainStatus,
    ExitCode,
    MxHost,
    Reason,
    Report,
    Session,
    Severity,
    Step,
    Verdict,
)
from probe.render.nagios import render_nagios

from sample_reports import MX_HOST, mx_session, one_mx_report, step

PERF_ITEM = re.compile(r"('[^'=]+'|[^'= ]+)=(-?[0-9]+(?:\.[0-9]+)?)(s|ms|us|%|B|KB|MB|TB|c)?"
                       r"((?:;[^; ]*){0,4})(?: |$)")
HOSTILE = "550 5.1.1 \x1b[2J\x1b]0;pwned\x07 no | such\u202euser\x00 caf\udce9\r\nsecond | line"


def sample_report(verdict: Verdict = Verdict.DELIVERABLE, *, text: str = "250 2.1.5 OK",
                  days_left: int | None = 63, **kw: Any) -> Report:
    tls = None if days_left is None else {"version": "TLSv1.3", "certificate": {"days_left": days_left}}
    session = mx_session([
        step(Context.CONNECT, None, elapsed_ms=12.0), step(Context.BANNER, 220, elapsed_ms=100.0),
        step(Context.EHLO, 250, "EHLO probe.test", elapsed_ms=20.0),
        step(Context.STARTTLS, 220, "STARTTLS", elapsed_ms=150.0),
        step(Context.EHLO, 250, "EHLO probe.test", elapsed_ms=30.0),
        step(Context.VRFY, 252, "VRFY user", elapsed_ms=5.0), step(Context.MAIL, 250, "MAIL FROM:<>", elapsed_ms=8.0),
        step(Context.RCPT, 250, "RCPT TO:<user@example.com>", elapsed_ms=9.0),
    ], tls=tls, elapsed_ms=500.0)
    reason = Reason.ACCEPTED if verdict is Verdict.DELIVERABLE else Reason.USER_UNKNOWN
    result = AddressResult("user@example.com", verdict, reason, 250, None, "the mailbox exists",
                           "check the spelling", host=MX_HOST, text=text)
    return one_mx_report([session], [result], **kw)


def render(report: Report, expectations: tuple[str, ...] = (), **kw: Any) -> tuple[str, HealthResult]:
    health = evaluate(report, [parse_expectation(e) for e in expectations], **kw)
    return render_nagios(report, health), health


def perf(output: str) -> dict[str, tuple[str, str, str]]:
    """label -> (value, unit, thresholds) parsed the way a monitoring core does; all text must parse."""
    first = output.splitlines()[0]
    assert first.count("|") == 1
    data = first.split(" | ", 1)[1]
    items = {m.group(1).strip("'"): (m.group(2), m.group(3) or "", m.group(4)) for m in PERF_ITEM.finditer(data)}
    assert " ".join(m.group(0).strip() for m in PERF_ITEM.finditer(data)) == data  # nothing left unparsed
    return items


def test_ok_line_and_perfdata() -> None:
    output, _ = render(sample_report(), warning_s=5, critical_s=10)
    first = output.splitlines()[0]
    assert first.startswith("SMTP OK - example.com: accepts mail, user@example.com deliverable "
                            "(mx1.example.com) | time=1.234s;5;10;0 ")
    items = perf(output)
    assert items["mx1.example.com"] == ("0.500", "s", ";;;0")
    assert items["mx1.example.com connect"] == ("0.012", "s", ";;;0")
    assert items["mx1.example.com banner"][0] == "0.100"
    assert items["mx1.example.com ehlo"][0] == "0.050"  # both EHLOs
    assert items["mx1.example.com starttls"][0] == "0.150"
    assert {"mx1.example.com vrfy", "mx1.example.com mail", "mx1.example.com rcpt"} <= set(items)
    assert items["mx1.example.com cert_days_left"] == ("63", "", ";;;")


def test_thresholds_appear_in_perfdata_only_when_given() -> None:
    output, _ = render(sample_report(), cert_warning_days=30, cert_critical_days=14)
    items = perf(output)
    assert items["time"] == ("1.234", "s", ";;;0")
    assert items["mx1.example.com cert_days_left"] == ("63", "", ";30:;14:;")


@pytest.mark.parametrize(("verdict", "state"), [(Verdict.RISKY, "WARNING"), (Verdict.UNDELIVERABLE, "CRITICAL")])
def test_state_word_matches_exit_code_and_problems_come_first(verdict: Verdict, state: str) -> None:
    output, health = render(sample_report(verdict, text="550 5.1.1 no such user"))
    assert health.state == state
    lines = output.splitlines()
    assert lines[0].startswith(f"SMTP {state} - example.com: user@example.com {verdict}")
    assert lines[1].startswith(f"{state}: mx1.example.com rcpt user@example.com: ")
    assert lines[2] == "  server said: 550 5.1.1 no such user"
    assert "  fix: check the spelling" in lines


def test_unknown_state() -> None:
    output, health = render(Report("example.com", DomainStatus.DNS_ERROR, error="no nameservers configured"))
    assert health.exit_code is ExitCode.UNKNOWN
    assert output.startswith("SMTP UNKNOWN - example.com: probe could not run: no nameservers configured | time=")


def test_hostile_server_text_is_escaped_and_cannot_break_perfdata() -> None:
    report = sample_report(Verdict.UNDELIVERABLE, text=HOSTILE)
    report.summary = HOSTILE
    output, _health = render(report, ("deliverable",))
    for bad in ("\x1b", "\x07", "\x00", "\r", "\u202e"):
        assert bad not in output
    for line in output.splitlines()[1:]:
        assert "|" not in line  # a '|' in long output would start perfdata
    perf(output)
    said = [line for line in output.splitlines() if line.startswith("  server said: 550 5.1.1 ")]
    assert said and all(line.endswith("/ second / line") for line in said)  # multi-line reply, one line
    assert "caf\\udce9" in said[0]
    output.encode("utf-8")  # printable to any UTF-8 stdout: no lone surrogate left


def test_hostile_host_name_makes_a_valid_quoted_label() -> None:
    report = sample_report()
    report.sessions[0].host = "mx'1=evil|host"
    items = perf(render(report)[0])
    assert any(label.startswith("mx_1_evil/host") for label in items)


def test_details_are_transcript_free() -> None:
    output, _ = render(sample_report(), ("accepts-mail",))
    assert "MX 10 mx1.example.com (mx): 192.0.2.1" in output
    assert "session mx1.example.com:25: completed in 0.500s, TLSv1.3, certificate 63 days left" in output
    assert "expect accepts-mail: met" in output
    assert "EHLO probe.test" not in output  # commands and raw replies stay in the transcript


def test_failed_sessions_and_missing_tls() -> None:
    dead = Session("mx0.example.com", "192.0.2.9", 25, "refused", error="connection refused", elapsed_ms=3.0,
                   steps=[Step(None, Context.CONNECT, None, None, "refused", [], Reason.NETWORK_ERROR,
                               Severity.CRITICAL, "m", "r", None, 3.0)])
    report = sample_report(days_left=None)
    report.sessions.insert(0, dead)
    output, health = render(report)
    assert health.state == "WARNING"
    items = perf(output)
    assert items["mx0.example.com connect"][0] == "0.003"
    assert not any("cert_days_left" in label for label in items)
    assert "WARNING: mx0.example.com connect: cannot connect to 192.0.2.9:25: refused" in output


def test_output_ends_with_newline_and_first_line_is_single() -> None:
    output, _ = render(sample_report())
    assert output.endswith("\n") and output.splitlines()[0].startswith("SMTP OK - ")


def test_hosts_named_with_mx_have_no_preference_and_checked_addresses_are_said() -> None:
    """A host named with --mx has no MX preference (its `preference` is only its place in the order): the line says
    it was named; an address that only got a connection check says what the check saw (MxHost.checked)."""
    report = sample_report()
    report.mx_source = "override"
    report.mx = [MxHost("mx1.example.com", 0, ["192.0.2.1"], named=True),
                 MxHost("mx2.example.com", 1, ["192.0.2.2"], named=True, checked={"192.0.2.2": "greeted"})]
    output, health = render(report, ())
    assert "MX mx1.example.com (named with --mx): 192.0.2.1" in output and "MX 0" not in output
    assert "  192.0.2.2: connection check only: greeted" in output
    (domain,) = [c for c in health.checks if c.name == "domain"]
    assert domain.message == "accepts mail (MX: mx1.example.com (named with --mx), mx2.example.com (named with --mx))"
