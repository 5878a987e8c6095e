"""Orchestration: transport security in the same run — STARTTLS, certificate, DANE, MTA-STS, TLS-RPT.

The checks themselves live in tlsinfo.py, dane.py and mtasts.py; this module
decides when each runs and folds their answers into the report's sessions,
findings and one-line verdicts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from . import dane, mtasts, tlsinfo
from .exchanges import SessionRecord
from .model import Finding, ProbeOptions, Report, Session


def handshake_error(record: SessionRecord) -> str | None:
    """Why STARTTLS failed in this session, if it did (the last TLS event's detail)."""
    for exchange in reversed(record.exchanges):
        if exchange.event in ("tls-handshake-failed", "starttls-not-offered"):
            return exchange.detail or exchange.event
    return None


def session_tls(record: SessionRecord) -> dict[str, Any] | None:
    """The SPEC.md `tls` object for one session (None when STARTTLS was not attempted)."""
    error = handshake_error(record)
    if record.tls is None and error is not None and "STARTTLS" not in record.extensions:
        error = None  # not offered: that is a finding, not a failed handshake
    return tlsinfo.tls_from_session(record.tls, mx_host=record.host, error=error)


def session_findings(session: Session, options: ProbeOptions) -> list[Finding]:
    """Certificate and STARTTLS findings for a session that reached EHLO."""
    if session.outcome not in ("completed", "tls_failed"):
        return []
    findings = tlsinfo.starttls_findings(session.host, session.tls, offered="STARTTLS" in session.extensions,
                                         mode=options.starttls)
    if session.tls and session.tls.get("certificate"):
        findings += tlsinfo.certificate_findings(session.host, session.tls["certificate"],
                                                 warning_days=options.cert_warning_days,
                                                 critical_days=options.cert_critical_days)
    return findings


async def add_dane(sessions: Sequence[tuple[Session, SessionRecord]], resolver: Any,
                   findings: list[Finding]) -> None:
    """DANE for each session that presented a certificate (one TLSA lookup per host, cached by the resolver)."""
    async def one(session: Session, record: SessionRecord) -> None:
        der = record.tls.get("der") if record.tls else None
        trusted = bool(record.tls.get("verified")) if record.tls else None
        session.dane = await dane.check_dane(session.host, resolver, der, port=session.port, trusted=trusted)
        findings.extend(dane.dane_findings(session.dane, mx_host=session.host))

    await asyncio.gather(*(one(s, r) for s, r in sessions if r.tls is not None))


async def domain_policies(domain: str, mx_hosts: list[str], resolver: Any,
                          options: ProbeOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """MTA-STS and TLS-RPT for the domain, concurrently."""
    sts, rpt = await asyncio.gather(
        mtasts.check_mta_sts(domain, resolver, mx_hosts, timeout_s=options.timeout_s),
        mtasts.check_tls_rpt(domain, resolver),
    )
    return sts, rpt


def policy_findings(report: Report) -> list[Finding]:
    """MTA-STS judged against the certificates the sessions saw; TLS-RPT well-formedness."""
    cert_by_host: dict[str, dict[str, Any] | None] = {}
    for s in report.sessions:
        if s.outcome == "completed":
            cert_by_host[s.host] = (s.tls or {}).get("certificate") if s.tls and not s.tls.get("error") else None
    return mtasts.mta_sts_findings(report.mta_sts, cert_by_host) + mtasts.tls_rpt_findings(report.tls_rpt)


def transport_verdicts(report: Report) -> dict[str, Any] | None:
    """One line a person understands per MX host reached over SMTP, and one for the domain."""
    hosts: dict[str, str] = {}
    tls_by_host: dict[str, dict[str, Any] | None] = {}
    dane_by_host: dict[str, dict[str, Any] | None] = {}
    for s in report.sessions:
        if s.outcome != "completed" or s.host in hosts:
            continue
        hosts[s.host] = tlsinfo.transport_summary(s.tls, report.mta_sts, s.dane, report.tls_rpt, mx_host=s.host)
        tls_by_host[s.host], dane_by_host[s.host] = s.tls, s.dane
    if not hosts:
        return None
    domain = tlsinfo.domain_transport_summary(tls_by_host, report.mta_sts, dane_by_host, report.tls_rpt)
    return {"domain": domain, "hosts": hosts}
