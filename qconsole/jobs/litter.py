"""What a killed process leaves behind, and the one rule for clearing it: its pid is dead.

A process killed with SIGKILL cannot clean up, so every temporary file or directory qconsole
makes beside real data carries the maker's pid in its name (``.<name>.p<pid>.<random>.tmp``
in ``sessions/``, ``.train-<pid>-*`` and ``.install-<pid>-*`` in ``adapters/``). Whoever opens
that folder next removes the ones whose process is gone, at once, instead of waiting an hour
or for the next training. A pid may be reused by an unrelated process, so a name whose pid is
alive is also removed once it is older than ``MAX_AGE_S``; names from before the pid was
recorded are removed by age alone.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

MAX_AGE_S = 24 * 3600
LEGACY_AGE_S = 3600


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists (it may belong to someone else)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_litter(
    entry: os.DirEntry, pattern: re.Pattern[str], legacy: re.Pattern[str] | None, now: float
) -> bool:
    """Whether ``entry`` is a leftover of a process that is gone (see the module docstring)."""
    m = pattern.match(entry.name)
    try:
        if m is not None:
            pid = int(m.group("pid"))
            if pid == os.getpid():
                return False
            age = now - entry.stat(follow_symlinks=False).st_mtime
            return not pid_alive(pid) or age > MAX_AGE_S
        if legacy is not None and legacy.match(entry.name):
            return now - entry.stat(follow_symlinks=False).st_mtime > LEGACY_AGE_S
    except OSError:
        return False
    return False


def remove_if_litter(
    entry: os.DirEntry, pattern: re.Pattern[str], legacy: re.Pattern[str] | None = None,
    now: float | None = None,
) -> bool:
    """Remove ``entry`` when it is litter; True when it was. Never raises."""
    if not is_litter(entry, pattern, legacy, time.time() if now is None else now):
        return False
    try:
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    except OSError:
        return False
    return True


def remove_litter(
    folder: Path | str, pattern: re.Pattern[str], legacy: re.Pattern[str] | None = None
) -> int:
    """Remove every leftover in ``folder``; returns how many. Never raises."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:
        return 0
    now = time.time()
    return sum(remove_if_litter(e, pattern, legacy, now) for e in entries)
