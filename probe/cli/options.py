"""Edge: the command line's shared options (probe and batch) validated into a Plan, and small CLI helpers.

Like probe.cli.main, only click and the model are imported at module level: nothing here may pull in
asyncio, DNS, TLS or the SMTP layers before a command actually runs.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from typing import Any

import click

from probe.model import ExitCode
from probe.run.blocklists import DEFAULT_DNSBL_ZONES

DNSBL_DEFAULT_HELP = ", ".join(DEFAULT_DNSBL_ZONES)


def color_wanted(choice: bool | None) -> bool:
    """--color/--no-color if given, else colour on a terminal unless NO_COLOR is set."""
    if choice is not None:
        return choice
    if "NO_COLOR" in os.environ and os.environ["NO_COLOR"] != "":
        return False
    return sys.stdout.isatty()


def fail(message: str) -> int:
    """One line on stderr; the UNKNOWN exit code (3) for the command to return."""
    click.echo(f"smtp-probe: {message}", err=True)
    return int(ExitCode.UNKNOWN)


def bare_ip(text: str) -> str:
    """--source-ip is an address, nothing more: a port or a name is refused, not silently dropped."""
    import ipaddress

    from probe.errors import InputError

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise InputError(f"--source-ip {text!r} is not a bare IP address (e.g. 203.0.113.5 or 2001:db8::5; "
                         "no port, no name)") from None


def collect_cycles() -> None:
    """For a command that runs long (batch, worker): cyclic garbage collection back on (main() turns it off
    for a command's start-up), with what is loaded by now frozen (gc.freeze), never walked again."""
    gc.freeze()
    gc.enable()


CONNECTION_OPTIONS = [
    click.option("--port", type=click.IntRange(1, 65535), default=25, show_default=True, help="SMTP port."),
    click.option("--mx", "mx", multiple=True, metavar="HOST[:PORT]",
                 help="Skip the MX lookup and probe this host (repeatable, tried in order)."),
    click.option("--resolver", "resolvers", multiple=True, metavar="IP[:PORT]",
                 help="DNS server to ask (repeatable; default: the system's)."),
    click.option("--helo", envvar="SMTP_PROBE_HELO", show_envvar=True, metavar="NAME",
                 help="EHLO/HELO name (default: this machine's FQDN; localhost.localdomain, with a warning, "
                      "when it has no dotted name)."),
    click.option("--from", "mail_from", envvar="SMTP_PROBE_FROM", show_envvar=True, default="", metavar="ADDRESS",
                 help="MAIL FROM address (default: the null reverse-path <>)."),
    click.option("--timeout", type=click.FloatRange(0.05, 600), default=10.0, show_default=True,
                 metavar="SECONDS", help="Limit for each step (connect, banner, each command)."),
    click.option("--deadline", type=click.FloatRange(0.1, 3600), default=120.0, show_default=True,
                 metavar="SECONDS", help="Limit for the whole run (per target in batch), whatever the servers do."),
    click.option("--starttls", type=click.Choice(["auto", "require", "never"]), default="auto",
                 show_default=True,
                 help="auto: use STARTTLS when offered (its absence is advice). require: STARTTLS must be "
                      "offered, the handshake succeed and the certificate verify (trusted chain, the MX name, "
                      "in date; expiring within 7 days or --cert-critical is CRITICAL too); anything less is "
                      "CRITICAL and the probe stops before MAIL. never: plain text only."),
    click.option("--no-vrfy", is_flag=True, help="Skip VRFY."),
    click.option("--no-catch-all", is_flag=True, help="Do not test a random address for catch-all."),
    click.option("--no-postmaster", is_flag=True,
                 help="Domain only (no address given): do not send RCPT TO:<postmaster@DOMAIN>, which tests "
                      "that the MX takes mail for the domain from this client (RFC 5321 §4.5.1); stop after "
                      "MAIL FROM, as before."),
    click.option("--no-pipelining", is_flag=True, help="Never pipeline commands, even when offered."),
    click.option("--no-tls-policies", is_flag=True, help="Skip the MTA-STS, TLS-RPT and DANE lookups."),
    click.option("--expect", "expectations", multiple=True, metavar="WHAT",
                 help="What counts as healthy (repeatable): accepts-mail, no-mail, deliverable, "
                      "undeliverable, risky, reason=REASON, code=NNN, starttls."),
    click.option("--warning", "warning_s", type=float, metavar="SECONDS",
                 help="WARNING when the whole probe takes longer."),
    click.option("--critical", "critical_s", type=float, metavar="SECONDS",
                 help="CRITICAL when the whole probe takes longer."),
    click.option("--cert-warning", type=int, metavar="DAYS",
                 help="WARNING when a certificate expires sooner (default 21). Certificate problems are "
                      "WARNING, CRITICAL where MTA-STS enforce or DANE covers that MX."),
    click.option("--cert-critical", type=int, metavar="DAYS",
                 help="CRITICAL when a certificate expires sooner, or has expired."),
    click.option("--dnsbl", "dnsbl_zones", multiple=True, metavar="ZONE",
                 help="DNS blocklist zone to check this machine's address against, when a server echoes it "
                      f"(repeatable; default: {DNSBL_DEFAULT_HELP})."),
    click.option("-4", "ipv4_only", is_flag=True,
                 help="Use IPv4 addresses only. A host with no IPv4 address, or none that accepts a connection, "
                      "is tried over IPv6 instead, and a finding says so."),
    click.option("-6", "ipv6_only", is_flag=True,
                 help="Use IPv6 addresses only. A host with no IPv6 address, or none that accepts a connection, "
                      "is tried over IPv4 instead, and a finding says so."),
    click.option("--proxy", metavar="socks5://HOST:PORT",
                 help="Connect through this SOCKS5 proxy (user:password@ allowed); needs smtp-probe[socks]."),
    click.option("--retry-greylist", "retry_greylist", type=click.FloatRange(0, 3600), default=0.0,
                 metavar="SECONDS", help="When greylisted, wait up to this long (within --deadline) and ask "
                                         "again from the same source address."),
    click.option("--all-mx", is_flag=True,
                 help="Probe every MX host at once (one connection each) and show each; verdicts still "
                      "follow preference order."),
]


def connection_options(func: Any) -> Any:
    """Decorate a command with every CONNECTION_OPTIONS option, in order."""
    for option in reversed(CONNECTION_OPTIONS):
        func = option(func)
    return func


@dataclass(frozen=True)
class Plan:
    """What the shared options decided: how to probe, and how to judge the result."""

    options: Any  # ProbeOptions
    expectations: list[Any]
    thresholds: dict[str, Any]
    warnings: tuple[str, ...] = ()  # said on stderr once the probe runs (e.g. the HELO fallback)

    def warn(self) -> None:
        for warning in self.warnings:
            click.echo(f"smtp-probe: warning: {warning}", err=True)


def make_plan(kw: dict[str, Any], *, address_count: int | None = None) -> Plan:
    """Validate the shared options (InputError on anything unusable; nothing is sent).

    `address_count`: how many addresses the target names (None in batch, where it varies per line),
    so that expectations no run could meet are refused here."""
    from probe import inputs
    from probe.errors import InputError
    from probe.judge.expect import check_expectations, parse_expectation
    from probe.model import ProbeOptions

    port = kw["port"]
    if kw["ipv4_only"] and kw["ipv6_only"]:
        raise InputError("-4 and -6 exclude each other")
    cert_warning, cert_critical = check_thresholds(kw)
    if kw["proxy"]:
        from probe.smtp.proxy import parse_proxy_url

        parse_proxy_url(kw["proxy"])
    options = ProbeOptions(
        helo=inputs.parse_helo(kw["helo"]) if kw["helo"] else default_helo(),
        mail_from=inputs.parse_mail_from(kw["mail_from"]),
        port=port,
        mx=tuple(inputs.parse_host_port(m, port, what="--mx") for m in kw["mx"]),
        resolvers=tuple(inputs.parse_resolver(r) for r in kw["resolvers"]),
        timeout_s=kw["timeout"], deadline_s=kw["deadline"], starttls=kw["starttls"],
        vrfy=not kw["no_vrfy"], catch_all=not kw["no_catch_all"], pipelining=not kw["no_pipelining"],
        postmaster=not kw.get("no_postmaster", False),
        tls_policies=not kw["no_tls_policies"],
        cert_warning_days=cert_warning,
        cert_critical_days=cert_critical if kw["starttls"] == "require" or kw["cert_warning"] is not None
        or kw["cert_critical"] is not None else None,
        dnsbl_zones=tuple(inputs.parse_domain(z, what="--dnsbl") for z in kw.get("dnsbl_zones") or ()),
        family=4 if kw["ipv4_only"] else 6 if kw["ipv6_only"] else None,
        proxy=kw["proxy"] or None, retry_greylist_s=kw["retry_greylist"], all_mx=kw["all_mx"],
    )
    required = kw["starttls"] == "require"
    # ONE source of certificate thresholds: the findings (ProbeOptions) and the health check get the same
    # effective values; health judges them only when the user gave one or required STARTTLS.
    judged = required or kw["cert_warning"] is not None or kw["cert_critical"] is not None
    thresholds = {"warning_s": kw["warning_s"], "critical_s": kw["critical_s"],
                  "cert_warning_days": cert_warning if judged else None,
                  "cert_critical_days": cert_critical if judged else None,
                  "starttls_required": required}
    warnings = () if kw["helo"] or options.helo != FALLBACK_HELO else (helo_fallback_warning(),)
    expectations = [parse_expectation(e) for e in kw["expectations"]]
    check_expectations(expectations, address_count=address_count)
    return Plan(options, expectations, thresholds, warnings)


DEFAULT_CERT_WARNING_DAYS, DEFAULT_CERT_CRITICAL_DAYS = 21, 7


def check_thresholds(kw: dict[str, Any]) -> tuple[int, int]:
    """Reject negative limits and a warning limit beyond the critical one; the effective cert thresholds."""
    from probe.errors import InputError

    for key, flag in (("warning_s", "--warning"), ("critical_s", "--critical"),
                      ("cert_warning", "--cert-warning"), ("cert_critical", "--cert-critical")):
        value = kw.get(key)
        if value is not None and not value >= 0:  # also rejects NaN
            raise InputError(f"{flag} must be a number >= 0 (got {value})")
    if kw.get("warning_s") is not None and kw.get("critical_s") is not None and kw["warning_s"] > kw["critical_s"]:
        raise InputError(f"--warning {kw['warning_s']:g} s is above --critical {kw['critical_s']:g} s: "
                         "the warning limit must be the lower one")
    warning, critical = kw.get("cert_warning"), kw.get("cert_critical")
    if warning is not None and critical is not None and critical > warning:
        raise InputError(f"--cert-critical {critical} days is above --cert-warning {warning} days: "
                         "the critical limit must be the nearer one (fewer days)")
    if warning is None:  # a default never contradicts the value given
        warning = max(DEFAULT_CERT_WARNING_DAYS, critical or 0)
    if critical is None:
        critical = min(DEFAULT_CERT_CRITICAL_DAYS, warning)
    return int(warning), int(critical)


FALLBACK_HELO = "localhost.localdomain"


def default_helo() -> str:
    """This machine's FQDN, or localhost.localdomain when it has no dotted name (see helo_fallback_warning)."""
    import socket

    name = socket.getfqdn()
    return name if "." in name else FALLBACK_HELO


def helo_fallback_warning() -> str:
    """The one line saying the default HELO fell back (many receivers distrust localhost.localdomain)."""
    import socket

    return (f"this machine's name {socket.getfqdn()!r} is not a fully qualified domain name, so the HELO "
            f"name is {FALLBACK_HELO}; set --helo or SMTP_PROBE_HELO")
