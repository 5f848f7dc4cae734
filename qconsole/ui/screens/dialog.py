"""The base of every qconsole dialog: one frame, one error line, the same buttons and keys, and
field parsing that names the field that is wrong.

A dialog subclass writes :meth:`DialogScreen.compose_body` (its own widgets) and, when it has a
submit button, :meth:`DialogScreen.collect` (the typed result, or :class:`FieldError`). The base
shows the error under the form and keeps the dialog open; Esc and the Cancel button dismiss
with ``None``. Styles are in ``styles/dialogs.tcss``.

Why the submit key is not a priority binding: a priority binding is handled by the app as soon
as its key arrives, while keys typed before it may still wait in the focused widget's queue, so
Ctrl+S right after fast typing saved text the editor had not received yet (214 characters
typed, 44 saved). A plain binding is reached by the key bubbling up from the focused widget,
after every key before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label

from qconsole.ui.literal import literal

T = TypeVar("T")
V = TypeVar("V")


class FieldError(ValueError):
    """A field's value is not acceptable; the message is shown under the form."""


class DialogScreen(ModalScreen[T]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Submit", show=False),
    ]
    SUBMIT_LABEL: ClassVar[str | None] = None  # None: no buttons (a picker)

    def compose(self) -> ComposeResult:
        with self.frame():
            yield from self.compose_body()
            if self.SUBMIT_LABEL is not None:
                yield Label("", id="error")
                with Horizontal(classes="buttons"):
                    yield Button(self.SUBMIT_LABEL, variant="primary", id="submit",
                                 disabled=not self.can_submit())
                    yield Button("Cancel", id="cancel")

    def frame(self) -> Widget:
        """The container around the dialog's widgets (styled as ``.frame``)."""
        return Vertical(classes="frame")

    def compose_body(self) -> Iterable[Widget]:
        return ()

    def can_submit(self) -> bool:
        return True

    def collect(self) -> T:
        """The dialog's typed result from its fields; raise :class:`FieldError` to refuse."""
        raise NotImplementedError

    # -- fields ----------------------------------------------------------------------------
    def raw(self, field: str) -> str:
        """The stripped text of the input ``#f-<field>``."""
        return self.query_one(f"#f-{field}", Input).value.strip()

    def parse(self, field: str, kind: Callable[[str], V], *, label: str | None = None,
              check: Callable[[V], bool] | None = None, expected: str | None = None) -> V:
        """``kind(raw)`` of ``#f-<field>``, or :class:`FieldError` naming the field."""
        name = label or field
        wanted = expected or f"not a valid {getattr(kind, '__name__', 'value')}"
        try:
            value = kind(self.raw(field))
        except ValueError:
            raise FieldError(f"{name}: {wanted}") from None
        if check is not None and not check(value):
            raise FieldError(f"{name}: {wanted}")
        return value

    def show_error(self, message: str) -> None:
        self.query_one("#error", Label).update(literal(message))

    # -- actions ---------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        elif event.button.id == "cancel":
            self.action_cancel()

    def action_submit(self) -> None:
        if self.SUBMIT_LABEL is None or not self.can_submit():
            return
        try:
            result = self.collect()
        except FieldError as exc:
            self.show_error(str(exc))
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)
