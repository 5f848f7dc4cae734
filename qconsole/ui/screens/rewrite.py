"""The rewrite editor: the failing reply, editable, saved beside the original (never over it).

Ctrl+S saves, Esc cancels. The result is the training target of the next cycle."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from qconsole.text_safety import visible_text


class RewriteScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]
    DEFAULT_CSS = """
    RewriteScreen { align: center middle; }
    RewriteScreen > Vertical { width: 100; max-width: 95%; height: 80%;
        border: thick $success; background: $surface; padding: 1 2; }
    RewriteScreen TextArea { height: 1fr; }
    RewriteScreen .original { color: $text-muted; max-height: 8; overflow-y: auto; }
    """

    def __init__(self, user: str, original: str, seed: str) -> None:
        super().__init__()
        self.user = user
        self.original = original
        self.seed = seed

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Rewrite the reply as it should have been (typing replaces it, "
                             "an arrow key edits it). Ctrl+S saves, Esc cancels."))
            yield Label(Text("you: " + visible_text(self.user)), classes="original")
            yield Label(Text("model said: " + visible_text(self.original)), classes="original")
            yield TextArea(self.seed, id="editor", soft_wrap=True)

    def on_mount(self) -> None:
        editor = self.query_one("#editor", TextArea)
        editor.focus()
        # Selected: typing replaces the reply, an arrow key keeps it for editing.
        editor.select_all()

    def action_save(self) -> None:
        text = self.query_one("#editor", TextArea).text
        self.dismiss(text if text.strip() else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
