"""Edge: `smtp-probe batch`: many targets, JSON Lines out, here or on a fleet of workers (probe.cli.cluster)."""

from __future__ import annotations

import sys
from typing import Any

import click

from probe.cli.options import collect_cycles, connection_options, fail, make_plan
from probe.errors import ProbeError


@click.command("batch", context_settings={"help_option_names": ["-h", "--help"]})
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
