"""F1: every key and what it does, generated from the action registry (never out of date).

Every string here is literal text (qconsole/ui/literal.py), the same path as model output:
"[keys]" in a sentence is a table name, not markup."""

from __future__ import annotations

from collections.abc import Iterator

from rich.table import Table
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from qconsole.ui.actions import ACTIONS, PANE_ACTIONS, effective_key
from qconsole.ui.literal import literal
from qconsole.ui.screens.dialog import DialogScreen

LOOP = (
    "The loop: talk to both sides -> Ctrl+T to the turns -> m marks a failing reply and names "
    "the failure -> w rewrites it -> F5 trains a LoRA on all rewrites -> the new adapter opens "
    "in the right pane -> F6 evaluates base against adapter -> next cycle."
)
KEYS_NOTE = 'Keys can be changed in qconsole.toml under [keys] (action = "key").'


class HelpScreen(DialogScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = keymap or {}

    def frame(self) -> Widget:
        return VerticalScroll(classes="frame")

    def compose_body(self) -> Iterator[Widget]:
        table = Table(title="qconsole keys", expand=True, show_lines=False)
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action")
        table.add_column("Where", style="dim")
        for spec in ACTIONS:
            table.add_row(literal(effective_key(spec, self.keymap)), literal(spec.help),
                          literal(spec.group))
        for spec in PANE_ACTIONS:
            table.add_row(literal(effective_key(spec, self.keymap)), literal(spec.help),
                          literal("turns (Ctrl+T)"))
        table.add_row(literal("enter"), literal("Send the message to both sides"),
                      literal("message box"))
        table.add_row(literal("ctrl+p"), literal("Command palette: every action, themes"),
                      literal("anywhere"))
        yield Static(table)
        yield Static(literal(LOOP))
        yield Static(literal(KEYS_NOTE))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
