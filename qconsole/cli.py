"""The ``qconsole`` command: no subcommand opens the console; subcommands serve scripts.

Each subcommand lives in ``qconsole/commands/<name>.py`` with ``register(subparsers)``; that
module imports its heavy libraries inside ``run`` so ``qconsole --help`` stays instant.
A :class:`~qconsole.errors.QConsoleError` becomes one line on stderr and exit status 2; so does
a failed write of our own output (a full disk, ``/dev/full``), and a reader that went away
(``| head``) ends the command quietly (status 141, as a shell's SIGPIPE would).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Sequence

from qconsole import __version__
from qconsole.errors import QConsoleError
from qconsole.text_safety import safe_text

# errors of writing our own output (a full disk, /dev/full, a quota): one line, no traceback
_OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EPIPE)

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
    "cycle",
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


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _say_error(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"qconsole: error: {safe_text(message, inline=True)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["console", *(argv if argv is not None else sys.argv[1:])])
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a write error shows here, not in a traceback at exit
        return status
    except QConsoleError as exc:
        _say_error(str(exc))
        return 2
    except KeyboardInterrupt:
        with contextlib.suppress(OSError, ValueError):
            print("qconsole: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`| head -c 10`): the usual quiet exit of a Unix filter
        _silence_stdout()
        return 141
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            raise
        _silence_stdout()
        what = exc.filename if isinstance(exc.filename, str) else "the output"
        _say_error(f"cannot write {what}: {exc.strerror or exc}")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
