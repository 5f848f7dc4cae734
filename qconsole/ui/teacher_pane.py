"""The teacher pane (F9): which teacher is on, what it is doing, and the marks it suggests.

Only a view: :class:`qconsole.ui.teacher_flow.TeacherFlow` decides what is shown and acts on
the keys. A suggestion is drawn with its state (pending, accepted, edited, dropped) so the
person sees at a glance what reached the store and what is still only the teacher's idea; the
suggestion of the turn selected in the chat panes is highlighted, because that is the one
``a`` / ``e`` / ``x`` act on. Every string is literal text (model and script text may hold
brackets). Styles: styles/widgets.tcss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from qconsole.text_safety import visible_text

HINT = ("in the turns (Ctrl+T): a accepts the suggestion, e edits it, x drops it, d drafts a "
        "correction, v makes variants · Ctrl+Y plays a script · Ctrl+O asks the next question")
STATE_STYLE = {"pending": ("?", "bold yellow"), "accepted": ("✓", "bold green"),
               "edited": ("✎", "bold green"), "dropped": ("✗", "dim")}


@dataclass(frozen=True)
class SuggestionRow:
    """One suggested mark as the pane shows it."""

    side_label: str  # base | adapter
    turn_label: str  # the script turn id, or "turn N"
    kind: str
    step: str | None
    reason: str
    by: str
    status: str
    current: bool = False  # on the turn selected in the chat panes

    def render(self) -> Text:
        mark, style = STATE_STYLE.get(self.status, ("?", ""))
        text = Text.assemble((f"{mark} ", style), (f"{self.side_label} · {self.turn_label}: ",
                                                   "bold"), (visible_text(self.kind), "red"))
        if self.step:
            text.append(f" · step {visible_text(self.step)}")
        text.append(f" — {visible_text(self.reason)}")
        text.append(f"  [{visible_text(self.by)}]", style="dim")
        if self.status != "pending":
            text.append(f"  {self.status}", style=style)
        return text


class TeacherPane(VerticalScroll):
    """Docked right, hidden until F9 (or a teacher key) shows it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.teacher_line = Static("", id="teacher-who")
        self.activity_line = Static("", id="teacher-activity")
        self.suggestions_box = Static("", id="teacher-suggestions")
        self.hint_line = Static(Text(HINT, style="dim"), id="teacher-hint")
        self.rows: list[SuggestionRow] = []

    def compose(self) -> ComposeResult:
        yield self.teacher_line
        yield self.activity_line
        yield self.suggestions_box
        yield self.hint_line

    def on_mount(self) -> None:
        self.border_title = "teacher"

    @property
    def shown(self) -> bool:
        return self.has_class("shown")

    def show(self, shown: bool = True) -> None:
        self.set_class(shown, "shown")

    def set_teacher(self, text: str, *, missing: bool = False) -> None:
        self.teacher_line.update(Text(visible_text(text), style="bold red" if missing
                                      else "bold"))

    def set_activity(self, text: str) -> None:
        self.activity_line.update(Text(visible_text(text), style="italic"))

    def set_suggestions(self, rows: Sequence[SuggestionRow]) -> None:
        self.rows = list(rows)
        if not self.rows:
            self.suggestions_box.update(Text("no suggestions yet", style="dim"))
            return
        lines = []
        for row in self.rows:
            line = row.render()
            if row.current:
                line.stylize("reverse")
            lines.append(line)
        self.suggestions_box.update(Text("\n").join(lines))
