"""One exception type for problems a user can fix, so every entry point can show one clear line.

The CLI prints ``str(error)`` and exits non-zero; the console shows it as a notification.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class QConsoleError(Exception):
    """A user-facing error: the message is one line that says what went wrong and what to do."""


def describe(exc: BaseException) -> str:
    """The one line shown for ``exc``: a :class:`QConsoleError`'s own message, anything else as
    ``Type: message`` (a bug, but the console and the CLI must stay up to say so). Control
    characters are made visible: the text may quote a file name or a model's output."""
    from qconsole.text_safety import visible_text

    if isinstance(exc, QConsoleError):
        text = str(exc).strip()
    else:  # a traceback's message can run to pages: its first line names it
        lines = str(exc).strip().splitlines()
        text = f"{type(exc).__name__}: {lines[0]}" if lines else ""
    return visible_text(text or type(exc).__name__)
