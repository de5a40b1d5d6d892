"""Command groups of the `stableflow` CLI, one module per topic (registered in app/cli.py)."""
