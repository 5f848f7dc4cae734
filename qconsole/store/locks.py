"""Per-session file locks, so the console and a background job never lose each other's writes.

Every store write is read-modify-write of one session file. Two processes doing that at once
would each write back what they read, and one change would vanish. An exclusive ``flock`` on a
sidecar lock file (``sessions/.locks/<id>.lock``) is held around the whole read-modify-write.

Why a sidecar and not the data file: the data file is replaced on every write (atomic rename),
so a lock on it would lock a file that is no longer the session. Lock files are never deleted:
deleting one while another process waits on it would let a third process lock a new file and
both would think they hold the lock. ``flock`` locks belong to the open file description, so
two threads of one process also exclude each other (each opens the file itself), and the kernel
drops the lock when a process dies, even by kill -9. POSIX only (fcntl).

Waiting polls with a short back-off rather than blocking forever: a wedged process yields a
clear error after ``timeout`` seconds instead of a frozen console.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qconsole.errors import QConsoleError

DEFAULT_TIMEOUT_S = 30.0


@contextmanager
def file_lock(
    lock_path: Path, *, timeout: float = DEFAULT_TIMEOUT_S, what: str = ""
) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (created if missing) for the ``with`` body."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise QConsoleError(f"cannot open lock file {lock_path}: {exc.strerror or exc}") from exc
    try:
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise QConsoleError(
                        f"{what or lock_path.stem} is locked by another qconsole process "
                        f"for more than {timeout:g} s; try again"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
