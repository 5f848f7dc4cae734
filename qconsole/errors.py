"""One exception type for problems a user can fix, so every entry point can show one clear line.

The CLI prints ``str(error)`` and exits non-zero; the console shows it as a notification.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class QConsoleError(Exception):
    """A user-facing error: the message is one line that says what went wrong and what to do."""
