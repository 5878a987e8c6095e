"""Edge: `smtp-probe self-check`: this machine audited as a mail client (probe.run.selfaudit)."""

from __future__ import annotations

import click

from probe.cli.options import DNSBL_DEFAULT_HELP, bare_ip, color_wanted, default_helo, fail
from probe.errors import ProbeError
from probe.model import ExitCode


@click.command("self-check", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--source-ip", metavar="IP", help="This machine's public address (as mail servers see it).")
@click.option("--helo", envvar="SMTP_PROBE_HELO", show_envvar=True, metavar="NAME",
              help="The EHLO name you use (default: this machine's FQDN).")
@click.option("--dnsbl", "zones", multiple=True, metavar="ZONE",
              help=f"DNS blocklist zone to check (repeatable; default: {DNSBL_DEFAULT_HELP}).")
@click.option("--resolver", "resolvers", multiple=True, metavar="IP[:PORT]",
              help="DNS server to ask (repeatable; default: the system's).")
@click.option("--timeout", type=click.FloatRange(0.05, 600), default=5.0, show_default=True, metavar="SECONDS",
              help="Limit for each DNS lookup (PTR, forward confirmation, HELO, each blocklist).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@click.option("--color/--no-color", default=None)
def self_check_command(source_ip: str | None, helo: str | None, zones: tuple[str, ...], resolvers: tuple[str, ...],
                       timeout: float, as_json: bool, color: bool | None) -> int:
    """Audit this machine as a mail client before blaming the target: reverse DNS (PTR) and its
    forward confirmation, HELO consistency, and DNS blocklist listings of --source-ip.

    Exit code: 2 when listed or otherwise refused by receivers, 1 for warnings, 0 clean, 3 when it could not run.
    """
    import asyncio

    from probe.dns.loading import prepare_dnspython

    prepare_dnspython()
    from probe import inputs
    from probe.dns import resolve
    from probe.model import Severity
    from probe.run.blocklists import DEFAULT_DNSBL_ZONES
    from probe.run.selfaudit import self_check

    try:
        name = inputs.parse_helo(helo) if helo else default_helo()
        ip = bare_ip(source_ip) if source_ip else None
        servers = tuple(inputs.parse_resolver(r) for r in resolvers)
        dnsbl = tuple(inputs.parse_domain(z, what="--dnsbl") for z in zones) or DEFAULT_DNSBL_ZONES
        resolver = resolve.make_resolver(servers, timeout_s=timeout)
        audit = asyncio.run(self_check(resolver, source_ip=ip, helo=name, dnsbl_zones=dnsbl, timeout_s=timeout))
    except ProbeError as exc:
        return fail(str(exc))
    findings = audit.findings()
    if as_json:
        from probe.model import to_plain
        from probe.render.json import dumps

        click.echo(dumps({**audit.to_dict(), "findings": [to_plain(f) for f in findings]}))
    else:
        from probe.render.text import render_self_check

        use_color = color_wanted(color)
        import os

        from probe.render.wrap import columns

        click.echo(render_self_check(audit.to_dict(), findings, color=use_color, width=columns(os.environ)),
                   color=use_color, nl=False)
    if audit.ip is None:
        return int(ExitCode.UNKNOWN)
    worst = max((f.severity for f in findings), key=list(Severity).index, default=Severity.OK)
    return {Severity.CRITICAL: 2, Severity.WARNING: 1}.get(worst, 0)

