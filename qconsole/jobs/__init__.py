"""Long work (training, evaluation) as a child process that reports JSON-lines events.

Why a subprocess and not a thread: training holds the GIL in Python glue, allocates gigabytes
and can be killed by the kernel's OOM killer; in a child process none of that can freeze or take
down the console, and cancel is a signal to a process group, not a cooperative flag that a
stuck C call never checks. The same protocol serves ``qconsole train`` and evaluation jobs:

- ``events.py``: the event vocabulary and :class:`EventWriter`, used by the child;
- ``reader.py``: :class:`EventReader`, an incremental parser of the event stream;
- ``runner.py``: :func:`start_job` and :class:`JobHandle`, used by the parent (the console).

No Textual and no torch here: both sides import this cheaply.
"""

from qconsole.jobs.events import (
    TERMINAL_EVENTS,
    Emit,
    EventFields,
    EventWriter,
    JobEvent,
    event,
    open_event_writer,
)
from qconsole.jobs.reader import EventReader, parse_event_line
from qconsole.jobs.runner import JobHandle, kill_process_tree, qconsole_argv, start_job

__all__ = [
    "TERMINAL_EVENTS",
    "Emit",
    "EventFields",
    "EventReader",
    "EventWriter",
    "JobEvent",
    "JobHandle",
    "event",
    "kill_process_tree",
    "open_event_writer",
    "parse_event_line",
    "qconsole_argv",
    "start_job",
]
