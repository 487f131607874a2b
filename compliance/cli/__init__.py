"""Entry point: the `compliance` command line (may import flows and stages)."""
