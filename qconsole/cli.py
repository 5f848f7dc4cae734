"""The ``qconsole`` command: no subcommand opens the console; subcommands serve scripts.

Each subcommand lives in ``qconsole/commands/<name>.py`` with ``register(subparsers)``; that
module imports its heavy libraries inside ``run`` so ``qconsole --help`` stays instant.
A :class:`~qconsole.errors.QConsoleError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qconsole import __version__
from qconsole.errors import QConsoleError

COMMAND_MODULES = (
    "console",
    "models",
    "sessions",
    "review",
    "adapters",
    "train",
    "eval",
    "report",
    "teacher",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qconsole",
        description=(
            "Grow a base language model through conversation: chat with the base and the "
            "LoRA-patched model side by side, mark failing replies, train, evaluate."
        ),
    )
    parser.add_argument("--version", action="version", version=f"qconsole {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"qconsole.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"qconsole.commands.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["console", *(argv if argv is not None else sys.argv[1:])])
    try:
        return int(args.func(args) or 0)
    except QConsoleError as exc:
        print(f"qconsole: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qconsole: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
