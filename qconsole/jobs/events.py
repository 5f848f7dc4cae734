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
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, Required, TextIO, TypedDict, Unpack

EventKind = Literal["start", "phase", "progress", "log", "done", "error", "cancelled"]
LogLevel = Literal["info", "warning", "output"]
TERMINAL_EVENTS: frozenset[str] = frozenset({"done", "error", "cancelled"})


class EventFields(TypedDict, total=False):
    """Every field a job's events carry, by the kind that carries it (see the module docstring).

    All optional: a reader must cope with any producer (an older job, one killed half-way), so
    it reads with ``.get`` and coerces. A job that adds a field declares it here, which is what
    lets mypy check both the ``emit(...)`` calls and the readers' keys.
    """

    # phase, log, error, cancelled
    phase: str
    message: str
    level: LogLevel
    # progress, training (StepInfo.to_event_fields)
    step: int
    total_steps: int
    epoch: float
    loss: float | None
    lr: float | None
    tokens_per_s: float | None
    eta_s: float | None
    elapsed_s: float
    # progress and phase, evaluation
    suite: str
    side: str  # "base" or "adapter": which model is answering
    suite_done: int
    suite_total: int
    run_eta_s: float | None
    # start, training
    model: str
    backend: str
    summary: dict[str, Any]
    summary_lines: list[str]
    preview: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    settings: dict[str, Any]
    epochs: float
    dry_run: bool
    objective: str  # sft, dpo or sft+dpo (also in done)
    # start, evaluation
    run_id: str
    run_dir: str | None
    suites: list[dict[str, Any]]
    total_items: int
    # suite_done, evaluation
    comparison: dict[str, Any]
    # done, training (TrainOutcome.done_fields)
    adapter: Any  # training: the installed adapter's name; evaluation: the manifest's record
    path: str | None
    gguf_lora: str | None
    examples: int
    seconds: float
    final_loss: float | None
    steps: int
    equivalence: dict[str, Any]
    dpo: dict[str, Any]  # dpo / sft+dpo: margins and accuracies before and after training
    # done, cancelled, error, evaluation
    status: str
    table: list[dict[str, Any]]
    forgetting: dict[str, Any] | None
    partial: bool
    completed_suites: list[str]
    # error and cancelled made up by the parent when a job dies without one (JobHandle)
    synthetic: bool
    returncode: int
    log_tail: list[str]


class JobEvent(EventFields, total=False):
    """One line of a job's stream: its kind (an ``EventKind`` or a job's own, like evaluation's
    ``suite_done``) and when, plus the fields of that kind."""

    event: Required[str]
    time: Required[float]


class Emit(Protocol):
    """Where a job reports: ``emit(kind, **fields)`` (an EventWriter's ``emit`` in the child
    process, a callback or a no-op in tests and in-process runs)."""

    def __call__(self, kind: str, /, **fields: Unpack[EventFields]) -> object: ...


def event(kind: str, /, **fields: Unpack[EventFields]) -> JobEvent:
    """A new event: ``{"event": kind, "time": now, **fields}``."""
    return JobEvent(event=kind, time=round(time.time(), 3), **fields)


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


def dumps_event(ev: Mapping[str, Any]) -> str:
    """One line of JSON (ASCII-only, so no encoding can garble it), without the newline."""
    return json.dumps(_clean(ev), ensure_ascii=True, separators=(",", ":"), default=str)


class EventWriter:
    """Writes events to a text stream, one flushed line each; safe to share between threads."""

    def __init__(self, stream: TextIO | None, *, owns_stream: bool = False) -> None:
        self._stream = stream
        self._owns = owns_stream
        self._lock = threading.Lock()

    def emit(self, kind: str, /, **fields: Unpack[EventFields]) -> JobEvent:
        ev = event(kind, **fields)
        self.write(ev)
        return ev

    def write(self, ev: Mapping[str, Any]) -> None:
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
