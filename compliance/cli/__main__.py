"""`python -m compliance.cli`: the same as the `compliance` command."""

from compliance.cli.main import main

main()
