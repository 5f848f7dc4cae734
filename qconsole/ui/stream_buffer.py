"""Hand-off of streamed text from a worker thread to the UI without a message per token.

The worker appends pieces under a lock; a UI timer drains them a few dozen times a second and
updates the widget once per drain. Typing stays responsive however fast tokens arrive.
"""

from __future__ import annotations

import threading


class StreamBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pieces: list[str] = []

    def append(self, piece: str) -> None:
        with self._lock:
            self._pieces.append(piece)

    def drain(self) -> str:
        with self._lock:
            if not self._pieces:
                return ""
            text = "".join(self._pieces)
            self._pieces.clear()
            return text
