"""Orchestration: DNS → SMTP sessions → classification → verdicts → Report.

The only module that knows the order of things. DNS lives in resolve.py, the
dialogue in session.py, meaning in classifier.py, verdicts in assess.py, and
conclude.py turns the sessions into the report's status, results and summary;
this module walks the MX hosts, enforces the deadline and politeness, and never
raises on what a server or a resolver does.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from probe.diagnosis.classifier import diagnose_event, unlocated
from probe.dns import resolve
from probe.inputs import Address, is_ip_literal
from probe.judge import advice, greylist
from probe.judge.conclude import conclude
from probe.judge.walk import Walk, diagnose, unreachable_session
from probe.model import (
    Context,
    DomainStatus,
    Finding,
    MxHost,
    ProbeOptions,
    Report,
    Severity,
)
from probe.run import reachability
from probe.run.ipv6check import check_ipv6
from probe.run.peercheck import check_equal_peers
from probe.smtp.exchanges import SessionRecord
from probe.smtp.polite import HostLimiter
from probe.smtp.session import TlsContextFactory, run_session
from probe.tls import checks as security

_DEADLINE_GRACE_S = 0.5  # the SPEC promises --deadline to within a second

# Outcomes after which a sender would stop walking the MX list: the host answered.
_DEFINITIVE = frozenset({"completed", "rejected"})


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    walk = await walk_domain(domain, addresses, options, resolver=resolver,
                             tls_context_factory=tls_context_factory, limiter=limiter)
    finish_walk(walk, addresses)
    return walk.report


async def walk_domain(
    domain: str,
    addresses: Sequence[Address],
    options: ProbeOptions,
    *,
    resolver: Any | None = None,
    tls_context_factory: TlsContextFactory | None = None,
    limiter: HostLimiter | None = None,
    postmaster: bool = False,
) -> Walk:
    """DNS, the MX walk and the policies, asking about `addresses`; not yet concluded (see finish_walk).
    Never raises on network trouble. A domain-only probe asks RCPT TO:<postmaster@DOMAIN> (options.postmaster);
    `postmaster` asks it beside `addresses` too (a batch unit that also holds a line with the domain alone)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    deadline = loop.time() + options.deadline_s
    report = Report(domain=domain, status=DomainStatus.UNREACHABLE, started_at=_now_iso())
    if resolver is None:
        resolver = resolve.LazyResolver(options.resolvers, timeout_s=options.timeout_s)
    walk = Walk(report)
    walk.ask_postmaster = postmaster
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
    walk.facts = _facts(report, options)  # what advice may take as settled (probe.judge.advice)
    walk.settle_tls_findings(options, walk.facts.tls_policy)
    security.grade_certificate_findings(report)  # CRITICAL where MTA-STS enforce or DANE covers the MX
    report.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    return walk


def finish_walk(walk: Walk, addresses: Sequence[Address]) -> None:
    """Conclude the walk's report about `addresses` (all that were asked, or some of them)."""
    conclude(walk, addresses, walk.facts)
    walk.report.transport = security.transport_verdicts(walk.report)


def _facts(report: Report, options: ProbeOptions) -> advice.RunFacts:
    """What this run settled, for advice (probe.judge.advice); session findings get the same TLS consequence."""
    dane = next((s.dane for s in report.sessions if s.dane and s.dane.get("records")), None) \
        or next((s.dane for s in report.sessions if s.dane is not None), None)
    policies_known = options.tls_policies and report.mta_sts is not None
    return advice.RunFacts(domain=report.domain, catch_all_tested=options.catch_all,
                           mx_override=report.mx_source == "override", mail_from=options.mail_from,
                           helo=options.helo,
                           tls_policy=advice.tls_consequence(report.mta_sts if policies_known else None, dane))


async def _run(walk: Walk, domain: str, addresses: Sequence[Address], options: ProbeOptions,
               resolver: Any, tls_factory: TlsContextFactory | None, deadline: float,
               limiter: HostLimiter) -> None:
    report = walk.report
    hosts = await _mail_hosts(walk, domain, options, resolver)
    if hosts is None:
        return
    names = [h.host for h in hosts if not is_ip_literal(h.host)]  # MTA-STS and DANE apply to MX names only
    if options.tls_policies and names and not domain.startswith("["):
        policies = asyncio.ensure_future(security.domain_policies(domain, names, resolver, options))
        try:
            await _walk(walk, hosts, addresses, options, tls_factory, deadline, limiter, resolver)
            await security.add_dane(walk.pairs, resolver, report.findings)
            report.mta_sts, report.tls_rpt = await policies
            report.findings.extend(security.policy_findings(report))
        finally:
            policies.cancel()  # a no-op when it finished; stops it when the deadline cut the walk short
    else:
        await _walk(walk, hosts, addresses, options, tls_factory, deadline, limiter, resolver)
    audit_findings, report.source = await reachability.audit_run(report.sessions, options, resolver,
                                                                 cache=limiter.audits)
    for finding in audit_findings:
        if finding.id.startswith("source-") and finding.severity is Severity.CRITICAL:
            # about this machine, not the target: at most a WARNING in a probe (self-check judges it fully)
            finding = replace(finding, severity=Severity.WARNING)
        walk.finding(finding)


async def _walk(walk: Walk, hosts: list[MxHost], addresses: Sequence[Address], options: ProbeOptions,
                tls_factory: TlsContextFactory | None, deadline: float, limiter: HostLimiter,
                resolver: Any) -> None:
    """Try the hosts in preference order until one gives a definitive answer, past hosts that refuse at
    their greeting (--all-mx: every host at once, one connection each); the first definitive host in
    preference order decides, a host that refused at its greeting only when no other answered."""
    recipients = [a.smtp_form for a in addresses]
    per_host: list[list[SessionRecord]] = [[] for _ in hosts]  # filled as sessions end, kept if cut short
    try:
        if options.all_mx:
            await asyncio.gather(*(_try_host(walk, h, records, recipients, options, tls_factory, deadline,
                                             limiter, resolver) for h, records in zip(hosts, per_host, strict=True)))
        else:
            for index, (host, records) in enumerate(zip(hosts, per_host, strict=True)):
                await _try_host(walk, host, records, recipients, options, tls_factory, deadline, limiter, resolver)
                if any(_definitive(r) and not _greeting_refused(r) for r in records):
                    # its equal-preference peers were drawn after it: are they listening? (a dead one drawn first
                    # is a refused session; checked here, the result does not depend on the draw)
                    await check_equal_peers(walk, host, hosts[index + 1:], options, deadline, limiter)
                    break
    finally:  # in preference order, whether the walk ended or the deadline cut it short
        answered: list[SessionRecord] = []
        for host, records in zip(hosts, per_host, strict=True):
            if not host.addresses:
                walk.report.sessions.append(unreachable_session(host, walk.no_address))
            for record in records:
                walk.add(record, options)
                if _definitive(record):
                    answered.append(record)
        if walk.decided is None and answered:  # a host past a 5xx greeting decides; else the first refusal
            walk.decided = next((r for r in answered if not _greeting_refused(r)), answered[0])
    await _retry_greylisted(walk, recipients, options, tls_factory, deadline)


_NO_CONNECTION = frozenset({"refused", "timeout", "unreachable"})
_ENDED_EARLY = frozenset({"reset", "deferred"})  # the server hung up, or said 421, in mid-dialogue


def _definitive(record: SessionRecord) -> bool:
    """The host answered: the dialogue ran to its end or was refused, or it ended early after answering
    RCPT for at least one address, or after refusing the MAIL FROM that decided them (those answers stand; a 421
    is the server closing, not an answer). OpenSMTPD's builtin filters refuse and hang up at once (`disconnect
    "550 ..."` at the mail-from phase, smtpd.conf(5) MAIL FILTERING): the refusal is the answer, not the hang-up."""
    decided = list(record.rcpt.items())
    if record.postmaster is not None and record.postmaster_address is not None:  # a domain-only probe's
        decided.append((record.postmaster_address, record.postmaster))
    return record.outcome in _DEFINITIVE or any(
        e.reply is not None and e.reply.code != 421 and (
            (e.context is Context.RCPT and e.address == key) or (e.context is Context.MAIL and e.reply.code >= 400))
        for key, e in decided)


def _greeting_refused(record: SessionRecord) -> bool:
    """The host greeted with a 5xx (postscreen's 521): a sender goes on to the next MX, as Postfix's client
    does by default (smtp_skip_5xx_greeting = yes), so the walk does too and that host does not decide."""
    banner = next((e for e in record.exchanges if e.context is Context.BANNER and not e.unsolicited), None)
    return banner is not None and banner.reply is not None and 500 <= banner.reply.code <= 599


_DIALOGUE = frozenset({Context.VRFY, Context.MAIL, Context.RCPT, Context.RSET})


def _got_going(record: SessionRecord) -> bool:
    """The server answered at least one command past the greeting (not with 421): it was working, and then
    ended the session, as a per-session limit does (a server closing at once is not asked again)."""
    return any(e.context in _DIALOGUE and e.reply is not None and e.reply.code != 421 for e in record.exchanges)


async def _ask_again(walk: Walk, first: SessionRecord, options: ProbeOptions, tls_factory: TlsContextFactory | None,
                     deadline: float) -> SessionRecord | None:
    """A session the server ended early keeps every answer it got; the addresses it never asked are asked
    once more in a new session (without VRFY, the usual cause), and their answers join the first's."""
    if (not first.unasked or first.outcome not in _ENDED_EARLY or not _got_going(first)
            or asyncio.get_running_loop().time() >= deadline):
        return None
    unasked = list(first.unasked)
    again = await run_session(first.host, first.address, first.port, unasked,
                              replace(options, catch_all=options.catch_all and first.catch_all is None, vrfy=False),
                              tls_context_factory=tls_factory, deadline=deadline,
                              catch_all_address=first.catch_all_address)
    for key in unasked:
        if key in again.rcpt:
            first.rcpt[key] = again.rcpt[key]
    if first.catch_all is None:
        first.catch_all = again.catch_all
    kept = len(first.rcpt) - len(unasked)
    walk.finding(Finding(
        "session-ended-early", Severity.INFO,
        f"{first.host} ended the session early ({_how_it_ended(first)}); "
        + (f"the {kept} RCPT answer{'s' if kept != 1 else ''} received before are kept, and " if kept else "")
        + f"{len(unasked)} address{'es' if len(unasked) != 1 else ''} never asked went to a new session "
        f"(outcome: {again.outcome}).", first.host))
    return again


def _how_it_ended(record: SessionRecord) -> str:
    """'554 Too many nonmail commands to VRFY b@x, then connection-closed': the refusal that came with the close."""
    steps = [e for e in record.exchanges if e.context is not Context.QUIT]
    last = steps[-1]
    refusal = next((e for e in reversed(steps) if e.reply is not None and e.reply.code >= 400
                    and (e.context is not Context.RCPT or e.reply.code == 421)), None)
    said = [f"{refusal.reply.code} {' '.join(refusal.reply.lines)[:80]} to {refusal.command or 'the greeting'}"
            ] if refusal is not None and refusal.reply is not None else []
    if last.event is not None:
        said.append(f"{last.event} {last.detail}".strip())
    return ", then ".join(said) or record.outcome


def _never_connected(record: SessionRecord) -> bool:
    return record.outcome in _NO_CONNECTION and all(e.context is Context.CONNECT for e in record.exchanges)


async def _try_host(walk: Walk, host: MxHost, records: list[SessionRecord], recipients: list[str],
                    options: ProbeOptions, tls_factory: TlsContextFactory | None, deadline: float,
                    limiter: HostLimiter, resolver: Any) -> None:
    """One host: its addresses in order until one answers definitively, each session appended to
    `records`. With -4/-6, when no address of that family accepts a connection, its other family's.
    With no address to ask (a domain-only probe), RCPT TO:<postmaster@DOMAIN> asks whether the host takes mail
    for the domain from this client (RFC 5321 §4.5.1: every server that delivers for a domain accepts it)."""
    postmaster = (f"postmaster@{walk.report.domain}" if options.postmaster and (walk.ask_postmaster or not recipients)
                  else None)

    async def attempt(ips: list[str]) -> bool:
        for ip in ips:
            async with limiter.slot(host.host, ip):  # one connection per address, whatever its MX name
                record = await run_session(host.host, ip, host.port, recipients, options,
                                           tls_context_factory=tls_factory, deadline=deadline,
                                           postmaster=postmaster)
                again = await _ask_again(walk, record, options, tls_factory, deadline)
            for done in (record, again):
                if done is not None:
                    await limiter.observe(host.host, [e.reply for e in done.exchanges if e.reply is not None], ip)
                    records.append(done)
            if _definitive(record):
                return True
        return False

    if await attempt(list(host.addresses)):
        if options.family is None and options.proxy is None and options.source_ip is None:
            await check_ipv6(walk, host, records, options, deadline, limiter)
        return
    if options.family not in (4, 6) or is_ip_literal(host.host):
        return  # an MX target written as an IP is never used (RFC 5321 §5.1): no fallback to it either
    if not all(_never_connected(r) for r in records) or asyncio.get_running_loop().time() >= deadline:
        return
    other = 4 if options.family == 6 else 6
    found, _error = await resolve.resolve_host(host.host, resolver, family=other)
    fallback = [ip for ip in found if ip not in host.addresses]
    if fallback:
        plural = "es" if len(fallback) > 1 else ""
        why = (f"{host.host} has no IPv{options.family} address" if not records else
               f"No IPv{options.family} address of {host.host} accepted a connection")
        walk.finding(Finding(
            "family-fallback", Severity.INFO,
            f"{why}; trying its IPv{other} address{plural} ({', '.join(fallback)}).", host.host))
        host.addresses.extend(fallback)
        await attempt(fallback)


async def _retry_greylisted(walk: Walk, recipients: list[str], options: ProbeOptions,
                            tls_factory: TlsContextFactory | None, deadline: float) -> None:
    """--retry-greylist: wait as the server asked (within the limits) and ask again from the same source."""
    first = walk.decided
    if first is None or options.retry_greylist_s <= 0 or first.outcome != "completed":
        return
    answers = {k: e for k in recipients if (e := first.rcpt.get(k)) is not None}
    postmaster = first.postmaster_address  # a domain-only probe's RCPT (or a batch unit's domain line's)
    if postmaster is not None and first.postmaster is not None:
        answers[postmaster] = first.postmaster
    deferred = [k for k, e in answers.items() if e.context is Context.RCPT
                and e.reply is not None and greylist.worth_retrying(diagnose(e, first.host))]
    if not deferred:
        return
    stated = [d for k in deferred if (d := greylist.retry_delay_s(answers[k].reply.text)) is not None]  # type: ignore[union-attr]
    longest = max(stated) if stated else None
    loop = asyncio.get_running_loop()
    wait = greylist.planned_wait_s(longest, options.retry_greylist_s, deadline - loop.time(), options.timeout_s)
    if wait is None:
        asked = f"asks for {longest:g} s" if longest is not None else "states no delay"
        walk.finding(Finding(
            "greylist-retry-skipped", Severity.WARNING,  # the user asked for the retry: say why not
            f"{first.host} greylisted {', '.join(deferred)} and {asked}; that does not fit in "
            f"--retry-greylist {options.retry_greylist_s:g} s and the --deadline, so it was not retried.",
            first.host))
        return
    await asyncio.sleep(wait)
    ca = first.catch_all
    ca_open = ca is None or ca.reply is None or not 200 <= ca.reply.code < 600 or 400 <= ca.reply.code < 500
    retry_options = replace(options, catch_all=options.catch_all and ca_open)
    again = [k for k in deferred if k != postmaster]  # postmaster@ is asked as such (a session with no recipient)
    second = await run_session(first.host, first.address, first.port, again, retry_options,
                               tls_context_factory=tls_factory, deadline=deadline,
                               local_host=first.local_address, catch_all_address=first.catch_all_address,
                               postmaster=postmaster if postmaster in deferred else None)
    walk.add(second, options)
    walk.retry, walk.waited_s = second, wait
    source = f" from the same source address {first.local_address}" if first.local_address else ""
    walk.finding(Finding(
        "greylist-retried", Severity.INFO,
        f"{first.host} greylisted {', '.join(deferred)}; asked again after {wait:.1f} s{source} "
        f"(session outcome: {second.outcome}).", first.host))


async def _mail_hosts(walk: Walk, domain: str, options: ProbeOptions,
                      resolver: Any) -> list[MxHost] | None:
    """The hosts to try, in order; None when DNS already decided (null MX, NXDOMAIN, errors)."""
    report = walk.report
    if domain.startswith("["):  # RFC 5321 address literal: that IP, no MX lookup
        ip = domain[1:-1].removeprefix("IPv6:")
        report.mx_source = "override"
        report.mx = [MxHost(domain, 0, [ip], port=options.port, named=True)]
        return report.mx
    if options.mx:
        report.mx_source = "override"
        for preference, (name, port) in enumerate(options.mx):
            addrs, error = await resolve.resolve_host(name, resolver, family=options.family)
            report.mx.append(MxHost(name, preference, addrs, port=port, error=error, named=True))
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
        answer.kind, {"timeout": "dns-timeout", "refused": "dns-refused"}.get(answer.failure or "", "dns-servfail"))
    status = {"null": DomainStatus.DOES_NOT_ACCEPT_MAIL, "nxdomain": DomainStatus.NO_SUCH_DOMAIN,
              "no_mail_hosts": DomainStatus.DOES_NOT_ACCEPT_MAIL}.get(answer.kind, DomainStatus.DNS_ERROR)
    d = diagnose_event(event, Context.DNS, detail=answer.error or domain)
    question = "the address lookup" if (answer.error or "").startswith("address lookup") else "the MX lookup"
    if answer.kind == "dns_error" and answer.failure in ("timeout", "network"):
        # no answer at all, not even SERVFAIL: the resolver this machine asks is unreachable or dead
        report.findings.append(Finding(
            "dns-resolver-unreachable", Severity.WARNING,
            f"No DNS answer to {question} for {domain} ({answer.error}): check this machine's DNS configuration "
            "or name a working server with --resolver; nothing was learned about the domain.", domain))
    elif answer.kind == "dns_error":  # the resolver answered, with SERVFAIL or REFUSED: say who, and what to do
        report.findings.append(Finding(
            "dns-lookup-failed", Severity.WARNING,
            f"{question[0].upper()}{question[1:]} for {domain} failed: {answer.error}. {unlocated(d)}", domain))
    report.status, report.reason = status, d.reason
    report.summary = f"{domain}: {d.meaning}"
    walk.dns_diagnosis = d
    return None
