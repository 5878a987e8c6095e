"""One domain and the addresses of many input lines: one MX walk, one report per line.

The unit of work of `smtp-probe batch`: `probe_unit` takes a JSON-ready unit

    {"domain": "example.org",
     "lines": [{"line": 3, "input": "alice@example.org", "addresses": ["alice@example.org"]}, ...]}

asks every address of its lines in the same sessions (many RCPT per transaction, one catch-all RCPT
per session, a new transaction after "452 too many recipients") and returns one JSON-ready result per
line, in the unit's order. Each result is the report that line would have had alone: its summary,
addresses, the steps about its addresses (and the catch-all), its findings and its exit code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from probe.inputs import Address, parse_address
from probe.judge.walk import Walk, to_session
from probe.model import ProbeOptions, Report, Session
from probe.run.probe import finish_walk, walk_domain
from probe.smtp.exchanges import SessionRecord
from probe.smtp.polite import HostLimiter
from probe.smtp.session import TlsContextFactory


async def probe_unit(
    unit: dict[str, Any],
    options: ProbeOptions,
    *,
    finish: Callable[[Report], Any],
    resolver: Any | None = None,
    limiter: HostLimiter | None = None,
    tls_context_factory: TlsContextFactory | None = None,
) -> list[dict[str, Any]]:
    """Probe one unit (see the module's docstring); `finish` judges each line's report (its exit code)."""
    lines = [[parse_address(text) for text in line["addresses"]] for line in unit["lines"]]
    every = list({a.smtp_form: a for line in lines for a in line}.values())  # an address asked once
    domain_line = any(not line for line in lines)  # the domain alone: its report asks postmaster@, as alone
    postmaster = f"postmaster@{unit['domain']}"
    asked = any(a.smtp_form.lower() == postmaster.lower() for a in every)  # a line's address: its answer serves
    walk = await walk_domain(unit["domain"], every, options, resolver=resolver,
                             tls_context_factory=tls_context_factory, limiter=limiter,
                             postmaster=domain_line and bool(every) and not asked)
    results = []
    for line, addresses in zip(unit["lines"], lines, strict=True):
        own = line_report(walk, list({a.smtp_form: a for a in addresses}.values()))
        own.input = line["input"]
        finish(own)
        data = own.to_dict()
        data["line"] = line["line"]
        results.append(data)
    return results


def line_report(walk: Walk, addresses: Sequence[Address]) -> Report:
    """The report of a walk concluded about `addresses` only (the walk itself is left as it was)."""
    keys = {a.smtp_form for a in addresses}
    asked = {key for record in walk.records for key in (*record.rcpt, *record.vrfy)}
    others = asked - keys
    base = walk.report
    own = copy.copy(walk)
    if not addresses:  # the domain alone: postmaster@ asked as another line's address answers for it too
        _postmaster_from_rcpt(own, f"postmaster@{base.domain}")
    own.pairs = [(_own_session(session, record, keys), record) for session, record in own.pairs]
    shown = {id(session): mine for (session, _), (mine, _) in zip(walk.pairs, own.pairs, strict=True)}
    own.report = replace(base, sessions=[shown.get(id(s), s) for s in base.sessions], addresses=[],
                         findings=[f for f in base.findings if f.subject not in others], summary="")
    finish_walk(own, addresses)
    return own.report


def _postmaster_from_rcpt(walk: Walk, postmaster: str) -> None:
    """Where postmaster@DOMAIN was asked as a line's address (and so not again as the domain's own question),
    its RCPT answer becomes each session's postmaster@ answer, as a domain-only probe records it."""
    def moved(record: SessionRecord) -> SessionRecord:
        key = next((k for k in record.rcpt if k.lower() == postmaster.lower()), None)
        if record.postmaster is not None or key is None:
            return record
        return replace(record, postmaster=record.rcpt[key], postmaster_address=key,
                       rcpt={k: e for k, e in record.rcpt.items() if k != key})

    mapped = {id(r): moved(r) for r in walk.records}
    walk.records = [mapped[id(r)] for r in walk.records]
    walk.pairs = [(s, mapped.get(id(r), r)) for s, r in walk.pairs]
    walk.decided = mapped.get(id(walk.decided), walk.decided) if walk.decided is not None else None
    walk.retry = mapped.get(id(walk.retry), walk.retry) if walk.retry is not None else None


def _own_session(session: Session, record: SessionRecord, keys: set[str]) -> Session:
    """The session showing only the steps about `keys`, the catch-all and those about no address."""
    exchanges = [e for e in record.exchanges
                 if e.address is None or e.address in keys or e.address == record.catch_all_address
                 or (not keys and e.address == record.postmaster_address)]  # postmaster@: the domain's line
    if len(exchanges) == len(record.exchanges):
        return session
    mine = to_session(replace(record, exchanges=exchanges))
    mine.dane = session.dane
    return mine
