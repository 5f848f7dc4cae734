"""Messages that workers post to the app; handlers on the UI thread own all state changes."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from qconsole.chat.side import ChatSide
from qconsole.inference.backend import GenerationStats
from qconsole.sides import Side


@dataclass
class ModelsLoaded(Message):
    left: ChatSide | None
    right: ChatSide | None
    error: str | None = None
    right_note: str | None = None


@dataclass
class ReplyFinished(Message):
    side: Side
    index: int
    user: str
    stats: GenerationStats
    note: str | None
    error: str | None
