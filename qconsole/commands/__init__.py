"""Subcommands of the ``qconsole`` CLI, one module each (see qconsole/cli.py)."""
