"""Verdict rules: a blocked or timed-out probe is `unknown`, never `undeliverable`."""

from __future__ import annotations

import pytest

from probe.assess import address_verdict, domain_status_from_banner, worst_reason
from probe.model import Diagnosis, DomainStatus, Reason, ReplyClass, Severity, Verdict


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


def test_policy_block_is_not_unknown_user() -> None:
    # Reacher's negative test: a 5.7.1 policy block says nothing about the mailbox
    assert address_verdict(diag(554, Reason.POLICY_REJECTED)) is not Verdict.UNDELIVERABLE


def test_banner_status() -> None:
    assert domain_status_from_banner(diag(521, Reason.NOT_ACCEPTING_MAIL)) is DomainStatus.DOES_NOT_ACCEPT_MAIL
    assert domain_status_from_banner(diag(554, Reason.BLOCKLISTED)) is DomainStatus.UNREACHABLE


def test_worst_reason_prefers_permanent() -> None:
    assert worst_reason([diag(None, Reason.NETWORK_ERROR), diag(554, Reason.BLOCKLISTED),
                         diag(421, Reason.SERVICE_UNAVAILABLE)]) is Reason.BLOCKLISTED
    assert worst_reason([]) is Reason.UNKNOWN
