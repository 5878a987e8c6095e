"""Expectations, thresholds and the exit code: probe.judge.health on hand-built reports."""

from __future__ import annotations

from typing import Any

import pytest

from probe.errors import InputError
from probe.judge.health import Check, Expectation, ExpectKind, HealthResult, evaluate, parse_expectation
from probe.model import (
    AddressResult,
    Context,
    DomainStatus,
    ExitCode,
    Finding,
    Reason,
    Report,
    Session,
    Severity,
    Verdict,
)

from sample_reports import MX_HOST, mx_session, one_mx_report, step


def good_session(host: str = MX_HOST, *, tls: dict[str, Any] | None = None,
                 rcpt: tuple[str, ...] = ("user@example.com",)) -> Session:
    steps = [step(Context.BANNER, 220, text="220 mx1 ESMTP"),
             step(Context.EHLO, 250, command="EHLO probe.test"),
             step(Context.MAIL, 250, command="MAIL FROM:<>")]
    steps += [step(Context.RCPT, 250, command=f"RCPT TO:<{a}>", elapsed_ms=7.0) for a in rcpt]
    return mx_session(steps, host=host, tls=tls, extensions=["PIPELINING"], elapsed_ms=120.0)


def address(verdict: Verdict = Verdict.DELIVERABLE, reason: Reason = Reason.ACCEPTED, code: int | None = 250,
            addr: str = "user@example.com", **kw: Any) -> AddressResult:
    return AddressResult(addr, verdict, reason, code, kw.pop("enhanced", None), "m", "r",
                         host=kw.pop("host", MX_HOST), command="RCPT", **kw)


def report(status: DomainStatus = DomainStatus.ACCEPTS_MAIL, *, sessions: list[Session] | None = None,
           addresses: list[AddressResult] | None = None, **kw: Any) -> Report:
    return one_mx_report([good_session()] if sessions is None else sessions,
                         [address()] if addresses is None else addresses, status=status, **kw)


def by_name(result: HealthResult, name: str, mx: str | None = None) -> Check:
    matches = [c for c in result.checks if c.name == name and (mx is None or c.mx == mx)]
    assert len(matches) == 1, (name, result.checks)
    return matches[0]


# --- parse_expectation ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind", "value"), [
    ("accepts-mail", ExpectKind.ACCEPTS_MAIL, None),
    (" No_Mail ", ExpectKind.NO_MAIL, None),
    ("deliverable", ExpectKind.DELIVERABLE, None),
    ("undeliverable", ExpectKind.UNDELIVERABLE, None),
    ("risky", ExpectKind.RISKY, None),
    ("starttls", ExpectKind.STARTTLS, None),
    ("reason=USER_UNKNOWN", ExpectKind.REASON, "user_unknown"),
    ("code=550", ExpectKind.CODE, "550"),
    ("code=5.7.1", ExpectKind.CODE, "5.7.1"),
    ("code=5.07.001", ExpectKind.CODE, "5.7.1"),
])
def test_parse_expectation_accepts_every_spec_form(text: str, kind: ExpectKind, value: str | None) -> None:
    assert parse_expectation(text) == Expectation(kind, value)


@pytest.mark.parametrize("text", ["", "accept", "reason=nope", "reason=", "code=", "code=600", "code=55",
                                  "code=3.1.1", "code=abc", "deliverable=yes", "starttls=1"])
def test_parse_expectation_rejects_bad_values_with_one_line(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_expectation(text)
    message = str(info.value)
    assert "\n" not in message
    assert "accepts-mail" in message or "user_unknown" in message


def test_expectation_str_round_trips() -> None:
    for text in ("accepts-mail", "reason=greylisted", "code=4.7.1"):
        assert str(parse_expectation(text)) == text


# --- default rules ---------------------------------------------------------------------------------

def test_accepting_domain_with_deliverable_address_is_ok() -> None:
    result = evaluate(report())
    assert (result.exit_code, result.state) == (ExitCode.OK, "OK")
    assert result.summary == "example.com: accepts mail, user@example.com deliverable (mx1.example.com)"
    assert all(c.status is ExitCode.OK for c in result.checks)
    names = {c.name for c in result.checks}
    assert {"domain", "connect", "banner", "ehlo", "mail", "starttls", "rcpt user@example.com", "time"} <= names
    assert by_name(result, "rcpt user@example.com").elapsed_ms == 7.0


@pytest.mark.parametrize(("verdict", "reason", "expected"), [
    (Verdict.RISKY, Reason.CANNOT_VERIFY, ExitCode.WARNING),
    (Verdict.UNKNOWN, Reason.RATE_LIMITED, ExitCode.WARNING),
    (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, ExitCode.CRITICAL),
])
def test_address_verdict_decides_default_state(verdict: Verdict, reason: Reason, expected: ExitCode) -> None:
    result = evaluate(report(addresses=[address(verdict, reason, 550, enhanced="5.1.1")]))
    assert result.exit_code is expected
    assert "user@example.com" in result.summary and str(verdict) in result.summary


@pytest.mark.parametrize("status", [DomainStatus.DOES_NOT_ACCEPT_MAIL, DomainStatus.NO_SUCH_DOMAIN,
                                    DomainStatus.UNREACHABLE])
def test_domain_failures_are_critical_not_unknown(status: DomainStatus) -> None:
    result = evaluate(report(status, sessions=[], addresses=[], reason=Reason.NETWORK_ERROR))
    assert result.exit_code is ExitCode.CRITICAL
    assert by_name(result, "domain").status is ExitCode.CRITICAL


def test_unreachable_because_every_host_said_not_now_is_a_warning() -> None:
    banner = step(Context.BANNER, 421, reason=Reason.RATE_LIMITED, severity=Severity.WARNING)
    session = Session("mx1.example.com", "192.0.2.1", 25, "deferred", steps=[banner])
    result = evaluate(report(DomainStatus.UNREACHABLE, sessions=[session], addresses=[],
                             reason=Reason.RATE_LIMITED))
    assert result.exit_code is ExitCode.WARNING


def test_report_error_means_unknown_and_nothing_else_is_judged() -> None:
    result = evaluate(report(error="local resolver failure: no nameservers"), [parse_expectation("no-mail")],
                      critical_s=0.001)
    assert (result.exit_code, result.state) == (ExitCode.UNKNOWN, "UNKNOWN")
    assert [c.name for c in result.checks] == ["probe"]
    assert "local resolver failure" in result.summary


def test_dead_primary_with_working_backup_is_a_warning() -> None:
    dead = Session("mx0.example.com", "192.0.2.9", 25, "refused", error="connection refused",
                   steps=[step(Context.CONNECT, None, reason=Reason.NETWORK_ERROR, severity=Severity.CRITICAL)])
    result = evaluate(report(sessions=[dead, good_session()]))
    assert result.exit_code is ExitCode.WARNING
    connect = by_name(result, "connect", "mx0.example.com")
    assert connect.status is ExitCode.WARNING and "refused" in connect.message
    assert "mx0.example.com" in result.summary


def test_all_hosts_dead_is_critical_per_host() -> None:
    dead = Session("mx0.example.com", "192.0.2.9", 25, "timeout", error="connect timed out")
    result = evaluate(report(DomainStatus.UNREACHABLE, sessions=[dead], addresses=[], reason=Reason.NETWORK_ERROR))
    assert by_name(result, "connect").status is ExitCode.CRITICAL


def test_two_sessions_to_one_host_get_distinct_labels() -> None:
    first = Session("mx1.example.com", "2001:db8::1", 25, "timeout", error="timed out")
    result = evaluate(report(sessions=[first, good_session()]))
    labels = {c.mx for c in result.checks if c.name == "connect"}
    assert labels == {"mx1.example.com [2001:db8::1]", "mx1.example.com [192.0.2.1]"}


def test_skipped_session_is_not_applicable() -> None:
    skipped = Session("mx2.example.com", "192.0.2.3", 25, "skipped", error="deadline")
    result = evaluate(report(sessions=[good_session(), skipped]))
    check = by_name(result, "connect", "mx2.example.com")
    assert check.skipped and check.status is ExitCode.OK
    assert result.exit_code is ExitCode.OK


def test_rejecting_banner_is_critical() -> None:
    banner = step(Context.BANNER, 554, enhanced="5.7.1", reason=Reason.POLICY_REJECTED,
                  severity=Severity.CRITICAL, text="554 5.7.1 go away")
    session = Session("mx1.example.com", "192.0.2.1", 25, "rejected", steps=[banner])
    result = evaluate(report(DomainStatus.UNREACHABLE, sessions=[session], addresses=[],
                             reason=Reason.POLICY_REJECTED))
    check = by_name(result, "banner")
    assert check.status is ExitCode.CRITICAL and check.message == "banner 554 5.7.1 policy_rejected"
    assert check.detail == "554 5.7.1 go away"


def test_helo_fallback_is_ok_when_helo_accepted() -> None:
    session = good_session()
    session.steps[1:2] = [step(Context.EHLO, 502, reason=Reason.NOT_IMPLEMENTED, severity=Severity.INFO),
                          step(Context.HELO, 250)]
    check = by_name(evaluate(report(sessions=[session])), "ehlo")
    assert check.status is ExitCode.OK and check.message.startswith("HELO 250")


def test_vrfy_disabled_is_skipped_and_does_not_count() -> None:
    vrfy = {"code": 502, "enhanced": "5.5.1", "reason": "not_implemented", "text": "502 VRFY disabled"}
    result = evaluate(report(addresses=[address(vrfy=vrfy)]))
    check = by_name(result, "vrfy user@example.com")
    assert check.skipped and "VRFY disabled" in check.message and result.exit_code is ExitCode.OK


def test_a_finding_counts_at_its_own_severity_in_every_mode() -> None:
    warn = Finding("mx-is-cname", Severity.WARNING, "MX target is a CNAME", subject="mx1.example.com")
    assert evaluate(report(findings=[warn])).exit_code is ExitCode.WARNING
    assert by_name(evaluate(report(findings=[warn])), "finding mx-is-cname").message == "MX target is a CNAME"
    crit = Finding("mta-sts-mx-not-covered", Severity.CRITICAL, "MTA-STS enforce does not cover mx1")
    result = evaluate(report(findings=[warn, crit]), [parse_expectation("deliverable")])
    assert result.exit_code is ExitCode.CRITICAL  # findings count even with expectations
    assert by_name(result, "finding mx-is-cname").status is ExitCode.WARNING


def test_mta_sts_enforce_not_covering_an_mx_is_critical_per_host() -> None:
    def uncovered(host: str, severity: Severity) -> Finding:
        return Finding("mta-sts-mx-not-covered", severity, f"MX {host} matches no mx pattern", host)

    result = evaluate(report(findings=[uncovered("mx1.example.com", Severity.CRITICAL),
                                       uncovered("mx2.example.com", Severity.CRITICAL)]))
    assert result.exit_code is ExitCode.CRITICAL
    assert {c.mx for c in result.checks if c.name == "finding mta-sts-mx-not-covered"} == {
        "mx1.example.com", "mx2.example.com"}
    # testing mode (WARNING severity): senders do not enforce it yet, a WARNING
    assert evaluate(report(findings=[uncovered("mx1.example.com", Severity.WARNING)])).exit_code is ExitCode.WARNING
    info = Finding("tls-rpt-present", Severity.INFO, "TLS-RPT reports go to ...")
    assert evaluate(report(findings=[info])).exit_code is ExitCode.OK


def test_dane_mismatch_under_dnssec_is_critical() -> None:
    session = good_session()
    session.dane = {"records": 1, "dnssec": True, "match": False}
    assert evaluate(report(sessions=[session])).exit_code is ExitCode.CRITICAL
    session.dane = {"records": 1, "dnssec": False, "match": False}
    assert by_name(evaluate(report(sessions=[session])), "dane").skipped


# --- STARTTLS and certificates -------------------------------------------------------------------

def tls(days_left: int, **cert: Any) -> dict[str, Any]:
    return {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384",
            "certificate": {"not_after": "2027-01-31T00:00:00Z", "days_left": days_left, **cert}}


def test_negotiated_tls_is_reported() -> None:
    check = by_name(evaluate(report(sessions=[good_session(tls=tls(60))])), "starttls")
    assert check.status is ExitCode.OK and "TLSv1.3" in check.message


def test_starttls_not_offered_is_skipped_unless_required() -> None:
    assert by_name(evaluate(report()), "starttls").skipped
    result = evaluate(report(), starttls_required=True)
    assert result.exit_code is ExitCode.CRITICAL
    assert by_name(result, "starttls").message == "STARTTLS required but not offered"


def test_failed_starttls_is_advisory_by_default_and_is_critical_when_required() -> None:
    session = good_session()
    session.extensions.append("STARTTLS")
    session.steps.insert(2, step(Context.STARTTLS, 454, enhanced="4.7.0", reason=Reason.TLS_FAILURE,
                                 severity=Severity.WARNING, command="STARTTLS"))
    result = evaluate(report(sessions=[session]))
    assert result.exit_code is ExitCode.OK and "STARTTLS failed" in by_name(result, "starttls").message
    assert evaluate(report(sessions=[session]), starttls_required=True).exit_code is ExitCode.CRITICAL


@pytest.mark.parametrize(("days", "thresholds", "required", "expected"), [
    (60, (30, 14), False, ExitCode.OK),
    (20, (30, 14), False, ExitCode.WARNING),
    (10, (30, 14), False, ExitCode.CRITICAL),
    (-3, (None, None), False, ExitCode.OK),  # no threshold, not required: reported only
    (-3, (30, None), False, ExitCode.CRITICAL),
    (-3, (None, None), True, ExitCode.CRITICAL),
])
def test_certificate_days_left(days: int, thresholds: tuple[int | None, int | None], required: bool,
                               expected: ExitCode) -> None:
    result = evaluate(report(sessions=[good_session(tls=tls(days))]), cert_warning_days=thresholds[0],
                      cert_critical_days=thresholds[1], starttls_required=required)
    check = by_name(result, "certificate")
    assert check.status is expected and result.exit_code is expected
    assert ("expired 3 days ago" if days < 0 else f"expires in {days} days") in check.message


def test_certificate_trust_problems_are_named() -> None:
    check = by_name(evaluate(report(sessions=[good_session(tls=tls(50, trusted=False))])), "certificate")
    assert check.message == "certificate expires in 50 days (untrusted)"
    check = by_name(evaluate(report(sessions=[good_session(tls=tls(50, hostname_match=False))])), "certificate")
    assert check.message == "certificate expires in 50 days (name mismatch)"


def test_a_line_made_warning_by_a_trust_problem_leads_with_it_not_with_the_date() -> None:
    # found against real Postfix with a certificate for another name: "WARNING - certificate expires in 89 days
    # (name mismatch)" read as an expiry warning; the status is the name mismatch finding's
    mismatch = Finding("cert-name-mismatch", Severity.WARNING, "the certificate is not valid for mx1", MX_HOST)
    result = evaluate(report(sessions=[good_session(tls=tls(89, hostname_match=False))], findings=[mismatch]))
    check = by_name(result, "certificate")
    assert check.status is ExitCode.WARNING
    assert check.message == "certificate name mismatch; expires in 89 days"
    # a date that makes the status itself still leads
    result = evaluate(report(sessions=[good_session(tls=tls(10, hostname_match=False))], findings=[mismatch]),
                      cert_warning_days=30, cert_critical_days=14)
    assert by_name(result, "certificate").message == "certificate expires in 10 days (name mismatch)"


def test_malformed_certificate_data_is_ignored_not_a_crash() -> None:
    result = evaluate(report(sessions=[good_session(tls=tls("soon"))]))  # type: ignore[arg-type]
    assert not [c for c in result.checks if c.name == "certificate"]


# --- time thresholds ---------------------------------------------------------------------------

@pytest.mark.parametrize(("warning", "critical", "expected"), [
    (None, None, ExitCode.OK), (5.0, 10.0, ExitCode.OK), (1.0, 10.0, ExitCode.WARNING),
    (0.5, 1.0, ExitCode.CRITICAL), (None, 1.0, ExitCode.CRITICAL), (1.234, None, ExitCode.OK),
])
def test_total_time_thresholds(warning: float | None, critical: float | None, expected: ExitCode) -> None:
    result = evaluate(report(), warning_s=warning, critical_s=critical)
    check = by_name(result, "time")
    assert check.status is expected and result.exit_code is expected
    assert check.message.startswith("probe took 1.234 s")
    if expected is not ExitCode.OK:
        assert f"{expected.name.lower()} over" in check.message


# --- expectations --------------------------------------------------------------------------------

def expect(r: Report, *texts: str) -> HealthResult:
    return evaluate(r, [parse_expectation(t) for t in texts])


def test_met_expectations_override_default_judgement() -> None:
    bad = address(Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, 550, enhanced="5.1.1")
    result = expect(report(addresses=[bad]), "undeliverable", "reason=user_unknown", "code=550", "code=5.1.1")
    assert result.exit_code is ExitCode.OK
    assert by_name(result, "rcpt user@example.com").status is ExitCode.OK  # observed, not judged
    assert [e["met"] for e in result.expectations] == [True, True, True, True]
    assert result.expectations[0]["expect"] == "undeliverable"
    assert result.summary.endswith("4 expectations met")


def test_no_mail_is_met_by_null_mx_and_by_521_banner() -> None:
    null = report(DomainStatus.DOES_NOT_ACCEPT_MAIL, sessions=[], addresses=[], mx_source="null",
                  reason=Reason.NOT_ACCEPTING_MAIL)
    assert expect(null, "no-mail").exit_code is ExitCode.OK
    banner = step(Context.BANNER, 521, reason=Reason.NOT_ACCEPTING_MAIL, severity=Severity.CRITICAL)
    session = Session("mx1.example.com", "192.0.2.1", 25, "rejected", steps=[banner])
    parked = report(DomainStatus.UNREACHABLE, sessions=[session], addresses=[], reason=Reason.NOT_ACCEPTING_MAIL)
    assert expect(parked, "no-mail").exit_code is ExitCode.OK
    assert expect(report(), "no-mail").exit_code is ExitCode.CRITICAL


def test_accepts_mail_unmet() -> None:
    assert expect(report(DomainStatus.NO_SUCH_DOMAIN, sessions=[], addresses=[]),
                  "accepts-mail").exit_code is ExitCode.CRITICAL
    deferred = report(DomainStatus.UNREACHABLE, sessions=[], addresses=[], reason=Reason.GREYLISTED)
    assert expect(deferred, "accepts-mail").exit_code is ExitCode.WARNING


@pytest.mark.parametrize(("wanted", "verdict", "expected"), [
    ("deliverable", Verdict.RISKY, ExitCode.WARNING),
    ("deliverable", Verdict.UNKNOWN, ExitCode.WARNING),
    ("deliverable", Verdict.UNDELIVERABLE, ExitCode.CRITICAL),
    ("undeliverable", Verdict.DELIVERABLE, ExitCode.CRITICAL),
    ("undeliverable", Verdict.RISKY, ExitCode.WARNING),
    ("risky", Verdict.DELIVERABLE, ExitCode.CRITICAL),
    ("risky", Verdict.UNKNOWN, ExitCode.WARNING),
    ("risky", Verdict.RISKY, ExitCode.OK),
])
def test_verdict_expectations(wanted: str, verdict: Verdict, expected: ExitCode) -> None:
    result = expect(report(addresses=[address(verdict, Reason.UNKNOWN)]), wanted)
    assert result.exit_code is expected
    assert result.expectations[0]["met"] is (expected is ExitCode.OK)


def test_verdict_expectation_needs_an_address() -> None:
    result = expect(report(addresses=[]), "deliverable")
    assert result.exit_code is ExitCode.UNKNOWN and "no address" in result.summary


def test_every_address_must_meet_the_verdict_expectation() -> None:
    addrs = [address(), address(Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, 550, addr="gone@example.com")]
    result = expect(report(addresses=addrs), "deliverable")
    assert result.exit_code is ExitCode.CRITICAL and "gone@example.com undeliverable" in result.summary


def test_code_and_reason_expectations_unmet() -> None:
    result = expect(report(), "code=550", "reason=user_unknown")
    assert result.exit_code is ExitCode.CRITICAL
    assert "codes seen: 220, 250" in by_name(result, "expect code=550").message
    greylisted = address(Verdict.RISKY, Reason.GREYLISTED, 450)
    assert expect(report(addresses=[greylisted]), "code=550").exit_code is ExitCode.WARNING


def test_code_expectation_sees_the_whole_dialogue() -> None:
    session = good_session()
    session.steps.insert(2, step(Context.VRFY, 252, enhanced="2.5.2", reason=Reason.CANNOT_VERIFY))
    assert expect(report(sessions=[session]), "code=252", "code=2.5.2").exit_code is ExitCode.OK


def test_starttls_expectation() -> None:
    assert expect(report(sessions=[good_session(tls=tls(60))]), "starttls").exit_code is ExitCode.OK
    result = expect(report(), "starttls")
    assert result.exit_code is ExitCode.CRITICAL and "no TLS with mx1.example.com" in result.summary
    assert expect(report(sessions=[], addresses=[]), "starttls").exit_code is ExitCode.CRITICAL


def test_unmet_expectations_take_the_worst_state() -> None:
    risky = address(Verdict.RISKY, Reason.CANNOT_VERIFY, 252)
    result = expect(report(addresses=[risky]), "deliverable", "accepts-mail")
    assert result.exit_code is ExitCode.WARNING
    assert [e["met"] for e in result.expectations] == [False, True]


def test_thresholds_still_apply_with_expectations() -> None:
    result = evaluate(report(), [parse_expectation("accepts-mail")], critical_s=1.0)
    assert result.exit_code is ExitCode.CRITICAL and "took 1.234 s" in result.summary


# --- the lead's exit-code policy, one test per rule ----------------------------------------------

FAILED_TLS = {"version": None, "cipher": None, "certificate": None, "error": "handshake timed out"}


def failed_tls_session() -> Session:
    session = good_session(tls=dict(FAILED_TLS))
    session.extensions.append("STARTTLS")
    session.steps.insert(2, step(Context.STARTTLS, 220, command="STARTTLS"))
    return session


def test_failed_handshake_is_not_tls() -> None:
    from probe.judge.health import tls_negotiated

    assert not tls_negotiated(FAILED_TLS) and not tls_negotiated(None) and not tls_negotiated({})
    assert tls_negotiated({"version": "TLSv1.3", "error": None})
    r = report(sessions=[failed_tls_session()])
    assert expect(r, "starttls").exit_code is ExitCode.CRITICAL
    assert "STARTTLS failed" in by_name(evaluate(r), "starttls").message
    assert evaluate(r, starttls_required=True).exit_code is ExitCode.CRITICAL


def test_dns_error_from_the_domains_servers_is_a_warning() -> None:
    r = report(DomainStatus.DNS_ERROR, sessions=[], addresses=[], reason=Reason.DNS_ERROR,
               summary="t.test: DNS lookup failed with SERVFAIL from 127.0.0.1:53.")
    result = evaluate(r)
    assert result.exit_code is ExitCode.WARNING and by_name(result, "domain").status is ExitCode.WARNING


def test_unreachable_own_resolver_is_unknown() -> None:
    r = report(DomainStatus.DNS_ERROR, sessions=[], addresses=[], reason=Reason.DNS_ERROR,
               summary="t.test: DNS lookup timed out (no answer within 2 s from 127.0.0.1:53).")
    assert evaluate(r).exit_code is ExitCode.WARNING  # words alone decide nothing
    r.findings.append(Finding("dns-resolver-unreachable", Severity.WARNING, "No DNS answer for t.test", "t.test"))
    result = evaluate(r)
    assert result.exit_code is ExitCode.UNKNOWN and "local resolver failure" in result.summary


def test_4xx_banner_is_a_warning_whatever_the_reason() -> None:
    banner = step(Context.BANNER, 421, enhanced="4.3.2", reason=Reason.POLICY_REJECTED, severity=Severity.CRITICAL)
    session = Session("mx1.example.com", "192.0.2.1", 25, "rejected", steps=[banner])
    result = evaluate(report(DomainStatus.UNREACHABLE, sessions=[session], addresses=[],
                             reason=Reason.POLICY_REJECTED))
    assert result.exit_code is ExitCode.WARNING and by_name(result, "banner").status is ExitCode.WARNING


def test_port25_blocked_is_unknown_not_critical() -> None:
    dead = Session("mx1.example.com", "192.0.2.1", 25, "timeout", error="connect timed out")
    blocked = Finding("port25-blocked", Severity.WARNING, "Outbound port 25 looks blocked from this network")
    result = evaluate(report(DomainStatus.UNREACHABLE, sessions=[dead], addresses=[],
                             reason=Reason.NETWORK_ERROR, findings=[blocked]))
    assert result.exit_code is ExitCode.UNKNOWN and "port 25" in result.summary


@pytest.mark.parametrize(("finding", "expected"), [
    (Finding("starttls-missing", Severity.INFO, "no STARTTLS", "mx1.example.com"), ExitCode.OK),
    (Finding("mx-is-cname", Severity.WARNING, "MX is a CNAME", "mx1.example.com"), ExitCode.WARNING),
    (Finding("tls-rpt-absent", Severity.INFO, "no TLS-RPT"), ExitCode.OK),
    (Finding("mta-sts-policy-unreachable", Severity.WARNING, "policy fetch failed"), ExitCode.WARNING),
    (Finding("cert-expired", Severity.WARNING, "certificate expired", "mx1.example.com"), ExitCode.WARNING),
    (Finding("cert-expired", Severity.CRITICAL, "certificate expired", "mx1.example.com"), ExitCode.CRITICAL),
])
def test_the_exit_code_follows_each_findings_severity(finding: Finding, expected: ExitCode) -> None:
    result = evaluate(report(findings=[finding]))
    assert result.exit_code is expected and by_name(result, f"finding {finding.id}").status is expected


@pytest.mark.parametrize("finding_id", ["mta-sts-mx-not-covered", "mta-sts-cert-fails", "dane-mismatch",
                                        "dane-no-tls"])
def test_findings_the_issues_call_critical_always_count(finding_id: str) -> None:
    finding = Finding(finding_id, Severity.CRITICAL, "enforced policy broken", "mx1.example.com")
    assert evaluate(report(findings=[finding])).exit_code is ExitCode.CRITICAL
    assert expect(report(findings=[finding]), "deliverable").exit_code is ExitCode.CRITICAL


def test_starttls_findings_count_at_their_severity() -> None:
    # tlsinfo.starttls_findings makes them CRITICAL under --starttls require, WARNING otherwise
    missing = Finding("starttls-missing", Severity.CRITICAL, "no STARTTLS", "mx1.example.com")
    assert evaluate(report(findings=[missing]), starttls_required=True).exit_code is ExitCode.CRITICAL
    missing.severity = Severity.WARNING
    assert evaluate(report(findings=[missing])).exit_code is ExitCode.WARNING


def test_a_handshake_the_server_ends_with_internal_error_fails_for_every_sender() -> None:
    """TLS alert 80, internal_error, is 'unrelated to the peer' (RFC 8446 §6.2): real OpenSMTPD 6.8 on OpenSSL 3
    (Debian 12) ends every handshake so. Offered STARTTLS then fails for everyone: said so (INFO, as any failed
    STARTTLS in auto mode); with mail refused in clear text no sender can deliver: CRITICAL. Another failure keeps
    the old words."""
    from probe.tls.certificates import starttls_findings

    alert = {"error": "TLS handshake failed: tlsv1 alert internal error; continuing in plain text on a new connection"}
    refusal = "530 5.5.1 Invalid command: Must issue a STARTTLS command first"
    (info,) = starttls_findings("mx1.example.com", alert, offered=True, mode="auto")
    assert info.severity is Severity.INFO and "every sender's STARTTLS likely fails" in info.message
    (closed,) = starttls_findings("mx1.example.com", alert, offered=True, mode="auto", plain_refused=refusal)
    assert closed.severity is Severity.CRITICAL and "no sender can deliver" in closed.message
    other = {"error": "TLS handshake failed: sslv3 alert handshake failure"}
    (warning,) = starttls_findings("mx1.example.com", other, offered=True, mode="auto", plain_refused=refusal)
    assert warning.severity is Severity.WARNING and "fails the same way" in warning.message


@pytest.mark.parametrize(("days", "expected"), [(8, ExitCode.WARNING), (7, ExitCode.CRITICAL),
                                                (21, ExitCode.WARNING), (22, ExitCode.OK)])
def test_certificate_thresholds_use_the_same_comparison_as_the_findings(days: int, expected: ExitCode) -> None:
    from probe.tls.certificates import certificate_findings

    result = evaluate(report(sessions=[good_session(tls=tls(days))]), cert_warning_days=21, cert_critical_days=7)
    assert by_name(result, "certificate").status is expected
    findings = certificate_findings("mx1.example.com", tls(days)["certificate"], warning_days=21, critical_days=7)
    severity = max((f.severity for f in findings), key=list(Severity).index, default=Severity.OK)
    assert {Severity.OK: ExitCode.OK, Severity.WARNING: ExitCode.WARNING,
            Severity.CRITICAL: ExitCode.CRITICAL}[severity] is expected


def test_sentences_joined_in_the_summary_do_not_end_in_a_stop_before_the_semicolon() -> None:
    found = [Finding(f"f{i}", Severity.WARNING, f"Sentence number {i}. Do this.", subject="mx1.example.com")
             for i in (1, 2)]
    summary = evaluate(report(findings=found)).summary
    assert "Do this (mx1.example.com); Sentence number 2" in summary and ".;" not in summary
