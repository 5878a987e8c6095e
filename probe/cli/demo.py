"""Edge: `smtp-probe demo`: the offline tour on loopback fake servers (probe.run.demo)."""

from __future__ import annotations

import click

from probe.cli.options import color_wanted


@click.command("demo", context_settings={"help_option_names": ["-h", "--help"]})
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
