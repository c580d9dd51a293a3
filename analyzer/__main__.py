"""`python -m analyzer ...`: the same command line as `analyzer ...`."""

from analyzer.cli import main

main()
