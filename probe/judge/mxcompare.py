"""--all-mx: every MX host's answer to the same recipient, and the mx-disagree findings where a host answers
otherwise than the deciding one. No I/O.
"""

from __future__ import annotations

from typing import Any

from probe.inputs import Address
from probe.judge import verdicts as assess
from probe.judge.walk import Walk, catch_all_of, diagnose
from probe.model import (
    Context,
    Finding,
    Severity,
    Verdict,
    first_line,
)


def mx_verdicts(walk: Walk, a: Address | None) -> list[dict[str, Any]]:
    """Each session (host and address, preference order) that answered `a`'s RCPT (None: a domain-only probe's
    RCPT TO:<postmaster@DOMAIN>); [] when fewer than two did. An answer is counted once: a session the server
    ended early holds the answers of the session that asked its unasked addresses again
    (probe.run.probe._ask_again), and that session is in the walk too."""
    answers = []
    seen: set[int] = set()
    for record in walk.records:
        exchange = record.rcpt.get(a.smtp_form) if a is not None else record.postmaster
        if record is walk.retry or exchange is None or exchange.context is not Context.RCPT or exchange.reply is None:
            continue
        if id(exchange) in seen:
            continue
        seen.add(id(exchange))
        d = diagnose(exchange, record.host)
        verdict = assess.address_verdict(d, catch_all=catch_all_of(record) if a is not None else None)
        answers.append({"host": record.host, "address": record.address, "verdict": str(verdict),
                        "reason": str(d.reason), "code": d.code, "enhanced": d.enhanced, "text": d.text})
    return answers if len(answers) > 1 else []


# how bad it is when a host answers this while the deciding host answers something else
_DISAGREEMENT_SEVERITY = {Verdict.UNDELIVERABLE: Severity.CRITICAL, Verdict.RISKY: Severity.WARNING,
                          Verdict.UNKNOWN: Severity.WARNING, Verdict.DELIVERABLE: Severity.WARNING}


def disagreements(address: str, mx_verdicts: list[dict[str, Any]]) -> list[Finding]:
    """mx-disagree, once per host whose verdict on `address` differs from the deciding (first) host's.

    A host that refuses what the first accepts bounces the mail that fails over to it (CRITICAL); one that
    accepts what the first refuses takes mail only to bounce it later (WARNING), as does one that defers.
    """
    if not mx_verdicts:
        return []
    first = mx_verdicts[0]
    findings: list[Finding] = []
    for other in mx_verdicts[1:]:
        if other["verdict"] == first["verdict"] or other["host"] == first["host"]:
            continue
        verdict = Verdict(other["verdict"])
        said = first_line(str(other["text"] or other["code"]))
        if verdict is Verdict.UNDELIVERABLE:
            consequence = (f"mail that fails over to {other['host']} will bounce: it does not accept "
                           f"{address} ({said})")
        elif first["verdict"] == Verdict.UNDELIVERABLE:
            consequence = (f"{other['host']} accepts {address} ({said}), which {first['host']} refuses: "
                           "mail that fails over to it is accepted, then bounced by the primary (backscatter)")
        else:
            consequence = (f"{other['host']} answers {address} {verdict} ({said}) where "
                           f"{first['host']} answers {first['verdict']}: mail that fails over to it may be "
                           "delayed or refused")
        findings.append(Finding("mx-disagree", _DISAGREEMENT_SEVERITY[verdict],
                                f"The MX hosts disagree about {address}: {consequence}.", other["host"]))
    return findings
