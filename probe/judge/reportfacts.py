"""Pure: small facts about a report that the health judgement, the expectations and the renderers share.
No I/O, no judgement of its own."""

from __future__ import annotations

from collections.abc import Iterable

from probe.model import Context, DomainStatus, MxHost, Reason, Report, Session, Step

# Reasons that make an unreachable domain a WARNING: the servers answered, only "not now".
TRANSIENT_REASONS = frozenset({Reason.GREYLISTED, Reason.RATE_LIMITED, Reason.SERVICE_UNAVAILABLE,
                               Reason.SYSTEM_ERROR, Reason.STORAGE_FULL})


def named_hosts(report: Report) -> str | None:
    """'mx1.example.net, mx2.example.net' when the hosts probed were named with --mx (the domain's MX records were
    not looked up, so what they answered is theirs, not the domain's); None otherwise (an address literal too).
    Only the named hosts the walk tried, when it tried any: it stops at the first that answers, as senders do, and
    what that one answered is not the untried ones' ('--mx A --mx B', A refusing to relay: not 'at A, B')."""
    if report.mx_source != "override" or not report.mx or report.domain.startswith("["):
        return None
    tried = {s.host for s in report.sessions if s.address}
    return ", ".join([h.host for h in report.mx if h.host in tried] or [h.host for h in report.mx])


def at_named_hosts(report: Report) -> str:
    """' at mx1.example.net (--mx)' after the domain or its status when the hosts were named with --mx (what they
    answered is theirs: named_hosts), else ''."""
    named = named_hosts(report)
    return f" at {named} (--mx)" if named else ""


def mx_origin(report: Report, host: MxHost) -> str:
    """Where a host of report.mx came from, in a few words: 'preference 10' (an MX record), 'implicit MX' (RFC 5321
    §5.1: the domain's own address), 'named with --mx' or 'address literal' (named, so no MX preference: the
    `preference` of a named host is only its place in the order given)."""
    if host.named:
        return "address literal" if report.domain.startswith("[") else "named with --mx"
    return "implicit MX" if host.implicit else f"preference {host.preference}"


def refusal_advice(report: Report) -> str | None:
    """What to do about the reply that made a domain-only report REFUSES_THIS_CLIENT (the last 4xx/5xx with the
    report's reason: a 521 greeting, a refused EHLO name, postmaster@ refused at RCPT): its step's remediation. None
    when addresses were asked (each carries its own) or the domain was not refused."""
    if report.addresses or report.status is not DomainStatus.REFUSES_THIS_CLIENT:
        return None
    steps = [step for s in report.sessions for step in s.steps
             if step.code is not None and step.code >= 400 and step.reason is report.reason and step.remediation]
    return steps[-1].remediation if steps else None


def local_resolver_failure(report: Report) -> bool:
    """A dns_error because our resolver gave no answer at all (the runner's dns-resolver-unreachable
    finding), as opposed to a SERVFAIL/REFUSED answer about the domain."""
    return report.status is DomainStatus.DNS_ERROR and any(
        f.id == "dns-resolver-unreachable" for f in report.findings)


def is_4xx(step: Step) -> bool:
    return step.code is not None and 400 <= step.code < 500


def session_label(report: Report, session: Session) -> str:
    """The MX host name, with the address added when the report holds several sessions to that host."""
    same_host = sum(1 for s in report.sessions if s.host == session.host)
    return session.host if same_host < 2 or not session.address else f"{session.host} [{session.address}]"


def steps_of(session: Session, *contexts: Context) -> list[Step]:
    return [s for s in session.steps if s.context in contexts]


def transient_unreachable(report: Report) -> bool:
    """Unreachable only because the servers said "not now": a transient reason, or every session that got a
    reply ended with a 4xx (421 banner included), or went quiet past --timeout after a 2xx greeting."""
    if report.status is not DomainStatus.UNREACHABLE:
        return False
    if report.reason in TRANSIENT_REASONS:
        return True
    spoke = [session for session in report.sessions if any(s.code is not None for s in session.steps)]
    return bool(spoke) and all(went_quiet(session) or is_4xx([s for s in session.steps if s.code is not None][-1])
                               for session in spoke)


def went_quiet(session: Session) -> bool:
    """The server greeted (2xx) and then sent no reply within the probe's --timeout: slow or tarpitting (an Exim
    ACL's `delay`, a deliberately slow server), which RFC 5321 §4.5.3.2 lets take minutes per command, so a sender
    that waits may still deliver: uncertain, not a failure."""
    banner = next((s for s in session.steps if s.context is Context.BANNER), None)
    return (session.outcome == "timeout" and banner is not None and banner.code is not None
            and 200 <= banner.code < 300)


def any_reply(report: Report) -> bool:
    """Some server said something in SMTP (the polite QUIT's 221 aside)."""
    return any(s.code is not None and s.context is not Context.QUIT for s in all_steps(report))


def all_steps(report: Report) -> Iterable[Step]:
    return (step for session in report.sessions for step in session.steps)
