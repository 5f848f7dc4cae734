"""Keep C libraries' writes to file descriptor 2 off the console's screen.

llama.cpp and ggml log straight to fd 2 (adapter loads, KV cache notes), below Python's
``sys.stderr``; under a full-screen Textual app those bytes land in the middle of the picture.
While the console runs, fd 2 points at a log file instead, and is restored afterwards so a
Python traceback at exit is still seen.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def native_stderr_to(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded, some test runners)
        yield path
        return
    with open(path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 2)
        try:
            yield path
        finally:
            os.dup2(saved, 2)
            os.close(saved)
