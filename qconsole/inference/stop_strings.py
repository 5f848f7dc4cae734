"""Incremental stop-string matching for streamed text.

A stop string can arrive split over several tokens ("\\nUs" + "er:"), so text that might be the
start of a stop string is held back until it either completes the stop (and is dropped) or
cannot anymore (and is released). Pure string logic, tested without a model.
"""

from __future__ import annotations

from collections.abc import Sequence


class StopStringFilter:
    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add ``piece``; return the text that is now safe to show (possibly empty)."""
        if self.stopped:
            return ""
        text = self._pending + piece
        cut = -1
        for s in self.stops:
            i = text.find(s)
            if i != -1 and (cut == -1 or i < cut):
                cut = i
        if cut != -1:
            self.stopped = True
            self._pending = ""
            return text[:cut]
        hold = self._partial_suffix(text)
        self._pending = text[len(text) - hold:] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """End of stream: release whatever was held back."""
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out

    def _partial_suffix(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that is a proper prefix of some stop."""
        best = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(text)), best, -1):
                if text.endswith(s[:n]):
                    best = n
                    break
        return best
