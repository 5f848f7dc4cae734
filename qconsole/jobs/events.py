"""The event vocabulary of a job and the writer the child process uses.

One JSON object per line, each with ``event`` (its kind) and ``time`` (Unix seconds). Lines are
written whole and flushed at once, so a reader polling the file sees complete lines, except
perhaps the very last one while it is being written (the reader keeps that until its newline).

Kinds (a job may add its own; readers ignore what they do not know):

- ``start``: the job began; job-specific fields (training: the data summary and a preview).
- ``phase``: ``phase`` names the stage now running (``load``, ``train``, ``save`` ...).
- ``progress``: ``step``, ``total_steps``, ``epoch``, ``loss``, ``lr``, ``tokens_per_s``,
  ``eta_s`` (training); evaluation jobs send ``step``/``total_steps`` and their own fields.
- ``log``: ``message`` and ``level`` (``info``, ``warning``; ``output`` for stray lines).
- ``done``: finished; job-specific result fields (training: ``adapter`` and more).
- ``error``: ``message``, one line a person can act on.
- ``cancelled``: stopped on request; nothing was kept.

``done``, ``error`` and ``cancelled`` are terminal: exactly one ends every job. When a job dies
without one (killed, out of memory, a crash), the parent's reader makes one up (``synthetic``).
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

TERMINAL_EVENTS = frozenset({"done", "error", "cancelled"})


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """A new event dict: ``{"event": kind, "time": now, **fields}``."""
    return {"event": kind, "time": round(time.time(), 3), **fields}


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity (strict parsers reject them): those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def dumps_event(ev: dict[str, Any]) -> str:
    """One line of JSON (ASCII-only, so no encoding can garble it), without the newline."""
    return json.dumps(_clean(ev), ensure_ascii=True, separators=(",", ":"), default=str)


class EventWriter:
    """Writes events to a text stream, one flushed line each; safe to share between threads."""

    def __init__(self, stream: TextIO | None, *, owns_stream: bool = False) -> None:
        self._stream = stream
        self._owns = owns_stream
        self._lock = threading.Lock()

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        ev = event(kind, **fields)
        self.write(ev)
        return ev

    def write(self, ev: dict[str, Any]) -> None:
        if self._stream is None:
            return
        line = dumps_event(ev) + "\n"
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, ValueError):  # reader gone or stream closed: keep working
                self._stream = None

    def close(self) -> None:
        with self._lock:
            if self._owns and self._stream is not None:
                self._stream.close()
            self._stream = None


def open_event_writer(target: str | Path | None) -> EventWriter:
    """A writer for ``--progress-jsonl``: ``-`` is standard output, a path is appended to,
    None writes nothing.

    With ``-``, ``sys.stdout`` is pointed at standard error from here on, so a stray ``print``
    in any library cannot land in the event stream.
    """
    if target is None:
        return EventWriter(None)
    if str(target) == "-":
        stream = sys.stdout
        sys.stdout = sys.stderr
        return EventWriter(stream)
    path = Path(target).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return EventWriter(open(path, "a", encoding="utf-8"), owns_stream=True)
