"""Edge, pure: Report + HealthResult -> Prometheus text exposition for node_exporter's textfile collector.

No I/O, no timestamps (node_exporter skips a whole file that carries client-side
timestamps), one HELP/TYPE per family, label values escaped, trailing newline.
Metric names follow blackbox_exporter where one exists; the rest use `smtp_probe_`.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable

from probe.judge.health import Check, HealthResult
from probe.judge.reportfacts import session_label
from probe.model import DomainStatus, ExitCode, Report, Step, Verdict, tls_negotiated

Labels = tuple[tuple[str, str], ...]


class _Family:
    """One metric family: name, help, and samples keyed by label set (a later sample replaces one)."""

    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help_text = name, help_text
        self.samples: dict[Labels, float] = {}

    def add(self, value: float, **labels: str) -> None:
        self.samples[tuple(labels.items())] = value

    def lines(self) -> Iterable[str]:
        if not self.samples:
            return
        yield f"# HELP {self.name} {self.help_text}"
        yield f"# TYPE {self.name} gauge"
        for labels, value in self.samples.items():
            rendered = ",".join(f'{key}="{_escape(val)}"' for key, val in labels)
            yield f"{self.name}{{{rendered}}} {_number(value)}"


def _escape(value: str) -> str:
    """Label value escaping of the exposition format: backslash, double quote, newline."""
    value = value.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates from servers
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """C-locale numbers: integers without a fraction, floats via repr, NaN/Inf spelled as Prometheus does."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _expiry_timestamp(not_after: object) -> float | None:
    """An ISO 8601 `not_after` ("2027-01-31T00:00:00Z") as unix time; naive times are UTC."""
    if not isinstance(not_after, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(not_after.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment.timestamp()


CATCH_ALL_LABEL = "catch-all"  # the address label of the probe's random (catch-all test) address


def _reply_labels(step: Step, user_addresses: dict[str, str]) -> dict[str, str]:
    """Stable labels for a reply: the command verb only (never its argument), the user's address in
    `address`, and the probe's random catch-all address as address="catch-all", catch_all="true"."""
    command = (step.command or "").strip()
    verb = command.split(None, 1)[0].split(":", 1)[0].upper() if command else str(step.context)
    address, catch_all = "", "false"
    if "<" in command and verb in ("RCPT", "VRFY", "EXPN"):
        mailbox = command[command.index("<") + 1:].split(">", 1)[0]
        known = user_addresses.get(mailbox.lower())
        if known is not None:
            address = known
        elif mailbox:
            address, catch_all = CATCH_ALL_LABEL, "true"
    elif verb in ("VRFY", "EXPN") and len(command.split(None, 1)) == 2:
        address = user_addresses.get(command.split(None, 1)[1].strip("<> ").lower(), "")
    return {"command": verb, "address": address, "catch_all": catch_all}


def render_prometheus(report: Report, health: HealthResult, *, dns_lookup_s: float | None = None) -> str:
    """The textfile-collector exposition of one probe (every sample labelled with the domain).

    `dns_lookup_s` is the time spent resolving MX and addresses, when the caller measured it.
    """
    domain = report.domain
    success = _Family("probe_success", "Displays whether or not the probe was a success")
    duration = _Family("probe_duration_seconds", "Returns how long the probe took to complete in seconds")
    dns = _Family("probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds")
    exit_code = _Family("smtp_probe_exit_code",
                        "Exit code of the probe: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")
    check_success = _Family("smtp_probe_check_success", "1 if an individual SMTP check passed")
    check_status = _Family("smtp_probe_check_status",
                           "State of an individual SMTP check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")
    reply_code = _Family("smtp_probe_reply_code", "Last SMTP reply code to each command (banner: greeting)")
    verdict = _Family("smtp_probe_address_verdict", "1 for the verdict an address got, 0 for the others")
    status = _Family("smtp_probe_domain_status", "1 for the status the domain got, 0 for the others")
    mx_verdict = _Family("smtp_probe_mx_address_verdict",
                         "--all-mx: 1 for the verdict each MX host gave an address, 0 for the others")
    expiry = _Family("probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime")
    tls_version = _Family("smtp_probe_tls_version_info", "The TLS version negotiated after STARTTLS")

    success.add(1 if health.exit_code is ExitCode.OK else 0, domain=domain)
    duration.add(report.elapsed_ms / 1000, domain=domain)
    if dns_lookup_s is not None:
        dns.add(dns_lookup_s, domain=domain)
    exit_code.add(int(health.exit_code), domain=domain)
    if report.status is not None:  # None only on a batch line that could not be parsed
        for candidate_status in DomainStatus:
            status.add(1 if report.status is candidate_status else 0, domain=domain, status=str(candidate_status))
    for check in health.checks:
        _add_check(check_success, check_status, check, domain)
    users = {a.address.lower(): a.address for a in report.addresses}
    for session in report.sessions:
        mx = session_label(report, session)
        for step in session.steps:
            if step.code is not None:
                reply_code.add(step.code, domain=domain, mx=mx, **_reply_labels(step, users))
        tls = session.tls or {}
        if tls_negotiated(tls):
            tls_version.add(1, domain=domain, mx=mx, version=str(tls["version"]))
        certificate = tls.get("certificate")
        timestamp = _expiry_timestamp(certificate.get("not_after")) if isinstance(certificate, dict) else None
        if timestamp is not None:
            expiry.add(timestamp, domain=domain, mx=mx)
    for address in report.addresses:
        for candidate in Verdict:
            verdict.add(1 if address.verdict is candidate else 0, domain=domain, address=address.address,
                        verdict=str(candidate))
        for answer in address.mx_verdicts:
            for candidate in Verdict:
                mx_verdict.add(1 if answer["verdict"] == candidate else 0, domain=domain, mx=str(answer["host"]),
                               ip=str(answer["address"]), address=address.address, verdict=str(candidate))
    families = (success, duration, dns, exit_code, status, check_success, check_status, reply_code, verdict,
                mx_verdict, expiry, tls_version)
    return "".join(f"{line}\n" for family in families for line in family.lines())


def _add_check(success: _Family, status: _Family, check: Check, domain: str) -> None:
    """Skipped (not applicable) checks have no sample: absent is not the same as failed."""
    if check.skipped:
        return
    labels = {"domain": domain, "mx": check.mx or "", "check": check.name}
    success.add(1 if check.status is ExitCode.OK else 0, **labels)
    status.add(int(check.status), **labels)
