"""Verdict rules: a blocked or timed-out probe is `unknown`, never `undeliverable`."""

from __future__ import annotations

import pytest

from probe.inputs import parse_address
from probe.judge.conclude import conclude
from probe.judge.verdicts import address_verdict, asked_elsewhere, domain_status_from_refusal, worst_reason
from probe.judge.walk import Walk
from probe.model import (
    AddressResult,
    Context,
    Diagnosis,
    DomainStatus,
    Finding,
    Reason,
    Reply,
    ReplyClass,
    Report,
    Severity,
    Verdict,
)
from probe.smtp.exchanges import Exchange, SessionRecord


def diag(code: int | None, reason: Reason) -> Diagnosis:
    return Diagnosis("x", code, None, ReplyClass.of(code), None, reason, Severity.INFO, "", "", "")


@pytest.mark.parametrize(
    ("code", "reason", "catch_all", "expected"),
    [
        (250, Reason.ACCEPTED, False, Verdict.DELIVERABLE),
        (250, Reason.ACCEPTED, None, Verdict.DELIVERABLE),
        (250, Reason.ACCEPTED, True, Verdict.RISKY),
        (251, Reason.WILL_FORWARD, False, Verdict.DELIVERABLE),
        (252, Reason.CANNOT_VERIFY, None, Verdict.RISKY),
        (550, Reason.USER_UNKNOWN, None, Verdict.UNDELIVERABLE),
        (450, Reason.USER_UNKNOWN, None, Verdict.RISKY),
        (552, Reason.MAILBOX_FULL, None, Verdict.RISKY),
        (450, Reason.GREYLISTED, None, Verdict.RISKY),
        (554, Reason.BLOCKLISTED, None, Verdict.UNKNOWN),
        (550, Reason.REVERSE_DNS, None, Verdict.UNKNOWN),
        (421, Reason.RATE_LIMITED, None, Verdict.UNKNOWN),
        (None, Reason.NETWORK_ERROR, None, Verdict.UNKNOWN),
        (None, Reason.DOMAIN_UNKNOWN, None, Verdict.UNDELIVERABLE),
        (None, Reason.NOT_ACCEPTING_MAIL, None, Verdict.UNDELIVERABLE),
        (521, Reason.NOT_ACCEPTING_MAIL, None, Verdict.UNDELIVERABLE),
        (550, Reason.RELAY_DENIED, None, Verdict.UNDELIVERABLE),
        (550, Reason.UNKNOWN, None, Verdict.UNDELIVERABLE),
        (451, Reason.UNKNOWN, None, Verdict.UNKNOWN),
        (554, Reason.POLICY_REJECTED, None, Verdict.UNKNOWN),
    ],
)
def test_address_verdict(code: int | None, reason: Reason, catch_all: bool | None, expected: Verdict) -> None:
    assert address_verdict(diag(code, reason), catch_all=catch_all) is expected


def test_a_permanent_list_expansion_failure_is_undeliverable() -> None:
    """5.2.4 at RCPT (RFC 3463 X.2.4, a mailbox status): nothing to deliver to, mail bounces. OpenSMTPD says it to
    every address its virtual table lacks (lka_session.c); system_error alone would make it unknown. The random
    address refused so says the domain is no catch-all; a 4.2.4 stays unknown."""
    from dataclasses import replace

    from probe.judge.catchall import catch_all_answer

    failed = replace(diag(524, Reason.SYSTEM_ERROR), enhanced="5.2.4")
    assert address_verdict(failed) is Verdict.UNDELIVERABLE
    assert catch_all_answer(failed, answered_rcpt=True) is False
    deferred = replace(diag(424, Reason.SYSTEM_ERROR), enhanced="4.2.4")
    assert address_verdict(deferred) is Verdict.UNKNOWN
    assert catch_all_answer(deferred, answered_rcpt=True) is None


def test_policy_block_is_not_unknown_user() -> None:
    # Reacher's negative test: a 5.7.1 policy block says nothing about the mailbox
    assert address_verdict(diag(554, Reason.POLICY_REJECTED)) is not Verdict.UNDELIVERABLE


def test_refusal_status_a_host_that_answered_is_never_unreachable() -> None:
    assert domain_status_from_refusal(diag(521, Reason.NOT_ACCEPTING_MAIL)) is DomainStatus.DOES_NOT_ACCEPT_MAIL
    for reason in (Reason.BLOCKLISTED, Reason.POLICY_REJECTED, Reason.HELO_REJECTED, Reason.UNKNOWN):
        assert domain_status_from_refusal(diag(554, reason)) is DomainStatus.REFUSES_THIS_CLIENT


def test_worst_reason_prefers_permanent() -> None:
    assert worst_reason([diag(None, Reason.NETWORK_ERROR), diag(554, Reason.BLOCKLISTED),
                         diag(421, Reason.SERVICE_UNAVAILABLE)]) is Reason.BLOCKLISTED
    assert worst_reason([]) is Reason.UNKNOWN


# -- an address of another domain than the one whose MX was asked --------------------------------


@pytest.mark.parametrize(
    ("code", "verdict", "expected"),
    [(250, Verdict.DELIVERABLE, Verdict.UNKNOWN), (250, Verdict.RISKY, Verdict.UNKNOWN),
     (451, Verdict.RISKY, Verdict.UNKNOWN), (550, Verdict.UNDELIVERABLE, Verdict.UNDELIVERABLE),
     (None, Verdict.UNDELIVERABLE, Verdict.UNKNOWN)],  # None: DNS of the asked domain (e.g. its null MX)
)
def test_asked_elsewhere_keeps_only_a_permanent_refusal(code: int | None, verdict: Verdict,
                                                        expected: Verdict) -> None:
    result = AddressResult("b@y.test", verdict, Reason.ACCEPTED, code, None, "Accepted.", "Nothing to do.")
    asked = asked_elsewhere(result, "x.test", "y.test")
    assert asked.verdict is expected and asked.reason is Reason.ACCEPTED
    assert asked.note == "asked x.test's MX, which is not y.test's MX: acceptance means relaying/backup, " \
                         "not deliverability"
    assert asked.meaning.startswith("Asked x.test's MX") and "probe y.test itself" in asked.remediation


# -- what the report says when no host decided (probe.judge.conclude) ----------------------------------


def walk_of(*records: SessionRecord, findings: tuple[Finding, ...] = ()) -> Walk:
    walk = Walk(Report(domain="x.test", status=DomainStatus.UNREACHABLE, findings=list(findings)))
    walk.records.extend(records)
    return walk


def timed_out(host: str) -> SessionRecord:
    record = SessionRecord(host, "192.0.2.1", 25, outcome="timeout")
    record.exchanges.append(Exchange(None, Context.CONNECT, None, "connect-timeout", "no answer in 10 s", 10.0))
    return record


def test_blocked_port_25_is_the_headline_not_unreachable() -> None:
    blocked = Finding("port25-blocked", Severity.WARNING, "Outbound port 25 looks blocked ...")
    walk = walk_of(timed_out("mx1.x.test"), timed_out("mx2.x.test"), findings=(blocked,))
    conclude(walk, [parse_address("a@x.test")])
    report = walk.report
    assert "port 25 looks blocked" in report.summary and "no mail server" not in report.summary
    assert report.addresses[0].verdict is Verdict.UNKNOWN


def test_without_a_blocked_port_the_summary_names_each_host() -> None:
    late = SessionRecord("mx2.x.test", "192.0.2.2", 25, outcome="timeout")
    late.exchanges += [Exchange(None, Context.BANNER, Reply(220, ("mx2 ESMTP",)), None, "", 1.0),
                       Exchange(None, Context.RCPT, None, "reply-timeout",
                                "while waiting for the reply to RCPT TO:<a@x.test>", 10.0)]
    walk = walk_of(timed_out("mx1.x.test"), late)
    conclude(walk, [parse_address("a@x.test")])
    assert walk.report.summary == ("x.test: no mail server gave a definitive answer: mx1.x.test did not answer the "
                                   "connection (timed out); mx2.x.test timed out waiting for the reply to "
                                   "RCPT TO:<a@x.test>")
