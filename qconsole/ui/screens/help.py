"""F1: every key and what it does, generated from the action registry (never out of date)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from qconsole.ui.actions import ACTIONS, PANE_ACTIONS, effective_key

LOOP = (
    "The loop: talk to both sides -> Ctrl+T to the turns -> m marks a failing reply and names "
    "the failure -> w rewrites it -> F5 trains a LoRA on all rewrites -> the new adapter opens "
    "in the right pane -> F6 evaluates base against adapter -> next cycle."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 95%; height: 85%;
        border: thick $accent; background: $surface; padding: 1 2; }
    """

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = keymap or {}

    def compose(self) -> ComposeResult:
        table = Table(title="qconsole keys", expand=True, show_lines=False)
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action")
        table.add_column("Where", style="dim")
        for spec in ACTIONS:
            table.add_row(effective_key(spec, self.keymap), spec.help, spec.group)
        for spec in PANE_ACTIONS:
            table.add_row(effective_key(spec, self.keymap), spec.help, "turns (Ctrl+T)")
        table.add_row("enter", "Send the message to both sides", "message box")
        table.add_row("ctrl+p", "Command palette: every action, themes", "anywhere")
        with VerticalScroll():
            yield Static(table)
            yield Static(LOOP)
            yield Static("Keys can be changed in qconsole.toml under [keys] (action = \"key\").")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
