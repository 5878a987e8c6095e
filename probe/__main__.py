"""`python -m probe` and the smtp-probe script run the command line.

The cyclic garbage collector is turned off before the command line's modules load (console() keeps it off
for the run): importing them allocates objects that live as long as the process, and the collector would
walk them again and again while they load (about 3 % of a probe's CPU time).
"""

import gc


def run() -> None:
    """The smtp-probe script's entry point: probe.cli.main.console, loaded with the collector off."""
    gc.disable()
    from probe.cli.main import console

    console()


if __name__ == "__main__":
    run()
