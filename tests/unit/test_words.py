"""Issue 12, the words: advice from the run's facts, summaries that agree with the tables, nothing said twice,
text that fits the width. Pure tests on hand-built reports; tests/cli/test_golden.py shows whole reports."""

from __future__ import annotations

from dataclasses import replace

import pytest

from probe.diagnosis.classifier import classify, unlocated
from probe.judge.advice import RunFacts, address_advice, tls_consequence
from probe.judge.health import evaluate, finish_report, parse_expectation
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
    Verdict,
)
from probe.render.nagios import render_nagios
from probe.render.text import render_text
from probe.render.wrap import columns, wrap
from probe.run.selfaudit import SourceAudit

from sample_reports import DOMAIN, MX_HOST, MX_IP, mx_session, one_mx_report, step

FACTS = RunFacts(domain=DOMAIN)


def accepted(**kw: object) -> AddressResult:
    base = AddressResult(f"a@{DOMAIN}", Verdict.DELIVERABLE, Reason.ACCEPTED, 250, "2.1.5", "m",
                         "The address is accepted at SMTP time. If the probe's random control address was accepted "
                         "too, the domain accepts all recipients and 250 proves nothing about this one.",
                         host=MX_HOST, command="RCPT", text="250 2.1.5 Ok")
    return replace(base, **kw)  # type: ignore[arg-type]


# --- 1. advice from the facts of this run --------------------------------------------------------------

def test_accepted_address_says_what_the_catch_all_test_showed() -> None:
    refused = address_advice(accepted(catch_all=False), FACTS).remediation
    assert "refused a random one" in refused
    assert "If the probe's random control address" not in refused and "catch-all domains say" not in refused
    skipped = address_advice(accepted(catch_all=None), replace(FACTS, catch_all_tested=False)).remediation
    assert "--no-catch-all" in skipped
    unclear = address_advice(accepted(catch_all=None), FACTS).remediation
    assert "no clear answer" in unclear


def test_relay_denied_advice_knows_whether_the_host_was_named_with_mx() -> None:
    denied = accepted(verdict=Verdict.UNDELIVERABLE, reason=Reason.RELAY_DENIED, code=554, enhanced="5.7.1")
    with_mx = address_advice(denied, replace(FACTS, mx_override=True)).remediation
    from_dns = address_advice(denied, FACTS).remediation
    assert "named with --mx" in with_mx and "If you are probing" not in with_mx
    assert f"{DOMAIN}'s MX records point at {MX_HOST}" in from_dns and "If you are probing" not in from_dns


def test_greylisting_retry_says_when_and_what_it_got() -> None:
    attempts = [{"host": MX_HOST, "address": MX_IP, "code": 450, "enhanced": "4.2.0", "reason": "greylisted",
                 "text": "450 4.2.0 Greylisted", "waited_s": 0.0},
                {"host": MX_HOST, "address": MX_IP, "code": 250, "enhanced": "2.1.5", "reason": "accepted",
                 "text": "250 2.1.5 Ok", "waited_s": 65.0}]
    done = address_advice(accepted(attempts=attempts, catch_all=False), FACTS).remediation
    assert done.startswith("Greylisted at first (450 4.2.0 greylisted); asked again 65 s later")
    assert "answered 250 2.1.5 (accepted)" in done and "--retry-greylist" not in done
    again = [attempts[0], {**attempts[1], "code": 450, "enhanced": "4.2.0", "reason": "greylisted"}]
    still = address_advice(accepted(attempts=again, verdict=Verdict.RISKY, reason=Reason.GREYLISTED), FACTS)
    assert "Still greylisted" in still.remediation and "longer --retry-greylist" in still.remediation


def test_a_4xx_domain_not_found_names_postfixs_default_not_a_test_setting() -> None:
    """Postfix's reject_unknown_recipient_domain (smtpd_check.c) says "<a>: Recipient address rejected: Domain not
    found" with unknown_address_reject_code, whose default is 450 (postconf(5)): not soft_bounce or
    unknown_local_recipient_reject_code, the settings for testing that turn an unknown user's 550 into a 450."""
    text = "450 4.1.2 <a@example.org>: Recipient address rejected: Domain not found"
    nodomain = accepted(verdict=Verdict.UNDELIVERABLE, reason=Reason.DOMAIN_UNKNOWN, code=450, enhanced="4.1.2",
                        text=text)
    said = address_advice(nodomain, FACTS).remediation
    assert "unknown_address_reject_code = 450" in said and "the default" in said
    assert "soft_bounce" not in said and "unknown_local_recipient_reject_code" not in said
    unknown = accepted(verdict=Verdict.RISKY, reason=Reason.USER_UNKNOWN, code=450, enhanced="4.1.1")
    assert "unknown_local_recipient_reject_code = 450" in address_advice(unknown, FACTS).remediation


@pytest.mark.parametrize(("sts", "dane", "said", "not_said"), [
    ({"status": "absent"}, {"records": 0}, "publishes neither an enforced MTA-STS policy nor DANE", "will not"),
    ({"status": "ok", "mode": "enforce"}, {"records": 0}, "will not deliver to this host", "still deliver"),
    ({"status": "ok", "mode": "testing"}, None, "testing mode", "will not"),
    ({"status": "absent"}, {"records": 1, "dnssec": True}, "DNSSEC-signed TLSA records", "still deliver"),
    ({"status": "absent"}, {"error": "SERVFAIL"}, "not known", "neither"),
    (None, None, "not checked in this run", "neither"),
])
def test_tls_consequence_follows_the_domains_policies(sts: dict[str, object] | None,
                                                      dane: dict[str, object] | None, said: str,
                                                      not_said: str) -> None:
    text = tls_consequence(sts, dane)
    assert said in text and not_said not in text


def test_the_reply_location_is_a_label_not_the_start_of_the_advice() -> None:
    d = classify("550 5.1.1 unknown", "RCPT", host="mx1.example.org")
    assert d.remediation.startswith("RCPT reply from mx1.example.org: ")  # probe.classify keeps it
    assert not unlocated(d).startswith("RCPT") and unlocated(d) in d.remediation
    assert unlocated(classify("550 5.1.1 unknown")) == classify("550 5.1.1 unknown").remediation


# --- 2. summaries agree with the tables ----------------------------------------------------------------

def test_a_banner_timeout_is_not_cannot_connect() -> None:
    timeout = step(Context.BANNER, None, reason=Reason.NETWORK_ERROR, severity=Severity.WARNING,
                   text="while waiting for the banner")
    report = one_mx_report([mx_session([timeout], outcome="timeout", error="reply-timeout: while waiting")], [],
                           status=DomainStatus.UNREACHABLE, reason=Reason.NETWORK_ERROR)
    health = evaluate(report)
    check = next(c for c in health.checks if c.mx == MX_HOST)
    assert check.name == "banner" and check.message == f"connected to {MX_IP}:25, then timed out while waiting " \
                                                       "for the banner"
    assert "cannot connect" not in health.summary


def test_a_host_without_an_address_was_not_tried() -> None:
    report = Report(DOMAIN, DomainStatus.UNREACHABLE, reason=Reason.NOT_ACCEPTING_MAIL,
                    mx=[MxHost("ghost.example.com", 10, [], error="host name does not exist (NXDOMAIN)")],
                    sessions=[Session("ghost.example.com", "", 25, "unreachable",
                                      error="host name does not exist (NXDOMAIN)")])
    health = evaluate(report)
    assert "not tried: ghost.example.com has no address (host name does not exist (NXDOMAIN))" in health.summary
    assert "unreachable" not in health.summary.split("(")[0] and "cannot connect" not in health.summary
    assert health.summary.startswith(f"{DOMAIN}: no MX host has an address, so none was tried")
    assert "no mail server answered" not in health.summary


def test_require_never_blames_the_220_that_started_tls() -> None:
    steps = [step(Context.BANNER, 220), step(Context.EHLO, 250, "EHLO p"),
             step(Context.STARTTLS, 220, "STARTTLS", text="220 2.0.0 Ready to start TLS"),
             step(Context.TLS, None, reason=Reason.TLS_FAILURE, severity=Severity.WARNING,
                  text="certificate untrusted (self-signed certificate)")]
    session = mx_session(steps, outcome="tls_failed", extensions=["STARTTLS"],
                         tls={"version": None, "error": "certificate untrusted (self-signed certificate)"})
    health = evaluate(one_mx_report([session], [], reason=Reason.TLS_FAILURE), starttls_required=True)
    starttls = next(c for c in health.checks if c.name == "starttls")
    assert starttls.message == "STARTTLS failed: certificate untrusted (self-signed certificate)"
    assert starttls.detail is None, "the TLS failure is the probe's observation, not a server's reply"
    assert "220" not in health.summary


def test_nagios_server_said_quotes_servers_only() -> None:
    event = AddressResult(f"a@{DOMAIN}", Verdict.UNKNOWN, Reason.NETWORK_ERROR, None, None, "m", "r",
                          host=MX_HOST, command="connect", text="connect-refused: connection refused")
    report = one_mx_report([mx_session([step(Context.CONNECT, None, reason=Reason.NETWORK_ERROR,
                                             severity=Severity.WARNING, text="connection refused")],
                                       outcome="refused", error="connect-refused: connection refused")], [event],
                           status=DomainStatus.UNREACHABLE, reason=Reason.NETWORK_ERROR,
                           summary=f"{DOMAIN}: no mail server could be reached")
    out = render_nagios(report, evaluate(report))
    assert "server said" not in out and "probe saw: connect-refused: connection refused" in out


def test_the_summary_of_a_critical_run_says_why() -> None:
    report = one_mx_report([mx_session([step(Context.BANNER, 220), step(Context.EHLO, 250, "EHLO p")])], [],
                           summary=f"{DOMAIN} accepts mail")
    finish_report(report, [parse_expectation("no-mail")])
    assert report.exit_code is ExitCode.CRITICAL
    assert report.summary == f"{DOMAIN} accepts mail; CRITICAL: expected no-mail: domain accepts mail (accepted)"
    ok = one_mx_report([mx_session([step(Context.BANNER, 220)])], [], summary=f"{DOMAIN} accepts mail")
    finish_report(ok)
    assert ok.summary == f"{DOMAIN} accepts mail", "nothing added when the exit code needs no explaining"


# --- 5. 80 columns, nothing repeated per address -------------------------------------------------------

def two_addresses(vrfy_text: str, rcpt_text: str = "250 2.1.5 Ok") -> Report:
    vrfy = {"code": 252, "enhanced": "2.5.2", "reason": "cannot_verify", "text": vrfy_text}
    addresses = [accepted(address=f"{u}@{DOMAIN}", catch_all=False, vrfy=dict(vrfy), text=rcpt_text)
                 for u in ("a", "b")]
    return one_mx_report([mx_session([step(Context.BANNER, 220)])], addresses)


def test_catch_all_and_a_shared_vrfy_answer_are_said_once() -> None:
    text = render_text(two_addresses("252 2.5.2 Cannot VRFY user"))
    assert text.count("catch-all:") == 1 and text.count("Cannot VRFY user") == 1
    assert "the same for every address" in text


def test_a_vrfy_reply_equal_to_the_rcpt_reply_is_not_repeated() -> None:
    report = two_addresses("x")
    report.addresses = report.addresses[:1]
    report.addresses[0].vrfy = {"code": 550, "reason": "user_unknown", "text": "550 5.1.1 no such user here"}
    report.addresses[0].text = "550 5.1.1 no such user here"
    text = render_text(report)
    assert text.count("550 5.1.1 no such user here") == 1 and "VRFY: the same reply" in text


@pytest.mark.parametrize("width", [60, 80, 120])
def test_text_reports_fit_the_width(width: int) -> None:
    report = two_addresses("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery " * 2)
    report.summary = "a long summary " * 20
    long_reply = step(Context.RCPT, 550, "RCPT TO:<a@example.com>", reason=Reason.USER_UNKNOWN,
                      severity=Severity.CRITICAL, text="550 5.1.1 <a@example.com>: Recipient address rejected: "
                                                       "User unknown in local recipient table")
    report.sessions[0].steps.append(long_reply)
    lines = render_text(report, width=width, verbose=True).splitlines()
    assert max(len(line) for line in lines) <= width
    transcript = " ".join(render_text(report, width=width, verbose=True).split())
    assert "local recipient table [user_unknown] 10 ms" in transcript, "the reason and time stay together"


def test_columns_come_from_the_environment() -> None:
    assert columns({}) == 80 and columns({"COLUMNS": "132"}) == 132
    assert columns({"COLUMNS": "abc"}) == 80 and columns({"COLUMNS": "5"}) == 80
    lines = wrap("x " * 50, 30, "  ")
    assert all(len(line) <= 30 and line.startswith("  x") for line in lines) and len(lines) == 4
    url = "https://" + "a" * 60
    assert wrap(f"see {url}", 30) == ["see", url], "a word longer than the line is kept whole"


# --- 8. self-check ---------------------------------------------------------------------------------------

def test_helo_advice_never_names_a_non_fqdn() -> None:
    audit = SourceAudit("192.0.2.1", helo="probe", ptr=["localhost"], ptr_status="ok", forward_confirmed=True,
                        helo_matches_ptr=False, helo_resolves_to_ip=False)
    (finding,) = [f for f in audit.findings() if f.id == "source-helo-mismatch"]
    assert "--helo localhost" not in finding.message and "fully qualified" in finding.message
    named = replace(audit, ptr=["mail.example.com"])
    assert "use --helo mail.example.com" in next(f.message for f in named.findings() if f.subject == "probe")


def test_blocklists_failing_alike_are_one_finding() -> None:
    from probe.run.selfaudit import DnsblResult

    failed = [DnsblResult(zone, f"1.2.0.192.{zone}", "error", error="REFUSED from 127.0.0.1:53")
              for zone in ("zen.spamhaus.org", "bl.spamcop.net")]
    other = DnsblResult("psbl.surriel.com", "q", "error", error="no answer within 1 s")
    audit = SourceAudit("192.0.2.1", ptr_status="error", ptr_error="REFUSED from 127.0.0.1:53",
                        dnsbl=[*failed, other])
    found = [f for f in audit.findings() if f.id == "source-dnsbl-failed"]
    assert [f.message.split(":")[0] for f in found] == [
        "Could not check 2 DNS blocklists (zen.spamhaus.org, bl.spamcop.net)",
        "Could not check Passive Spam Block List (psbl.surriel.com)"]
    ptr = [f for f in audit.findings() if f.id.startswith("source-") and "PTR" in f.message]
    assert len(ptr) == 1 and "none" not in ptr[0].message


def test_a_refusal_on_the_mx_row_is_not_repeated_under_the_address() -> None:
    said = "554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org"
    banner = step(Context.BANNER, 554, enhanced="5.7.1", reason=Reason.BLOCKLISTED, severity=Severity.CRITICAL,
                  text=said)
    address = AddressResult(f"a@{DOMAIN}", Verdict.UNKNOWN, Reason.BLOCKLISTED, 554, "5.7.1", "m", "r",
                            host=MX_HOST, command="banner", text=said)
    report = one_mx_report([mx_session([banner], outcome="rejected")], [address],
                           status=DomainStatus.UNREACHABLE, reason=Reason.BLOCKLISTED)
    words = " ".join(render_text(report).split())
    assert words.count(said) == 1 and f"banner reply from {MX_HOST}: the one on its row above" in words
    assert render_nagios(report, evaluate(report)).count("server said") == 1
