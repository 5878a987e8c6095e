"""`python -m probe` runs the smtp-probe command line."""

from probe.cli.main import console

console()
