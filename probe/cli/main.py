"""Edge: the command line. The `smtp-probe` group, its commands found by name, and the entry points that turn
click's outcomes into exit codes.

Each command lives in a module of its own (probe, explain, batch, self-check, demo; worker in cluster.py), imported
when it is named (or listed by --help), so `--help`, `--version` and `explain` start fast; the network stack is
imported inside the probe commands.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

import click

from probe import __version__
from probe.model import ExitCode

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


# every command: (module, attribute), imported when named (or listed by --help): start-up stays light
_COMMANDS = {
    "probe": ("probe.cli.probe", "probe_command"),
    "explain": ("probe.cli.explain", "explain_command"),
    "demo": ("probe.cli.demo", "demo_command"),
    "batch": ("probe.cli.batch", "batch_command"),
    "self-check": ("probe.cli.selfcheck", "self_check_command"),
    "worker": ("probe.cli.cluster", "worker_command"),
}


class _DefaultGroup(click.Group):
    """A group whose default command is `probe`: `smtp-probe example.com` == `smtp-probe probe example.com`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in _COMMANDS and args[0] not in ("--help", "-h", "--version"):
            args = ["probe", *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _COMMANDS and name not in self.commands:
            import importlib

            module, attribute = _COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=_DefaultGroup, help=MAIN_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smtp-probe")
def cli() -> None:
    pass


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


def _usage_hint(exc: click.UsageError) -> str:
    """What to do when pasted text was read as an option: a bounce line that starts with '-' (Sendmail's '-----
    The following addresses had permanent fatal errors -----') holds blanks, which no option name does."""
    name = exc.option_name if isinstance(exc, click.NoSuchOption) else ""
    if not any(ch.isspace() for ch in name):
        return ""
    command = exc.ctx.info_name if exc.ctx is not None and exc.ctx.info_name else "explain"
    return f"; text that starts with '-' goes after --: smtp-probe {command} -- '{name}'"


def _run_console(argv: Sequence[str] | None) -> None:
    """console() without its collector settings: click run, its errors turned into exit codes."""
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="smtp-probe",
                      standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(int(ExitCode.UNKNOWN))
    except click.UsageError as exc:  # one line, not click's usage + hint + blank + message
        message, hint = " ".join(exc.format_message().split()), _usage_hint(exc)
        click.echo(f"smtp-probe: {message.rstrip('.') + hint if hint else message} (see --help)", err=True)
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
