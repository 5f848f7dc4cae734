"""The rewrite editor: the failing reply, editable, saved beside the original (never over it).

Ctrl+S saves, Esc cancels. The result is the training target of the next cycle, so a rewrite
identical to the model's reply is refused with a message: it would train the failure in.
Ctrl+S is a plain binding (see qconsole/ui/screens/dialog.py): what was typed before it is
what gets saved."""

from __future__ import annotations

from collections.abc import Iterator

from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Label, TextArea

from qconsole.ui.literal import literal
from qconsole.ui.screens.dialog import DialogScreen, FieldError

SAME_AS_REPLY = ("this is the model's reply unchanged: a correction must differ from it "
                 "(edit it, or Esc to leave it unmarked)")


class RewriteScreen(DialogScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", priority=True)]
    SUBMIT_LABEL = "Save"

    def __init__(self, user: str, original: str, seed: str) -> None:
        super().__init__()
        self.user = user
        self.original = original
        self.seed = seed

    def compose_body(self) -> Iterator[Widget]:
        yield Label(literal("Rewrite the reply as it should have been (typing replaces it, "
                            "an arrow key edits it). Ctrl+S saves, Esc cancels."))
        yield Label(literal("you: " + self.user), classes="original")
        yield Label(literal("model said: " + self.original), classes="original")
        yield TextArea(self.seed, id="editor", soft_wrap=True)

    def on_mount(self) -> None:
        editor = self.query_one("#editor", TextArea)
        editor.focus()
        # Selected: typing replaces the reply, an arrow key keeps it for editing.
        editor.select_all()

    def collect(self) -> str | None:
        text = self.query_one("#editor", TextArea).text
        if not text.strip():
            return None
        if text.strip() == self.original.strip():
            raise FieldError(SAME_AS_REPLY)
        return text
