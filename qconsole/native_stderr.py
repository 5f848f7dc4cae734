"""Keep C libraries' writes to file descriptor 2 off the console's screen.

llama.cpp writes some lines (model load notes, KV cache notes) straight to fd 2, below Python.
Textual paints the screen through ``sys.__stderr__``, which is also fd 2, so those bytes would
land in the middle of the picture. While the console runs, Textual gets its own duplicate of
the terminal descriptor, and fd 2 points at a log file; both are restored afterwards so a
Python traceback at exit is still seen.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def native_stderr_to(path: Path) -> Iterator[Path]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sys.stderr.flush()
        terminal_fd = os.dup(2)
        log = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in the finally below
    except (OSError, ValueError):  # no real fd 2 (embedded, some runners): change nothing
        yield path
        return
    saved_fd = os.dup(2)
    original = sys.__stderr__
    terminal = io.TextIOWrapper(os.fdopen(terminal_fd, "wb", buffering=0),
                                encoding=getattr(original, "encoding", None) or "utf-8",
                                errors="replace", write_through=True)
    os.dup2(log.fileno(), 2)
    # what Textual's driver paints to (typeshed calls it Final; the interpreter lets us swap it)
    setattr(sys, "__stderr__", terminal)  # noqa: B010
    try:
        yield path
    finally:
        setattr(sys, "__stderr__", original)  # noqa: B010
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        terminal.close()
        log.close()
