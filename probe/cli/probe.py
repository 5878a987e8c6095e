"""Edge: `smtp-probe probe` (the default command): click -> Plan -> one probe -> renderers -> exit code.

Only click and the model are imported at module level; the network stack is imported when the probe runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from probe.cli.options import color_wanted, connection_options, fail, make_plan
from probe.errors import ProbeError

FORMATS = ("text", "json", "nagios", "prometheus", "junit")


@click.command("probe", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target")
@click.argument("addresses", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="The JSON report (same as --format json).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format.")
@click.option("--output", "-o", "output", metavar="FILE",
              help="Write the report to FILE (atomically: a textfile collector never sees half a file).")
@connection_options
@click.option("-v", "--transcript", "verbose", is_flag=True, help="Show the dialogue, each reply with its reason.")
@click.option("--color/--no-color", default=None, help="Colour (default: on a terminal, unless NO_COLOR).")
def probe_command(target: str, addresses: tuple[str, ...], as_json: bool, fmt: str, output: str | None,
                  verbose: bool, color: bool | None, **kw: Any) -> int:
    """Probe TARGET (a domain or an address) and optionally ADDRESSES. See `smtp-probe --help`.

    ADDRESS [ADDRESS...] must share one domain. DOMAIN ADDRESS... asks DOMAIN's MX; addresses of
    other domains are then relay/backup checks, not deliverability. DOMAIN alone asks
    RCPT TO:<postmaster@DOMAIN>, which every server that takes mail for DOMAIN must accept
    (RFC 5321 §4.5.1); --no-postmaster skips it.
    """
    fmt = "json" if as_json else fmt
    try:
        domain, parsed = _parse_target(target, addresses)
        plan = make_plan(kw, address_count=len(parsed))
        report = _run_probe(domain, parsed, plan.options)
    except ProbeError as exc:
        return could_not_run(target, str(exc), fmt, output)
    except KeyboardInterrupt:
        return fail("interrupted")
    plan.warn()
    from probe.judge.health import finish_report

    health = finish_report(report, plan.expectations, **plan.thresholds)
    text = render(report, health, fmt, color=color_wanted(color) and output is None, verbose=verbose)
    from probe.render.output import write_output

    try:
        write_output(text, output)
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}")
    return int(report.exit_code)


def could_not_run(target: str, message: str, fmt: str, output: str | None) -> int:
    """Bad input or no usable resolver: one stderr line, exit 3 — and for the machine formats an UNKNOWN
    report on stdout or --output too, so a monitor sees "could not run" instead of nothing or a stale file."""
    code = fail(message)
    if fmt == "text":
        return code
    from probe.model import DomainStatus, Reason, Report

    report = Report(domain=target, status=DomainStatus.DNS_ERROR, reason=Reason.UNKNOWN, error=message,
                    summary=f"{target}: probe could not run: {message}", input=target, mx_source="none")
    from probe.judge.health import finish_report

    health = finish_report(report, [])
    from probe.render.output import write_output

    try:
        write_output(render(report, health, fmt, color=False, verbose=False), output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    return code


def _parse_target(target: str, addresses: Sequence[str]) -> tuple[str, list[Any]]:
    """`DOMAIN [ADDRESS...]` or `ADDRESS [ADDRESS...]` -> (A-label domain, parsed addresses).

    Addresses given without a DOMAIN must share one domain; with a DOMAIN, addresses of other
    domains are asked of DOMAIN's MX (a relay/backup question, reported as such).
    """
    from probe import inputs

    parsed = inputs.target_from_args(target, addresses)
    return parsed.domain, list(parsed.addresses)


def _run_probe(domain: str, addresses: Sequence[Any], options: Any) -> Any:
    import asyncio

    from probe.dns.loading import prepare_dnspython

    prepare_dnspython()
    from probe.run.probe import probe_domain

    return asyncio.run(probe_domain(domain, addresses, options))


def render(report: Any, health: Any, fmt: str, *, color: bool, verbose: bool) -> str:
    """The report in one of FORMATS; every format comes from the same report and health result."""
    if fmt == "json":
        from probe.render.json import report_json

        return report_json(report, health=health) + "\n"
    if fmt == "nagios":
        from probe.render.nagios import render_nagios

        return render_nagios(report, health)
    if fmt == "prometheus":
        from probe.render.prometheus import render_prometheus

        return render_prometheus(report, health)
    if fmt == "junit":
        from probe.render.junit import render_junit
        from probe.render.text import render_text

        return render_junit(report, health, transcript=render_text(report, verbose=True))
    import os

    from probe.render.text import render_text
    from probe.render.wrap import columns

    return render_text(report, color=color, verbose=verbose, health=health, width=columns(os.environ))

