"""Incremental parsing of a job's event stream, as it grows.

The parent polls a file the child is still writing, so a read can end in the middle of a line
(or of a UTF-8 character): bytes after the last newline wait for the next read. A line that is
not a JSON event (a library printing to stdout, a traceback) becomes a ``log`` event with
``level: output`` instead of being lost or breaking the reader. When the child is gone,
:meth:`EventReader.finish` parses whatever is left, a last line without its newline included.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import cast

from qconsole.jobs.events import TERMINAL_EVENTS, JobEvent, event


def parse_event_line(line: str | bytes) -> JobEvent | None:
    """One line of the stream as an event dict; None for a blank line."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("event"), str):
        return cast(JobEvent, obj)  # whatever the producer wrote; readers .get and coerce
    return event("log", level="output", message=text)


class EventReader:
    """Events from a growing file (``poll``) or from bytes handed in (``feed``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.events: list[JobEvent] = []
        self._offset = 0
        self._pending = b""

    @property
    def terminal(self) -> JobEvent | None:
        """The first ``done`` / ``error`` / ``cancelled`` event seen, if any."""
        for ev in self.events:
            if ev.get("event") in TERMINAL_EVENTS:
                return ev
        return None

    def feed(self, data: bytes) -> list[JobEvent]:
        """Parse the complete lines in ``pending + data``; keep the rest for later."""
        buf = self._pending + data
        *lines, self._pending = buf.split(b"\n")
        return self._add(lines)

    def poll(self) -> list[JobEvent]:
        """Read what was appended to the file since the last call."""
        if self.path is None:
            return []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        return self.feed(data) if data else []

    def finish(self) -> list[JobEvent]:
        """The writer is gone: read the rest and parse a last line that has no newline."""
        new = self.poll()
        rest, self._pending = self._pending, b""
        return new + self._add([rest])

    def _add(self, lines: list[bytes]) -> list[JobEvent]:
        new = [ev for ev in (parse_event_line(line) for line in lines) if ev is not None]
        self.events.extend(new)
        return new
