"""`python -m probe` and the smtp-probe script run the command line.

Before the command line's modules load, the cyclic garbage collector is turned off (console() keeps it off
for the run: importing them allocates objects that live as long as the process, and the collector would walk
them again and again while they load, about 3 % of a probe's CPU time), and the methods that @dataclass
writes are taken from a cache of compiled code (probe.cli.generated: about a sixth of it).
"""

import gc


def run() -> None:
    """The smtp-probe script's entry point: probe.cli.main.console, loaded with the collector off and the
    dataclass methods' code cached."""
    gc.disable()
    from probe.cli import generated

    compiler = generated.install()
    try:
        from probe.cli.main import console

        console()
    finally:
        generated.save(compiler)


if __name__ == "__main__":
    run()
