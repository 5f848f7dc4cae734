"""F3: choose the right pane's adapter. Adapters that cannot be used with this base are listed
greyed, with the reason, and cannot be picked (they are never loaded into a crash)."""

from __future__ import annotations

from collections.abc import Iterator

from textual.widget import Widget
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from qconsole.ui.literal import literal
from qconsole.ui.screens.dialog import DialogScreen

NONE_ID = "\x00none"


class AdapterPickerScreen(DialogScreen[str | None]):
    """Dismisses with an adapter name, NONE_ID for the plain base, or None (cancelled)."""

    def __init__(self, entries: list, current: str | None) -> None:
        super().__init__()
        self.entries = entries
        self.current = current

    def compose_body(self) -> Iterator[Widget]:
        options = [Option(literal("none: no adapter in the right pane"), id=NONE_ID)]
        for e in self.entries:
            label = literal(e.summary())
            if e.name == self.current:
                label.append("  ← current", style="bold")
            if not e.usable:
                label.stylize("dim strike")
            options.append(Option(label, id=e.name, disabled=not e.usable))
        yield Label(literal(f"Adapter for the right pane ({len(self.entries)} in adapters/)"))
        yield OptionList(*options, id="adapters")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
