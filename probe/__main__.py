"""`python -m probe` runs the smtp-probe command line."""

from .cli import main

main()
