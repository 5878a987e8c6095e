"""Pure: the `--expect` vocabulary and its parser (text -> Expectation). No I/O; judging lives in probe.judge.health."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from probe.errors import InputError
from probe.model import Reason


class ExpectKind(StrEnum):
    """The `--expect` forms of SPEC.md (the part before '=')."""

    ACCEPTS_MAIL = "accepts-mail"
    NO_MAIL = "no-mail"
    DELIVERABLE = "deliverable"
    UNDELIVERABLE = "undeliverable"
    RISKY = "risky"
    REASON = "reason"
    CODE = "code"
    STARTTLS = "starttls"


VALID_FORMS = ("accepts-mail, no-mail, deliverable, undeliverable, risky, "
               "reason=REASON, code=NNN, code=N.N.N, starttls")

_BASIC_CODE = re.compile(r"[2-5][0-9][0-9]")
_ENHANCED_CODE = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})")
_WITH_VALUE = (ExpectKind.REASON, ExpectKind.CODE)


@dataclass(frozen=True, slots=True)
class Expectation:
    """One parsed `--expect` value; `value` holds the reason or code for reason= and code=."""

    kind: ExpectKind
    value: str | None = None

    def __str__(self) -> str:
        return str(self.kind) if self.value is None else f"{self.kind}={self.value}"


def parse_expectation(text: str) -> Expectation:
    """Parse one `--expect` value; raise InputError naming the valid forms when it is not one.

    >>> parse_expectation("code=550"), str(parse_expectation("reason=user_unknown"))
    (Expectation(kind=<ExpectKind.CODE: 'code'>, value='550'), 'reason=user_unknown')
    """
    key, sep, raw_value = text.strip().partition("=")
    key = key.strip().lower().replace("_", "-")
    value = raw_value.strip()
    try:
        kind = ExpectKind(key)
    except ValueError:
        raise InputError(f"unknown --expect value {text!r}; use one of: {VALID_FORMS}") from None
    if kind not in _WITH_VALUE:
        if sep:
            raise InputError(f"--expect {kind} takes no value (got {text!r}); use one of: {VALID_FORMS}")
        return Expectation(kind)
    if not value:
        raise InputError(f"--expect {kind} needs a value, e.g. {kind}="
                         f"{'user_unknown' if kind is ExpectKind.REASON else '550'}; use one of: {VALID_FORMS}")
    if kind is ExpectKind.REASON:
        try:
            return Expectation(kind, str(Reason(value.lower())))
        except ValueError:
            names = ", ".join(r.value for r in Reason)
            raise InputError(f"unknown reason {value!r} in --expect {text!r}; use one of: {names}") from None
    if _BASIC_CODE.fullmatch(value):
        return Expectation(kind, value)
    enhanced = _ENHANCED_CODE.fullmatch(value)
    if enhanced:
        return Expectation(kind, ".".join(str(int(part)) for part in enhanced.groups()))
    raise InputError(f"--expect {text!r}: a code is 3 digits 200-599 (code=550) or an enhanced "
                     f"status class.subject.detail (code=5.7.1); use one of: {VALID_FORMS}")


_VERDICT_KINDS = (ExpectKind.DELIVERABLE, ExpectKind.UNDELIVERABLE, ExpectKind.RISKY)
# pairs no run can meet together: a domain either accepts mail or not; each verdict expectation asks
# that EVERY address has that verdict; a domain that takes no mail has no deliverable or risky address
_CONTRADICTIONS = (
    (ExpectKind.ACCEPTS_MAIL, ExpectKind.NO_MAIL),
    (ExpectKind.DELIVERABLE, ExpectKind.UNDELIVERABLE),
    (ExpectKind.DELIVERABLE, ExpectKind.RISKY),
    (ExpectKind.UNDELIVERABLE, ExpectKind.RISKY),
    (ExpectKind.NO_MAIL, ExpectKind.DELIVERABLE),
    (ExpectKind.NO_MAIL, ExpectKind.RISKY),
)


def check_expectations(expectations: list[Expectation], *, address_count: int | None) -> None:
    """Raise InputError, before anything is sent, for expectations no run could meet: two that
    contradict each other, or a verdict expected when no address is given (`address_count` 0;
    None when it varies, as in batch)."""
    kinds = {e.kind for e in expectations}
    for a, b in _CONTRADICTIONS:
        if a in kinds and b in kinds:
            raise InputError(f"--expect {a} and --expect {b} contradict each other: no result can meet both")
    if address_count == 0:
        wanted = next((k for k in _VERDICT_KINDS if k in kinds), None)
        if wanted is not None:
            raise InputError(f"--expect {wanted} judges addresses, but none was given; add one "
                             f"(smtp-probe --expect {wanted} DOMAIN user@DOMAIN) or drop the expectation")
