"""A domain-only report refused by the server: the advice is in the default report (text, Nagios), and a refused
EHLO name's advice says which check refused it and how to probe past it (--helo). Hand-built reports, no network;
tests/realmta pins the same against real Postfix and Exim."""

from __future__ import annotations

from probe.judge.advice import helo_refused
from probe.judge.health import evaluate
from probe.model import Context, DomainStatus, Reason, Report, Severity
from probe.render.nagios import render_nagios
from probe.render.text import render_text

from sample_reports import mx_session, one_mx_report, step

POSTFIX = "450 4.7.1 <probe.example.net>: Helo command rejected: Host not found"  # smtpd_check.c
EXIM = "451 EHLO argument does not match calling host"  # smtp_in.c, helo_verify_hosts


def _refused_at_ehlo(text: str, code: int, advice: str) -> Report:
    refusal = step(Context.EHLO, code, "EHLO probe.example.net", reason=Reason.HELO_REJECTED,
                   severity=Severity.WARNING, text=text)
    refusal.remediation = advice
    return one_mx_report([mx_session([step(Context.BANNER, 220), refusal], outcome="deferred")], [],
                         status=DomainStatus.REFUSES_THIS_CLIENT, reason=Reason.HELO_REJECTED)


def test_a_refused_helo_name_names_the_check_and_the_way_past_it() -> None:
    postfix = helo_refused("mx1.example.com", "probe.example.net", POSTFIX, 450)
    assert postfix.startswith("mx1.example.com refused the EHLO name the probe gave, probe.example.net, by Postfix's "
                              "reject_unknown_helo_hostname")
    assert "Probe again with --helo NAME" in postfix
    exim = helo_refused(None, "probe.example.net", EXIM, 451)
    assert "Exim's helo_verify_hosts" in exim and "said with a 451: a DNS lookup of the check failed for now" in exim
    other = helo_refused("mx", "probe.example.net", "550 5.7.1 bad helo", 550)
    assert "smtpd_helo_restrictions; Exim: helo_verify_hosts or an acl_smtp_helo statement" in other


def test_a_domain_only_refusal_shows_its_advice_without_v() -> None:
    advice = helo_refused("mx1.example.com", "probe.example.net", POSTFIX, 450)
    report = _refused_at_ehlo(POSTFIX, 450, advice)
    health = evaluate(report)
    text = " ".join(render_text(report, health=health).split())
    assert f"What to do {advice}" in text
    assert f"\n  fix: {advice}\n" in render_nagios(report, health)
