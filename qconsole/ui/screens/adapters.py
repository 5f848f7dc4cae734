"""F3: choose the right pane's adapter. Adapters that cannot be used with this base are listed
greyed, with the reason, and cannot be picked (they are never loaded into a crash)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

NONE_ID = "\x00none"


class AdapterPickerScreen(ModalScreen[str | None]):
    """Dismisses with an adapter name, NONE_ID for the plain base, or None (cancelled)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    AdapterPickerScreen { align: center middle; }
    AdapterPickerScreen > Vertical { width: 100; max-width: 95%; height: auto; max-height: 85%;
        border: thick $accent; background: $surface; padding: 1 2; }
    AdapterPickerScreen OptionList { height: auto; max-height: 30; }
    """

    def __init__(self, entries: list, current: str | None) -> None:
        super().__init__()
        self.entries = entries
        self.current = current

    def compose(self) -> ComposeResult:
        options = [Option(Text("none: no adapter in the right pane"), id=NONE_ID)]
        for e in self.entries:
            label = Text(e.summary())
            if e.name == self.current:
                label.append("  ← current", style="bold")
            if not e.usable:
                label.stylize("dim strike")
            options.append(Option(label, id=e.name, disabled=not e.usable))
        with Vertical():
            yield Label(Text(f"Adapter for the right pane ({len(self.entries)} in adapters/)"))
            yield OptionList(*options, id="adapters")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
