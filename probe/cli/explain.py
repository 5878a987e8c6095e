"""Edge: `smtp-probe explain`: reply codes explained, compared, or a pasted reply diagnosed. Loads no network stack."""

from __future__ import annotations

import sys

import click

from probe.cli.options import color_wanted, fail
from probe.errors import ProbeError
from probe.model import Context

CONTEXT_HELP = (", ".join(c.value for c in Context if c not in (Context.CONNECT, Context.DNS, Context.TLS))
                + " (bounce: text from a bounce, command unknown); also greeting, LHLO, 'MAIL FROM', 'RCPT TO', "
                  "end-of-data, and the probe's own events connect, dns, tls")


@click.command("explain", context_settings={"help_option_names": ["-h", "--help"]})
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
        if len(items) > 1 and context is None and host is None:  # codes side by side
            data, comparison = explain.compare(list(items)), True
        else:  # one code or reply; with --context or --host, its lines may be given apart
            data, comparison = explain.entry("\n".join(items), context, host=host), False
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
