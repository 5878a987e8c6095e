"""Orchestration: DNS → SMTP sessions → classification → verdicts → Report.

The only module that knows the order of things. DNS lives in resolve.py, the
dialogue in session.py, meaning in classifier.py, verdicts in assess.py; this
module wires them together, enforces the deadline and never raises on what a
server or a resolver does.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from . import assess, catchall, greylist, reachability, resolve, security
from .classifier import classify_reply, detect_provider, diagnose_event
from .exchanges import Exchange, SessionRecord
from .inputs import Address
from .model import (
    AddressResult,
    Context,
    Diagnosis,
    DomainStatus,
    Finding,
    MxHost,
    ProbeOptions,
    Reason,
    Report,
    Session,
    Severity,
    Step,
    Verdict,
)
from .polite import HostLimiter
from .session import TlsContextFactory, run_session

_DEADLINE_GRACE_S = 0.5  # the SPEC promises --deadline to within a second

# Outcomes after which a sender would stop walking the MX list: the host answered.
_DEFINITIVE = frozenset({"completed", "rejected"})


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def diagnose(exchange: Exchange, host: str | None) -> Diagnosis:
    """The meaning of one exchange: a reply through the catalogue, an event through events.toml."""
    if exchange.reply is not None:
        return classify_reply(exchange.reply, exchange.context, host=host)
    return diagnose_event(exchange.event or "protocol-error", exchange.context,
                          detail=exchange.detail, host=host)


def to_step(exchange: Exchange, host: str | None) -> Step:
    d = diagnose(exchange, host)
    reply = exchange.reply
    return Step(
        command=exchange.command,
        context=exchange.context,
        code=reply.code if reply is not None and reply.code >= 0 else None,
        enhanced=d.enhanced,
        text=reply.text if reply is not None else exchange.detail,
        lines=list(reply.lines) if reply is not None else [],
        reason=d.reason,
        severity=d.severity,
        meaning=d.meaning,
        remediation=d.remediation,
        rule=d.rule,
        elapsed_ms=round(exchange.elapsed_ms, 1),
        unsolicited=exchange.unsolicited,
    )


def to_session(record: SessionRecord) -> Session:
    return Session(
        host=record.host,
        address=record.address,
        port=record.port,
        outcome=record.outcome,
        steps=[to_step(e, record.host) for e in record.exchanges],
        tls=security.session_tls(record),
        extensions=sorted(record.extensions),
        error=_session_error(record),
        elapsed_ms=round(record.elapsed_ms, 1),
    )


def _session_error(record: SessionRecord) -> str | None:
    if record.outcome == "completed":
        return None
    for e in reversed(record.exchanges):
        if e.event is not None:
            return f"{e.event}: {e.detail}" if e.detail else e.event
    return None


class _Walk:
    """Mutable state of one probe, so a deadline can cut it short and keep what was learned."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.decided: SessionRecord | None = None
        self.records: list[SessionRecord] = []
        self.dns_diagnosis: Diagnosis | None = None  # set when DNS alone decided the outcome
        self.pairs: list[tuple[Session, SessionRecord]] = []  # each session with its raw record
        self.retry: SessionRecord | None = None  # --retry-greylist: the second session, same host and source
        self.waited_s = 0.0

    def add(self, record: SessionRecord, options: ProbeOptions) -> None:
        """Keep a finished session: raw, as the report's Session, and its findings."""
        self.records.append(record)
        session = to_session(record)
        self.report.sessions.append(session)
        self.pairs.append((session, record))
        self.report.findings.extend(security.session_findings(session, options))

    def finding(self, finding: Finding) -> None:
        """Add a finding once (same id and subject)."""
        if all((f.id, f.subject) != (finding.id, finding.subject) for f in self.report.findings):
            self.report.findings.append(finding)


async def probe_domain(
    domain: str,
    addresses: Sequence[Address],
    options: ProbeOptions,
    *,
    resolver: Any | None = None,
    tls_context_factory: TlsContextFactory | None = None,
    limiter: HostLimiter | None = None,
) -> Report:
    """Probe `domain`'s mail servers and, optionally, `addresses`. Never raises on network trouble."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    deadline = loop.time() + options.deadline_s
    report = Report(domain=domain, status=DomainStatus.UNREACHABLE, started_at=_now_iso())
    if resolver is None:
        resolver = resolve.make_resolver(options.resolvers, timeout_s=options.timeout_s)
    walk = _Walk(report)
    try:
        # a little grace past the deadline, so a session cut short records "deadline-exceeded" itself
        async with asyncio.timeout_at(deadline + _DEADLINE_GRACE_S):
            await _run(walk, domain, addresses, options, resolver, tls_context_factory, deadline,
                       limiter or HostLimiter())
    except TimeoutError:
        report.findings.append(Finding(
            "deadline-exceeded", Severity.WARNING,
            f"The probe stopped at its --deadline of {options.deadline_s:g} s; results are partial.",
        ))
    _conclude(walk, addresses)
    report.transport = security.transport_verdicts(report)
    report.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    return report


async def _run(walk: _Walk, domain: str, addresses: Sequence[Address], options: ProbeOptions,
               resolver: Any, tls_factory: TlsContextFactory | None, deadline: float,
               limiter: HostLimiter) -> None:
    report = walk.report
    hosts = await _mail_hosts(walk, domain, options, resolver)
    if hosts is None:
        return
    if options.tls_policies and not domain.startswith("["):
        policies = asyncio.ensure_future(security.domain_policies(domain, [h.host for h in hosts], resolver, options))
        try:
            await _walk(walk, hosts, addresses, options, tls_factory, deadline, limiter, resolver)
            await security.add_dane(walk.pairs, resolver, report.findings)
            report.mta_sts, report.tls_rpt = await policies
            report.findings.extend(security.policy_findings(report))
        finally:
            policies.cancel()  # a no-op when it finished; stops it when the deadline cut the walk short
    else:
        await _walk(walk, hosts, addresses, options, tls_factory, deadline, limiter, resolver)
    audit_findings, report.source = await reachability.audit_run(report.sessions, options, resolver)
    for finding in audit_findings:
        walk.finding(finding)


async def _walk(walk: _Walk, hosts: list[MxHost], addresses: Sequence[Address], options: ProbeOptions,
                tls_factory: TlsContextFactory | None, deadline: float, limiter: HostLimiter,
                resolver: Any) -> None:
    """Try the hosts in preference order until one gives a definitive answer (--all-mx: every
    host at once, one connection each); the first definitive host in preference order decides."""
    recipients = [a.smtp_form for a in addresses]
    per_host: list[list[SessionRecord]] = [[] for _ in hosts]  # filled as sessions end, kept if cut short
    try:
        if options.all_mx:
            await asyncio.gather(*(_try_host(walk, h, records, recipients, options, tls_factory, deadline,
                                             limiter, resolver) for h, records in zip(hosts, per_host, strict=True)))
        else:
            for host, records in zip(hosts, per_host, strict=True):
                await _try_host(walk, host, records, recipients, options, tls_factory, deadline, limiter, resolver)
                if any(r.outcome in _DEFINITIVE for r in records):
                    break
    finally:  # in preference order, whether the walk ended or the deadline cut it short
        for host, records in zip(hosts, per_host, strict=True):
            if not host.addresses:
                walk.report.sessions.append(_unreachable_session(host))
            for record in records:
                walk.add(record, options)
                if walk.decided is None and record.outcome in _DEFINITIVE:
                    walk.decided = record
    await _retry_greylisted(walk, recipients, options, tls_factory, deadline)


_NO_CONNECTION = frozenset({"refused", "timeout", "unreachable"})


def _never_connected(record: SessionRecord) -> bool:
    return record.outcome in _NO_CONNECTION and all(e.context is Context.CONNECT for e in record.exchanges)


async def _try_host(walk: _Walk, host: MxHost, records: list[SessionRecord], recipients: list[str],
                    options: ProbeOptions, tls_factory: TlsContextFactory | None, deadline: float,
                    limiter: HostLimiter, resolver: Any) -> None:
    """One host: its addresses in order until one answers definitively, each session appended to
    `records`. With -4/-6, when no address of that family accepts a connection, its other family's."""

    async def attempt(ips: list[str]) -> bool:
        for ip in ips:
            async with limiter.slot(host.host):
                record = await run_session(host.host, ip, host.port, recipients, options,
                                           tls_context_factory=tls_factory, deadline=deadline)
            limiter.observe(host.host, [e.reply for e in record.exchanges if e.reply is not None])
            records.append(record)
            if record.outcome in _DEFINITIVE:
                return True
        return False

    if await attempt(list(host.addresses)) or options.family not in (4, 6) or not records:
        return
    if not all(_never_connected(r) for r in records) or asyncio.get_running_loop().time() >= deadline:
        return
    other = 4 if options.family == 6 else 6
    found, _error = await resolve.resolve_host(host.host, resolver, family=other)
    fallback = [ip for ip in found if ip not in host.addresses]
    if fallback:
        walk.finding(Finding(
            "family-fallback", Severity.INFO,
            f"No IPv{options.family} address of {host.host} accepted a connection; trying its IPv{other} "
            f"address{'es' if len(fallback) > 1 else ''} ({', '.join(fallback)}).", host.host))
        host.addresses.extend(fallback)
        await attempt(fallback)


async def _retry_greylisted(walk: _Walk, recipients: list[str], options: ProbeOptions,
                            tls_factory: TlsContextFactory | None, deadline: float) -> None:
    """--retry-greylist: wait as the server asked (within the limits) and ask again from the same source."""
    first = walk.decided
    if first is None or options.retry_greylist_s <= 0 or first.outcome != "completed":
        return
    deferred = [k for k in recipients if (e := first.rcpt.get(k)) is not None and e.context is Context.RCPT
                and e.reply is not None and greylist.worth_retrying(diagnose(e, first.host))]
    if not deferred:
        return
    stated = [d for k in deferred if (d := greylist.retry_delay_s(first.rcpt[k].reply.text)) is not None]  # type: ignore[union-attr]
    longest = max(stated) if stated else None
    loop = asyncio.get_running_loop()
    wait = greylist.planned_wait_s(longest, options.retry_greylist_s, deadline - loop.time(), options.timeout_s)
    if wait is None:
        asked = f"asks for {longest:g} s" if longest is not None else "states no delay"
        walk.finding(Finding(
            "greylist-retry-skipped", Severity.INFO,
            f"{first.host} greylisted {', '.join(deferred)} and {asked}; that does not fit in "
            f"--retry-greylist {options.retry_greylist_s:g} s and the --deadline, so it was not retried.",
            first.host))
        return
    await asyncio.sleep(wait)
    ca = first.catch_all
    ca_open = ca is None or ca.reply is None or not 200 <= ca.reply.code < 600 or 400 <= ca.reply.code < 500
    retry_options = replace(options, catch_all=options.catch_all and ca_open)
    second = await run_session(first.host, first.address, first.port, deferred, retry_options,
                               tls_context_factory=tls_factory, deadline=deadline,
                               local_host=first.local_address, catch_all_address=first.catch_all_address)
    walk.add(second, options)
    walk.retry, walk.waited_s = second, wait
    source = f" from the same source address {first.local_address}" if first.local_address else ""
    walk.finding(Finding(
        "greylist-retried", Severity.INFO,
        f"{first.host} greylisted {', '.join(deferred)}; asked again after {wait:.1f} s{source} "
        f"(session outcome: {second.outcome}).", first.host))


async def _mail_hosts(walk: _Walk, domain: str, options: ProbeOptions,
                      resolver: Any) -> list[MxHost] | None:
    """The hosts to try, in order; None when DNS already decided (null MX, NXDOMAIN, errors)."""
    report = walk.report
    if domain.startswith("["):  # RFC 5321 address literal: that IP, no MX lookup
        ip = domain[1:-1].removeprefix("IPv6:")
        report.mx_source = "override"
        report.mx = [MxHost(domain, 0, [ip], port=options.port)]
        return report.mx
    if options.mx:
        report.mx_source = "override"
        for preference, (name, port) in enumerate(options.mx):
            addrs, error = await resolve.resolve_host(name, resolver, family=options.family)
            report.mx.append(MxHost(name, preference, addrs, port=port, error=error))
        return report.mx
    answer = await resolve.resolve_mx(domain, resolver, family=options.family)
    report.findings.extend(answer.findings)
    for host in answer.hosts:
        host.port = options.port
    report.mx = answer.hosts
    if answer.kind in ("mx", "implicit"):
        report.mx_source = answer.kind
        return answer.hosts
    report.mx_source = {"null": "null"}.get(answer.kind, "none")
    event = {"null": "null-mx", "nxdomain": "dns-nxdomain", "no_mail_hosts": "no-mail-hosts"}.get(
        answer.kind, "dns-timeout" if answer.failure == "timeout" else "dns-servfail")
    status = {"null": DomainStatus.DOES_NOT_ACCEPT_MAIL, "nxdomain": DomainStatus.NO_SUCH_DOMAIN,
              "no_mail_hosts": DomainStatus.DOES_NOT_ACCEPT_MAIL}.get(answer.kind, DomainStatus.DNS_ERROR)
    d = diagnose_event(event, Context.DNS, detail=answer.error or domain)
    report.status, report.reason = status, d.reason
    report.summary = f"{domain}: {d.meaning}"
    walk.dns_diagnosis = d
    return None


def _unreachable_session(host: MxHost) -> Session:
    d = diagnose_event("no-mail-hosts", Context.DNS, detail=host.error or f"{host.host} has no address")
    step = Step(None, Context.DNS, None, None, host.error or "no address records", [], d.reason,
                d.severity, d.meaning, d.remediation, d.rule, 0.0)
    return Session(host.host, "", host.port, "unreachable", steps=[step], error=host.error)


def _conclude(walk: _Walk, addresses: Sequence[Address]) -> None:
    """Turn what the walk learned into the domain status and one result per address."""
    report = walk.report
    if walk.dns_diagnosis is not None:
        d = walk.dns_diagnosis
        report.addresses = [_result(a, d, assess.address_verdict(d), None, "DNS") for a in addresses]
        return
    record = walk.decided
    if record is None:
        failures = [diagnose(e, r.host) for r in walk.records
                    for e in [x for x in r.exchanges if x.context is not Context.QUIT][-1:]]
        reason = assess.worst_reason(failures) if failures else Reason.NETWORK_ERROR
        report.status, report.reason = DomainStatus.UNREACHABLE, reason
        last = failures[-1] if failures else diagnose_event("deadline-exceeded", Context.CONNECT)
        report.addresses = [_result(a, last, Verdict.UNKNOWN, None, str(last.context or "")) for a in addresses]
        report.summary = f"{report.domain}: no mail server gave an answer ({reason})"
        return
    banner = record.exchanges[0] if record.exchanges else None
    if record.outcome == "rejected" and banner is not None:
        d = diagnose(banner, record.host)
        report.status, report.reason = assess.domain_status_from_banner(d), d.reason
    else:
        report.status, report.reason = DomainStatus.ACCEPTS_MAIL, Reason.ACCEPTED
    catch_all = _catch_all(walk.retry) if walk.retry is not None and walk.retry.catch_all else None
    if catch_all is None:
        catch_all = _catch_all(record)
    provider_id = detect_provider(record.host, " ".join(e.reply.text for e in record.exchanges[:2] if e.reply))
    service = catchall.unreliable(provider_id)
    for a in addresses:
        source = walk.retry if walk.retry is not None and a.smtp_form in walk.retry.rcpt else record
        d, result = _address_result(a, source, catch_all)
        if source is not record:
            first_d, _ = _address_result(a, record, catch_all)
            result.attempts = [_attempt(record, first_d, 0.0), _attempt(source, d, walk.waited_s)]
        if greylist.worth_retrying(d):
            result.retry_after_s = greylist.retry_delay_s(d.text)
        if service is not None:
            result, finding = catchall.rcpt_proves_nothing(result, service, d.provider, catch_all, record.host)
            walk.finding(finding)
        report.addresses.append(result)
    report.summary = _summary(report)


def _address_result(a: Address, record: SessionRecord, catch_all: bool | None) -> tuple[Diagnosis, AddressResult]:
    exchange = record.rcpt.get(a.smtp_form) or (record.exchanges[-1] if record.exchanges else None)
    if exchange is None:
        d = diagnose_event("protocol-error", Context.RCPT, detail="no reply recorded")
    else:
        d = diagnose(exchange, record.host)
    result = _result(a, d, assess.address_verdict(d, catch_all=catch_all), record.host,
                     exchange.command.split(" ", 1)[0] if exchange and exchange.command else str(d.context))
    result.catch_all = catch_all
    result.vrfy = _vrfy(record, a.smtp_form)
    return d, result


def _attempt(record: SessionRecord, d: Diagnosis, waited_s: float) -> dict[str, Any]:
    return {"host": record.host, "address": record.address, "code": d.code, "enhanced": d.enhanced,
            "reason": str(d.reason), "text": d.text, "waited_s": round(waited_s, 1)}


def _catch_all(record: SessionRecord) -> bool | None:
    """What the random address's RCPT proved (see probe.catchall)."""
    e = record.catch_all
    if e is None:
        return None
    return catchall.catch_all_answer(diagnose(e, record.host), e.context is Context.RCPT and e.reply is not None)


def _vrfy(record: SessionRecord, recipient: str) -> dict[str, Any] | None:
    e = record.vrfy.get(recipient)
    if e is None:
        return None
    d = diagnose(e, record.host)
    return {"code": d.code, "enhanced": d.enhanced, "reason": str(d.reason),
            "text": e.reply.text if e.reply else e.detail}


def _result(address: Address, d: Diagnosis, verdict: Verdict, host: str | None,
            command: str | None) -> AddressResult:
    return AddressResult(
        address=address.original, verdict=verdict, reason=d.reason, code=d.code, enhanced=d.enhanced,
        meaning=d.meaning, remediation=d.remediation, host=host, command=command, text=d.text or None,
        rule=d.rule, provider=d.provider,
    )


def _summary(report: Report) -> str:
    parts = [f"{report.domain} {str(report.status).replace('_', ' ')}"]
    for a in report.addresses:
        parts.append(f"{a.address} {a.verdict} ({a.reason})")
    return "; ".join(parts)
