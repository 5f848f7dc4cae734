"""The failure picker: one key names the failure, Enter saves; a note and the failed step of a
multi-step route (generalise, analogy, judgement) are optional. Opened prefilled (kind, note,
step) to edit a mark the teacher suggested."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from qconsole.store.failure_kinds import FAILURE_KINDS, ROUTE_STEPS
from qconsole.ui.literal import literal
from qconsole.ui.screens.dialog import DialogScreen


@dataclass(frozen=True)
class MarkChoice:
    kind: str
    note: str
    step: str | None


class MarkScreen(DialogScreen[MarkChoice | None]):
    def __init__(self, side_title: str, current: str | None = None, *, note: str = "",
                 step: str | None = None) -> None:
        super().__init__()
        self.side_title = side_title
        self.current = current
        self.note = note
        self.step = step

    def compose_body(self) -> Iterator[Widget]:
        yield Label(literal(f"Why does this {self.side_title} reply fail? "
                            "(a letter picks, Enter saves, Esc cancels)"))
        options = [
            Option(Text.assemble((f"[{k.hotkey}] ", "bold"), k.label, " — ",
                                 (k.description, "dim")), id=k.key)
            for k in FAILURE_KINDS
        ]
        yield OptionList(*options, id="kinds")
        yield Input(self.note, placeholder="note (optional): what went wrong", id="note")
        steps = [s.key for s in ROUTE_STEPS]
        yield Select(
            [(f"{s.label}: {s.description}", s.key) for s in ROUTE_STEPS],
            prompt="failed step of the route (optional)",
            id="step",
            value=self.step if self.step in steps else Select.NULL,
        )

    def on_mount(self) -> None:
        kinds = self.query_one("#kinds", OptionList)
        keys = [k.key for k in FAILURE_KINDS]
        kinds.highlighted = keys.index(self.current) if self.current in keys else 0
        kinds.focus()

    def on_key(self, event: events.Key) -> None:
        if not isinstance(self.focused, OptionList) or not event.character:
            return
        for i, k in enumerate(FAILURE_KINDS):
            if event.character.lower() == k.hotkey.lower():
                self.query_one("#kinds", OptionList).highlighted = i
                event.stop()
                self._save()
                return

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._save()

    def _save(self) -> None:
        kinds = self.query_one("#kinds", OptionList)
        index = kinds.highlighted or 0
        select = self.query_one("#step", Select)
        self.dismiss(
            MarkChoice(
                kind=FAILURE_KINDS[index].key,
                note=self.query_one("#note", Input).value.strip(),
                step=None if select.is_blank() else str(select.value),
            )
        )
