"""Start a job as a child process in its own process group, follow it, cancel it.

Why files and not pipes: the child's stdout (its event stream) and stderr (its log) go to files,
so a parent that is busy or gone never blocks the child on a full pipe, and the log can be read
again after the fact. Why a process group: the child may start its own children (tokenizer
threads are threads, but a converter or a compiler are processes); cancel signals the whole
group, then anything that left the group but still descends from the child, SIGTERM first so
the job can clean up, SIGKILL after a grace period.

A job that ends without a terminal event (``done``/``error``/``cancelled``) crashed or was
killed: :meth:`JobHandle.poll` then adds an ``error`` event (``synthetic: true``) saying how it
ended, with the tail of its log, so the console always learns how every job ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qconsole.jobs.events import JobEvent, event
from qconsole.jobs.litter import pid_alive
from qconsole.jobs.reader import EventReader

DEFAULT_GRACE_S = 5.0
__all__ = ["JobHandle", "kill_process_tree", "pid_alive", "qconsole_argv", "start_job"]


def qconsole_argv(*args: str) -> list[str]:
    """argv that runs ``qconsole ARGS`` with this very interpreter (the same virtualenv)."""
    return [sys.executable, "-m", "qconsole", *args]


def start_job(
    argv: Sequence[str],
    log_path: str | os.PathLike[str],
    *,
    events_path: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> JobHandle:
    """Launch ``argv`` in a new process group; its stderr goes to ``log_path`` and its stdout
    (the event stream: run qconsole commands with ``--progress-jsonl -``) to ``events_path``
    (default: ``log_path`` with the suffix ``.events.jsonl``)."""
    log = Path(log_path)
    events = Path(events_path) if events_path is not None else log.with_suffix(".events.jsonl")
    log.parent.mkdir(parents=True, exist_ok=True)
    events.parent.mkdir(parents=True, exist_ok=True)
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    child_env.setdefault("PYTHONIOENCODING", "utf-8")
    child_env.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Jobs share the CPU with the chat: OpenMP threads that spin while waiting crawl when a
    # core is busy elsewhere (20x slower measured; see qconsole/training/hardware.py).
    child_env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with open(events, "ab") as out, open(log, "ab") as err:
        kwargs: dict[str, Any] = {}
        if sys.platform != "win32":
            kwargs["start_new_session"] = True
        else:  # pragma: no cover - Windows
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            cwd=cwd, env=child_env, close_fds=True, **kwargs,
        )
    return JobHandle(proc, list(argv), events, log)


class JobHandle:
    """A running (or finished) job: its events so far, its state, and cancel."""

    def __init__(
        self, proc: subprocess.Popen, argv: list[str], events_path: Path, log_path: Path
    ) -> None:
        self.proc = proc
        self.argv = argv
        self.events_path = events_path
        self.log_path = log_path
        self.started_at = time.time()
        self.reader = EventReader(events_path)
        self.cancel_requested = False
        self._finished = False
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def events(self) -> list[JobEvent]:
        return self.reader.events

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def result(self) -> JobEvent | None:
        """The terminal event once the job has ended (real or synthesised), else None."""
        return self.reader.terminal if self._finished else None

    @property
    def state(self) -> str:
        """``running``, or the kind of the terminal event: ``done``, ``error``, ``cancelled``."""
        result = self.result
        return "running" if result is None else str(result["event"])

    def poll(self) -> list[JobEvent]:
        """New events since the last call; once the process has exited, the rest of the stream
        and, if it never sent one, a synthesised terminal event."""
        with self._lock:
            if self._finished:
                return []
            exited = self.proc.poll() is not None
            if not exited:
                return self.reader.poll()
            new = self.reader.finish()
            if self.reader.terminal is None:
                synthetic = self._exit_event(self.proc.returncode)
                self.reader.events.append(synthetic)
                new.append(synthetic)
            self._finished = True
            return new

    def wait(self, timeout: float | None = None) -> JobEvent:
        """Block until the job ends; return its terminal event."""
        self.proc.wait(timeout)
        self.poll()
        assert self.result is not None
        return self.result

    def cancel(self, *, grace_s: float = DEFAULT_GRACE_S, wait: bool = False) -> None:
        """SIGTERM to the job's process tree now, SIGKILL to what is left after ``grace_s``.

        Non-blocking by default (a timer thread does the SIGKILL), so a UI can call it from its
        event loop; ``wait=True`` returns only when the process is gone.
        """
        self.cancel_requested = True
        if not self.running:
            kill_process_tree(self.pid, signal.SIGKILL)  # leftovers of an exited leader
            return
        kill_process_tree(self.pid, signal.SIGTERM)

        def escalate() -> None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace_s)
            kill_process_tree(self.pid, signal.SIGKILL)

        if wait:
            escalate()
            self.proc.wait()
        else:
            threading.Thread(target=escalate, name=f"job-cancel-{self.pid}", daemon=True).start()

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines of the job's stderr log."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 16384))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [ln for ln in text.splitlines() if ln.strip()][-lines:]

    def _exit_event(self, rc: int) -> JobEvent:
        if self.cancel_requested:
            return event("cancelled", synthetic=True, returncode=rc,
                         message="cancelled; nothing was kept")
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            why = " (out of memory?)" if -rc == signal.SIGKILL else ""
            message = f"the job was killed by {name}{why} before it finished; nothing was kept"
        elif rc == 0:
            message = "the job ended without reporting a result; nothing was kept"
        else:
            message = f"the job crashed (exit code {rc}); nothing was kept"
        tail = self.log_tail(8)
        return event("error", synthetic=True, returncode=rc, message=message, log_tail=tail)


def _children_map() -> dict[int, list[int]]:
    """parent pid -> child pids, from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) >= 2:
            children.setdefault(int(fields[1]), []).append(int(name))
    return children


def descendants(pid: int) -> list[int]:
    """All living descendants of ``pid`` (Linux; empty elsewhere)."""
    tree = _children_map()
    out: list[int] = []
    stack = [pid]
    while stack:
        for child in tree.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def kill_process_tree(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal ``pid``'s process group (it leads one: see :func:`start_job`) and every
    descendant that left it. Processes already gone are ignored."""
    if os.name != "posix":  # pragma: no cover - Windows
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
        return
    others = descendants(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    for child in others:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, sig)
