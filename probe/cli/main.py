"""Edge: the command line. click → ProbeOptions → runner → renderers → exit code.

Only click and the model are imported at module level, so `--help`, `--version` and
`explain` start fast; the network stack is imported inside the probe commands.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import Any

import click

from probe import __version__
from probe.cli.options import (
    DNSBL_DEFAULT_HELP,
    collect_cycles,
    color_wanted,
    connection_options,
    default_helo,
    fail,
    make_plan,
)
from probe.errors import ProbeError
from probe.model import Context, ExitCode

CONTEXT_HELP = (", ".join(c.value for c in Context if c not in (Context.CONNECT, Context.DNS, Context.TLS))
                + " (bounce: text from a bounce, command unknown); also greeting, LHLO, 'MAIL FROM', 'RCPT TO', "
                  "end-of-data, and the probe's own events connect, dns, tls")

FORMATS = ("text", "json", "nagios", "prometheus", "junit")

MAIN_HELP = """Probe a domain's mail servers and explain every reply.

\b
smtp-probe DOMAIN [ADDRESS ...]   probe DOMAIN's MX hosts (and addresses)
smtp-probe ADDRESS                same, the domain taken from the address
smtp-probe explain CODE [CODE ...]   what a reply code means (two or more:
                                     compared); --context RCPT "550 ..."
                                     diagnoses a pasted reply
smtp-probe batch FILE|-           many targets, JSON Lines out
smtp-probe worker --broker URL    probe for `batch --broker URL` (a fleet)
smtp-probe self-check --source-ip IP   audit this machine: PTR, FCrDNS, HELO,
                                       DNS blocklists
smtp-probe demo                   offline tour on loopback fake servers

The probe never sends DATA: it never delivers mail. With no address, it asks
RCPT TO:<postmaster@DOMAIN> (RFC 5321 §4.5.1) to test that mail is taken
from this client (--no-postmaster: stop after MAIL FROM).

\b
Exit codes (monitoring-plugins convention):
0 OK        the domain accepts mail, every address deliverable (--expect met)
1 WARNING   only transient or uncertain results (greylisting, 4xx, 252,
            catch-all, the servers answered but refused this client)
2 CRITICAL  a permanent failure (undeliverable, no mail accepted, unreachable)
3 UNKNOWN   the probe could not run (bad usage or input, local DNS failure)

\b
Environment:
SMTP_PROBE_HELO  default for --helo   SMTP_PROBE_FROM  default for --from
NO_COLOR         no colour            COLUMNS   text width (default 80)

Run `smtp-probe probe --help` for every probe option.
"""


# commands defined in a module of their own, imported when named (or listed by --help): start-up stays light
_ELSEWHERE = {"worker": ("probe.cli.cluster", "worker_command")}


class _DefaultGroup(click.Group):
    """A group whose default command is `probe`: `smtp-probe example.com` == `smtp-probe probe example.com`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in _ELSEWHERE \
                and args[0] not in ("--help", "-h", "--version"):
            args = ["probe", *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_ELSEWHERE})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _ELSEWHERE and name not in self.commands:
            import importlib

            module, attribute = _ELSEWHERE[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=_DefaultGroup, help=MAIN_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smtp-probe")
def cli() -> None:
    pass


# ---------------------------------------------------------------- probe
@cli.command("probe", context_settings={"help_option_names": ["-h", "--help"]})
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


# ---------------------------------------------------------------- explain
@cli.command("explain", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("items", nargs=-1)
@click.option("--context", "context", metavar="COMMAND",
              help=f"The command the reply answered, case-insensitive: {CONTEXT_HELP}.")
@click.option("--host", metavar="MX-HOST", help="The mail server that said it (recognises the provider).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@click.option("--jsonl", is_flag=True,
              help='Read JSON Lines from stdin ({"context": ..., "reply": ...} a line), write JSON Lines.')
@click.option("--color/--no-color", default=None, help="Colour (default: on a terminal, unless NO_COLOR).")
def explain_command(items: tuple[str, ...], context: str | None, host: str | None, as_json: bool,
                    jsonl: bool, color: bool | None) -> int:
    """Explain reply codes (252, 5.7.26, "550 5.1.1"), compare several, or diagnose a pasted reply.

    \b
      smtp-probe explain 252
      smtp-probe explain 252 521
      smtp-probe explain --context RCPT "550-5.1.1 The email account that you
        tried to reach does not exist"
    """
    from probe.diagnosis import explain
    from probe.render.json import dumps

    if jsonl:
        for obj in explain.explain_stream(sys.stdin):
            click.echo(dumps(obj, indent=None))
        return 0
    if not items:
        return fail("explain needs a code or a reply line, e.g. `smtp-probe explain 252` (see --help)")
    try:
        if context is not None or host is not None:
            from probe.diagnosis.classifier import classify

            data = classify("\n".join(items), context, host=host).to_dict()
            comparison = False
        elif len(items) == 1:
            data, comparison = explain.entry(items[0]), False
        else:
            data, comparison = explain.compare(list(items)), True
    except (ProbeError, ValueError) as exc:
        return fail(str(exc))
    if as_json:
        click.echo(dumps(data))
        return 0
    import os

    from probe.render.explain import render_comparison, render_entry
    from probe.render.wrap import columns

    use_color, width = color_wanted(color), columns(os.environ)
    text = (render_comparison(data, color=use_color, columns=width) if comparison
            else render_entry(data, color=use_color, columns=width))
    click.echo(text, color=use_color, nl=not text.endswith("\n"))
    return 0


# ---------------------------------------------------------------- demo
@cli.command("demo", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--transcript", "verbose", is_flag=True, help="Show each dialogue.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one report per scenario.")
@click.option("--color/--no-color", default=None)
def demo_command(verbose: bool, as_json: bool, color: bool | None) -> int:
    """Offline tour: real situations on loopback fake DNS and mail servers, probed by the real code."""
    import asyncio

    from probe.dns.loading import prepare_dnspython

    prepare_dnspython()
    from probe.run.demo import run_demo

    use_color = color_wanted(color)

    def show(text: str) -> None:
        click.echo(text, color=use_color, nl=False)

    import os

    from probe.render.wrap import columns

    return asyncio.run(run_demo(show, color=use_color, verbose=verbose, as_json=as_json, width=columns(os.environ)))


# ---------------------------------------------------------------- batch
@cli.command("batch", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", metavar="FILE|-")
@connection_options
@click.option("--concurrency", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Targets probed at the same time.")
@click.option("--per-host", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Connections to one MX host at the same time (1 is polite).")
@click.option("--unordered", is_flag=True, help="Write each result as soon as it is ready, not in input order.")
@click.option("--output", "-o", "output", metavar="FILE", help="Write the JSON Lines to FILE instead of stdout.")
@click.option("--resume", metavar="OUT",
              help="Skip targets already answered in OUT and append the new results to it.")
@click.option("--progress/--no-progress", default=None, help="Progress on stderr (default: when it is a terminal).")
@click.option("--broker", envvar="SMTP_PROBE_BROKER", metavar="URL",
              help="Send the work to `smtp-probe worker`s on this Celery broker (redis://[:PASSWORD@]HOST:6379/0); "
                   "needs smtp-probe[cluster].")
@click.option("--redis", "redis_url", envvar="SMTP_PROBE_REDIS", metavar="URL",
              help="With --broker: the fleet's Redis (default: the broker).")
@click.option("--wait", "wait_s", type=click.FloatRange(1, 86400), default=900.0, show_default=True,
              metavar="SECONDS", help="With --broker: give up when no worker has answered for this long.")
def batch_command(source: str, concurrency: int, per_host: int, unordered: bool, output: str | None,
                  resume: str | None, progress: bool | None, broker: str | None, redis_url: str | None,
                  wait_s: float, **kw: Any) -> int:
    """Probe many targets, one per line of FILE (or stdin for -). Results stream out as JSON Lines, one
    object per input line, with the input echoed (`input`) and its line number (`line`).

    \b
    A line is one of:
      example.com                        a domain
      user@example.com                   an address (its domain is probed)
      example.com a@example.com ...      a domain, then addresses
      example.com,a@example.com          a CSV row; a first line such as
                                         domain,address is a header (skipped)
      {"domain": "example.com", "addresses": ["a@example.com"]}
                                         a JSON object ("target", "address" too)

    Blank lines and lines starting with # are skipped. A bad line becomes a result with `error` and
    status null; it never stops the run.

    --resume OUT skips the lines already answered in OUT and appends to it; a last line cut short by an
    interrupted run is removed first, and its target probed again.

    --broker URL sends the work to `smtp-probe worker`s (smtp-probe[cluster]): the same lines, order,
    progress, summary and exit code; 3 when the broker, Redis or the workers cannot be used.

    Exit code: the worst result (0/1/2); 3 when no line could be probed, or the input holds no target.
    """
    import asyncio
    import time

    from probe.dns.loading import prepare_dnspython

    prepare_dnspython()
    from probe.judge.health import finish_report
    from probe.render.json import dumps
    from probe.run.batch import BatchStats, answered_inputs, drop_cut_line, run_batch

    collect_cycles()

    try:
        plan = make_plan(kw)
        infile = sys.stdin if source == "-" else open(source, encoding="utf-8", errors="replace")  # noqa: SIM115
    except ProbeError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot read {source}: {exc.strerror or exc}")
    plan.warn()
    target_path = output or resume
    try:
        dropped = drop_cut_line(resume) if resume and not output else 0
        if dropped:
            click.echo(f"smtp-probe: {resume}: its last line was cut short by an interrupted run; removed it "
                       f"({dropped} bytes), so its target is probed again", err=True)
        done = answered_inputs(resume) if resume else set()
        out = open(target_path, "a" if resume and not output else "w", encoding="utf-8") if target_path else sys.stdout  # noqa: SIM115
    except OSError as exc:
        return fail(f"cannot write {target_path}: {exc.strerror or exc}")
    show_progress = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()

    def emit(obj: dict[str, Any]) -> None:
        out.write(dumps(obj, indent=None) + "\n")
        out.flush()

    def tick(stats: BatchStats) -> None:
        rate = stats.total / max(time.monotonic() - started, 1e-6)
        click.echo(f"\r{stats.total} done, {stats.errors} bad lines, {rate:.1f}/s", err=True, nl=False)

    def finish(report: Any) -> None:
        finish_report(report, plan.expectations, **plan.thresholds)

    common: dict[str, Any] = dict(concurrency=concurrency, per_host=per_host, ordered=not unordered,
                                  skip=lambda line: (line.number, line.raw) in done,
                                  progress=tick if show_progress else None)
    stats: BatchStats
    try:
        if broker:
            from probe.cli.cluster import batch_on_fleet

            stats = asyncio.run(batch_on_fleet(infile, plan, emit, broker=broker, redis_url=redis_url, wait_s=wait_s,
                                               expect=list(kw["expectations"]), **common))
        else:
            stats = asyncio.run(run_batch(infile, plan.options, emit, finish=finish, **common))
    except ProbeError as exc:  # the fleet could not be used: broker, Redis, workers
        return fail(str(exc))
    except KeyboardInterrupt:
        return fail("interrupted; results so far are written (use --resume to go on)")
    finally:
        if out is not sys.stdout:
            out.close()
        if infile is not sys.stdin:
            infile.close()
    names = {0: "ok", 1: "warning", 2: "critical", 3: "unknown"}
    counts = ", ".join(f"{n} {names[c]}" for c, n in sorted(stats.by_exit.items()))
    if show_progress:
        click.echo("", err=True)
    if stats.total == 0 and stats.skipped == 0:
        return fail(f"no targets in {'standard input' if source == '-' else source} (only blank lines, "
                    "comments or a header): nothing was probed")
    click.echo(f"smtp-probe batch: {stats.total} result{'' if stats.total == 1 else 's'} ({counts or 'none'}), "
               f"{stats.skipped} skipped as already answered, {time.monotonic() - started:.1f} s", err=True)
    return stats.exit_code


# ---------------------------------------------------------------- self-check
@cli.command("self-check", context_settings={"help_option_names": ["-h", "--help"]})
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
        ip = _bare_ip(source_ip) if source_ip else None
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


def _bare_ip(text: str) -> str:
    """--source-ip is an address, nothing more: a port or a name is refused, not silently dropped."""
    import ipaddress

    from probe.errors import InputError

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise InputError(f"--source-ip {text!r} is not a bare IP address (e.g. 203.0.113.5 or 2001:db8::5; "
                         "no port, no name)") from None


def main(argv: Sequence[str] | None = None) -> None:
    """The command line for programs and tests (`console` in-process): the process's cyclic garbage
    collection is left as it was found."""
    collecting, frozen = gc.isenabled(), gc.get_freeze_count()
    try:
        console(argv)
    finally:
        if not frozen:
            gc.unfreeze()
        if collecting:
            gc.enable()


def console(argv: Sequence[str] | None = None) -> None:
    """Console entry point (smtp-probe, python -m probe): exit codes follow SPEC.md; click's usage errors
    exit 3, not 2.

    No cyclic garbage collection: a run loads hundreds of modules, whose objects live as long as the process,
    and CPython's collector would walk them again and again, and once more at exit (about a tenth of a
    probe's CPU time). The commands that run for long (batch, worker) turn it back on (collect_cycles).
    At the end everything is frozen (gc.freeze): the interpreter's last collection at exit, which runs even
    with the collector off, then walks none of it (another 3 %).
    """
    gc.disable()
    try:
        _run_console(argv)
    finally:
        gc.freeze()


def _run_console(argv: Sequence[str] | None) -> None:
    """console() without its collector settings: click run, its errors turned into exit codes."""
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="smtp-probe",
                      standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(int(ExitCode.UNKNOWN))
    except click.UsageError as exc:  # one line, not click's usage + hint + blank + message
        click.echo(f"smtp-probe: {' '.join(exc.format_message().split())} (see --help)", err=True)
        sys.exit(int(ExitCode.UNKNOWN))
    except click.ClickException as exc:
        click.echo(f"smtp-probe: {exc.format_message()}", err=True)
        sys.exit(int(ExitCode.UNKNOWN))
    except click.exceptions.Abort:
        click.echo("smtp-probe: interrupted", err=True)
        sys.exit(int(ExitCode.UNKNOWN))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(int(ExitCode.UNKNOWN))
    sys.exit(int(rv or 0))
