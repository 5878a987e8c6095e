"""render_junit: one testcase per check, parsed back with ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from probe.judge.health import Check, HealthResult, evaluate
from probe.model import AddressResult, Context, DomainStatus, ExitCode, Reason, Report, Verdict
from probe.render.junit import render_junit, xml_safe

from sample_reports import MX_HOST, mx_session, one_mx_report, step


def sample_report(verdict: Verdict = Verdict.DELIVERABLE, *, text: str = "250 2.1.5 OK", **kw: Any) -> Report:
    session = mx_session([step(Context.BANNER, 220, elapsed_ms=120.0),
                          step(Context.EHLO, 250, "EHLO probe.test", elapsed_ms=120.0),
                          step(Context.MAIL, 250, "MAIL FROM:<>", elapsed_ms=120.0),
                          step(Context.RCPT, 250, "RCPT TO:<user@example.com>", elapsed_ms=120.0)],
                         elapsed_ms=400.0)
    result = AddressResult("user@example.com", verdict, Reason.USER_UNKNOWN, 550, "5.1.1", "m", "r",
                           host=MX_HOST, text=text)
    return one_mx_report([session], [result], started_at="2026-11-29T21:55:00Z", **kw)


def parse(report: Report, health: HealthResult | None = None, transcript: str | None = None) -> ET.Element:
    xml = render_junit(report, health or evaluate(report), transcript)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n') and xml.endswith("\n")
    return ET.fromstring(xml.encode("utf-8"))


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {f"{c.get('classname')}/{c.get('name')}": c for c in root.iter("testcase")}


def test_one_testcase_per_check_and_counts_match() -> None:
    report = sample_report(Verdict.UNDELIVERABLE)
    health = evaluate(report)
    root = parse(report, health)
    suite = root.find("testsuite")
    assert suite is not None
    assert len(suite.findall("testcase")) == len(health.checks)
    for element in (root, suite):
        assert element.get("tests") == str(len(health.checks))
        assert element.get("failures") == str(len(suite.findall("testcase/failure")))
        assert element.get("skipped") == str(len(suite.findall("testcase/skipped")))
        assert element.get("errors") == "0"
        assert element.get("time") == "1.234"
    assert suite.get("name") == "smtp-probe example.com"
    assert suite.get("timestamp") == "2026-11-29T21:55:00"


def test_passing_check_has_no_child_and_carries_its_time() -> None:
    case = cases(parse(sample_report()))["example.com.mx1.example.com/banner"]
    assert list(case) == [] and case.get("time") == "0.120"


def test_critical_is_a_failure_with_server_text() -> None:
    root = parse(sample_report(Verdict.UNDELIVERABLE, text="550 5.1.1 <user@example.com>: no such user"))
    failure = cases(root)["example.com.mx1.example.com/rcpt user@example.com"].find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert failure.get("message") == "user@example.com undeliverable (user_unknown, 550 5.1.1)"
    assert failure.text == "550 5.1.1 <user@example.com>: no such user"


def test_warning_is_a_failure_of_type_warning() -> None:
    failure = cases(parse(sample_report(Verdict.RISKY)))["example.com.mx1.example.com/rcpt user@example.com"]
    element = failure.find("failure")
    assert element is not None and element.get("type") == "warning"


def test_could_not_run_is_an_error() -> None:
    report = Report("example.com", DomainStatus.DNS_ERROR, error="no nameservers configured")
    root = parse(report)
    error = cases(root)["example.com/probe"].find("error")
    assert error is not None and "no nameservers" in (error.get("message") or "")
    assert root.get("errors") == "1" and root.get("failures") == "0"


def test_not_applicable_is_skipped() -> None:
    skipped = cases(parse(sample_report()))["example.com.mx1.example.com/starttls"].find("skipped")
    assert skipped is not None and skipped.get("message") == "STARTTLS not offered"


def test_transcript_goes_to_system_out_and_properties_hold_the_state() -> None:
    transcript = "S: 220 mx1 ESMTP\nC: EHLO probe.test\nS: 250 mx1"
    suite = parse(sample_report(), transcript=transcript).find("testsuite")
    assert suite is not None
    assert suite.findtext("system-out") == transcript
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["exit_code"] == "0" and properties["state"] == "OK"
    assert properties["status"] == "accepts_mail"


def test_no_transcript_means_no_system_out() -> None:
    assert parse(sample_report()).find("testsuite/system-out") is None


def test_hostile_server_text_stays_well_formed_xml() -> None:
    evil = "550 \x1b[31mred\x00 \udce9 </failure><x>&amp; ]]> \ufffe"
    root = parse(sample_report(Verdict.UNDELIVERABLE, text=evil), transcript=evil)
    failure = cases(root)["example.com.mx1.example.com/rcpt user@example.com"].find("failure")
    assert failure is not None
    assert failure.text == "550 \\x1b[31mred\\x00 \\udce9 </failure><x>&amp; ]]> \\ufffe"
    assert root.findtext("testsuite/system-out") == failure.text


def test_bidi_and_c1_from_server_text_are_escaped_in_the_xml() -> None:
    evil = "550 user\u202eliated \x9b31m gone"
    root = parse(sample_report(Verdict.UNDELIVERABLE, text=evil), transcript=evil)
    document = render_junit(sample_report(Verdict.UNDELIVERABLE, text=evil), evaluate(sample_report()),
                            transcript=evil)
    assert "\u202e" not in document and "\x9b" not in document
    failure = cases(root)["example.com.mx1.example.com/rcpt user@example.com"].find("failure")
    assert failure is not None and failure.text == "550 user\\u202eliated \\x9b31m gone"


def test_xml_safe_keeps_legal_text() -> None:
    text = "tab\tnewline\ncafé ✓ 😀"
    assert xml_safe(text) == text


def test_health_checks_are_the_only_source_of_truth() -> None:
    report = sample_report()
    health = HealthResult(ExitCode.CRITICAL, "CRITICAL", "example.com: made up",
                          [Check("custom", ExitCode.CRITICAL, "made up", 1500.0, "mx9")])
    root = parse(report, health)
    assert list(cases(root)) == ["example.com.mx9/custom"]
    assert cases(root)["example.com.mx9/custom"].get("time") == "1.500"
