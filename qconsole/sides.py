"""The two panes of the console, named once: ``left`` is the base model, ``right`` its
adapter-patched twin. Store records, chat sides, remote tables and UI messages all use ``Side``;
text from outside (a stored file, a CLI argument, a config table) becomes one through
``is_side``."""

from __future__ import annotations

from typing import Literal, TypeGuard

Side = Literal["left", "right"]
SIDES: tuple[Side, Side] = ("left", "right")


def is_side(value: object) -> TypeGuard[Side]:
    return value in SIDES


def other_side(side: Side) -> Side:
    return "right" if side == "left" else "left"
