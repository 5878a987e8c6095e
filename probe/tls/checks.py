"""Orchestration: transport security in the same run — STARTTLS, certificate, DANE, MTA-STS, TLS-RPT.

The checks themselves live in tlsinfo.py, dane.py and mtasts.py; this module
decides when each runs and folds their answers into the report's sessions,
findings and one-line verdicts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from probe.inputs import is_ip_literal
from probe.model import (
    Context,
    Finding,
    ProbeOptions,
    Reason,
    Reply,
    Report,
    Session,
    Severity,
    first_line,
    tls_negotiated,
)
from probe.smtp.exchanges import SessionRecord
from probe.tls import certificates as tlsinfo
from probe.tls import dane


def handshake_error(record: SessionRecord) -> str | None:
    """Why STARTTLS failed in this session, if it did (the last TLS event's detail)."""
    for exchange in reversed(record.exchanges):
        if exchange.event in ("tls-handshake-failed", "starttls-not-offered"):
            return exchange.detail or exchange.event
    return None


def starttls_declined(record: SessionRecord) -> Reply | None:
    """The server's reply to STARTTLS when it was anything but 220 (the session went on in plain text), or None."""
    for exchange in record.exchanges:
        reply = exchange.reply
        if exchange.context is Context.STARTTLS and reply is not None and reply.code != 220:
            return reply
    return None


def starttls_refusal(record: SessionRecord) -> str | None:
    """"STARTTLS refused (454 4.7.0 ...)" when the server answered STARTTLS with anything but 220."""
    reply = starttls_declined(record)
    if reply is None:
        return None
    text = reply.text if reply.text.startswith(str(reply.code)) else f"{reply.code} {reply.text}"
    return f"{_REFUSED}{text.strip()})"


def reached_ehlo(record: SessionRecord) -> bool:
    """The server greeted us and accepted EHLO or HELO: it speaks SMTP, DANE applies to it."""
    return any(e.context in (Context.EHLO, Context.HELO) and e.reply is not None and 200 <= e.reply.code < 300
               for e in record.exchanges)


def session_tls(record: SessionRecord) -> dict[str, Any] | None:
    """The SPEC.md `tls` object for one session (None when STARTTLS was not attempted).

    Whenever `error` is set, `version` and `cipher` are None: no SMTP went over TLS.
    """
    error = (record.tls or {}).get("error") or handshake_error(record)
    if record.tls is None and error is None:
        error = starttls_refusal(record)
    if record.tls is None and error is not None and "STARTTLS" not in record.extensions:
        error = None  # not offered: that is a finding, not a failed handshake
    return tlsinfo.tls_from_session(record.tls, mx_host=record.host, error=error)


_REFUSED = "STARTTLS refused ("


def _refusal_in(session: Session) -> str | None:
    """The server's non-220 reply to STARTTLS, from the session's tls error (see starttls_refusal)."""
    error = str((session.tls or {}).get("error") or "")
    return error[len(_REFUSED):-1] if error.startswith(_REFUSED) and session.tls and not session.tls.get(
        "certificate") else None


def _tls_demanded(session: Session) -> str | None:
    """'530 5.7.0 Must issue a STARTTLS command first': the first reply of a session without TLS that demands
    it (tls_required), first line, bounded."""
    if tls_negotiated(session.tls):
        return None
    step = next((s for s in session.steps if s.reason is Reason.TLS_REQUIRED and s.code is not None), None)
    if step is None:
        return None
    return first_line(f"{step.code} {step.lines[0] if step.lines else step.text}")


# SASL mechanisms that send the password itself, only base64-encoded (RFC 4616 PLAIN; LOGIN, the same in two steps)
_CLEAR_PASSWORD = ("PLAIN", "LOGIN")


def auth_in_clear(session: Session) -> list[Finding]:
    """AUTH with PLAIN or LOGIN in the EHLO reply before any STARTTLS: a client that logs in there sends its password
    in clear text (RFC 4954 §4: a server must be configurable to permit no plaintext password mechanism unless
    STARTTLS, or another protection from password snooping, is in place). Both "AUTH PLAIN LOGIN" and the old
    "AUTH=PLAIN LOGIN" line count. INFO, as a mail server in clear text is (the probe never logs in, and an MX
    needs no login); the words name each MTA's setting."""
    ehlo = next((s for s in session.steps if s.command and s.command.upper().startswith("EHLO")), None)
    if ehlo is None or ehlo.code != 250:
        return []
    mechanisms = {m for line in ehlo.lines[1:] if line.upper().startswith(("AUTH ", "AUTH="))
                  for m in line[len("AUTH "):].upper().split()}
    clear = [m for m in _CLEAR_PASSWORD if m in mechanisms]
    if not clear:
        return []
    return [Finding("auth-in-clear", Severity.INFO, (
        f"{session.host} offers AUTH {' '.join(clear)} before STARTTLS: a client that logs in there sends its "
        "password in clear text, which RFC 4954 §4 says a server must be able to refuse. Offer password mechanisms "
        "only under TLS (Postfix: smtpd_tls_auth_only = yes; Exim: auth_advertise_hosts = "
        "${if eq{$tls_in_cipher}{}{}{*}}; Sendmail: confAUTH_OPTIONS with 'p'), or no AUTH on port 25 at all: "
        "clients log in on the submission port (587, or 465 with implicit TLS)."), session.host)]


def session_findings(session: Session, options: ProbeOptions, *, consequence: str | None = None) -> list[Finding]:
    """Certificate and STARTTLS findings for a session that reached EHLO; `consequence` (once the domain's
    MTA-STS and DANE are known, probe.judge.advice.tls_consequence) says what a TLS problem costs."""
    if session.outcome not in ("completed", "tls_failed"):
        return []
    findings = tlsinfo.starttls_findings(session.host, session.tls, offered="STARTTLS" in session.extensions,
                                         mode=options.starttls, refused=_refusal_in(session), consequence=consequence,
                                         plain_refused=_tls_demanded(session))
    findings += auth_in_clear(session)
    if session.tls and session.tls.get("certificate"):
        findings += tlsinfo.certificate_findings(session.host, session.tls["certificate"],
                                                 warning_days=options.cert_warning_days,
                                                 critical_days=options.cert_critical_days,
                                                 **({"consequence": consequence} if consequence else {}))
    return findings


async def add_dane(sessions: Sequence[tuple[Session, SessionRecord]], resolver: Any,
                   findings: list[Finding]) -> None:
    """DANE for each session that reached EHLO, with or without TLS (one TLSA lookup per host, cached by
    the resolver): DNSSEC-signed TLSA records and no STARTTLS is CRITICAL (dane-no-tls)."""
    async def one(session: Session, record: SessionRecord) -> None:
        der = record.tls.get("der") if record.tls else None
        trusted = bool(record.tls.get("verified")) if record.tls else None
        chain = record.tls.get("chain") if record.tls else None
        session.dane = await dane.check_dane(session.host, resolver, der, port=session.port, trusted=trusted,
                                             chain=chain)
        findings.extend(dane.dane_findings(session.dane, mx_host=session.host, tls=record.tls is not None))

    await asyncio.gather(*(one(s, r) for s, r in sessions if reached_ehlo(r) and not is_ip_literal(s.host)))


async def domain_policies(domain: str, mx_hosts: list[str], resolver: Any, options: ProbeOptions, *,
                          cafile: str | None = None, policy_port: int | None = None,
                          ) -> tuple[dict[str, Any], dict[str, Any]]:
    """MTA-STS and TLS-RPT for the domain, concurrently. mta-sts.<domain> is resolved with `resolver`.

    `cafile` (default: the system store, SSL_CERT_FILE honoured) and `policy_port` (default 443) are
    for loopback tests.
    """
    from probe.tls import mtasts

    sts, rpt = await asyncio.gather(
        mtasts.check_mta_sts(domain, resolver, mx_hosts, timeout_s=options.timeout_s, cafile=cafile,
                             port=policy_port),
        mtasts.check_tls_rpt(domain, resolver),
    )
    return sts, rpt


def policy_findings(report: Report) -> list[Finding]:
    """MTA-STS judged against the certificates the sessions saw; TLS-RPT well-formedness."""
    from probe.tls import mtasts

    cert_by_host: dict[str, dict[str, Any] | None] = {}
    for s in report.sessions:
        if s.outcome == "completed":
            cert_by_host[s.host] = (s.tls or {}).get("certificate") if tls_negotiated(s.tls) else None
    return mtasts.mta_sts_findings(report.mta_sts, cert_by_host) + mtasts.tls_rpt_findings(report.tls_rpt)


# TLS problems a sender that authenticates the MX (MTA-STS enforce, DANE) refuses to deliver over.
CERTIFICATE_PROBLEMS = frozenset({"cert-expired", "cert-self-signed", "cert-untrusted", "cert-name-mismatch",
                                  "cert-unreadable", "starttls-missing", "starttls-refused", "starttls-failed"})


def authenticated_by(report: Report, host: str) -> str | None:
    """'MTA-STS enforce' or 'DANE' when senders authenticate `host`'s certificate; None when none does."""
    sts = report.mta_sts or {}
    if sts.get("mode") == "enforce" and (sts.get("covers") or {}).get(host):
        return "MTA-STS enforce"
    if any(s.host == host and s.dane and s.dane.get("records") and s.dane.get("dnssec") for s in report.sessions):
        return "DANE"
    return None


def grade_certificate_findings(report: Report) -> None:
    """The one rule for certificate problems (see probe.judge.health): WARNING (STARTTLS missing in auto mode:
    advice), CRITICAL where MTA-STS enforce or DANE covers that MX (senders that authenticate it will not
    deliver there)."""
    for f in report.findings:
        if f.id in CERTIFICATE_PROBLEMS and f.subject and f.severity is not Severity.CRITICAL:
            policy = authenticated_by(report, f.subject)
            if policy is not None:
                f.severity = Severity.CRITICAL
                f.message += f" {policy} covers {f.subject}: this is CRITICAL."


def transport_verdicts(report: Report) -> dict[str, Any] | None:
    """One line a person understands per MX host that spoke SMTP with us, and one for the domain.

    MTA-STS coverage is judged over every MX host of the report, probed or not.
    """
    hosts: dict[str, str] = {}
    tls_by_host: dict[str, dict[str, Any] | None] = {}
    dane_by_host: dict[str, dict[str, Any] | None] = {}
    chosen: dict[str, Session] = {}  # per host, in report order: its completed session, else its tls_failed one
    for s in report.sessions:
        if s.outcome in ("completed", "tls_failed") and (s.host not in chosen or (
                s.outcome == "completed" and chosen[s.host].outcome != "completed")):
            chosen[s.host] = s
    for host, s in chosen.items():
        named = not is_ip_literal(host)  # MTA-STS and DANE apply to MX names: each IP's line says so, once
        hosts[host] = tlsinfo.transport_summary(s.tls, report.mta_sts, s.dane, report.tls_rpt, mx_host=host,
                                                policies_apply=named, offered="STARTTLS" in s.extensions)
        tls_by_host[host] = s.tls
        if named:
            dane_by_host[host] = s.dane
    if not hosts:
        return None
    mx_hosts = list(dict.fromkeys(h for h in [m.host for m in report.mx] + list(tls_by_host) if not is_ip_literal(h)))
    offered = frozenset(h for h, s in chosen.items() if "STARTTLS" in s.extensions)
    domain = tlsinfo.domain_transport_summary(tls_by_host, report.mta_sts, dane_by_host, report.tls_rpt,
                                              mx_hosts=mx_hosts, offered=offered)
    return {"domain": domain, "hosts": hosts}
