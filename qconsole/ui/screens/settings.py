"""F2: sampling settings and prompt template, applied to both sides so the comparison is fair."""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from qconsole.prompts import TEMPLATE_NAMES
from qconsole.sampling import SamplingSettings

FIELDS: tuple[tuple[str, type], ...] = (
    ("temperature", float),
    ("top_p", float),
    ("top_k", int),
    ("repeat_penalty", float),
    ("max_tokens", int),
    ("seed", int),
)


class SettingsScreen(ModalScreen[tuple[SamplingSettings, str] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen > Vertical { width: 64; height: auto; border: thick $accent;
        background: $surface; padding: 1 2; }
    SettingsScreen Grid { grid-size: 2; grid-columns: 18 1fr; height: auto; grid-rows: 3; }
    SettingsScreen Label { padding-top: 1; }
    SettingsScreen #error { color: $error; height: auto; }
    SettingsScreen Horizontal { height: auto; align: right middle; }
    """

    def __init__(self, settings: SamplingSettings, template: str) -> None:
        super().__init__()
        self.settings = settings
        self.template = template

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Settings for both sides (Ctrl+S saves, Esc cancels)")
            with Grid():
                for name, _ in FIELDS:
                    yield Label(name)
                    yield Input(str(getattr(self.settings, name)), id=f"f-{name}")
                yield Label("template")
                yield Select(
                    [(n, n) for n in TEMPLATE_NAMES], value=self.template, allow_blank=False,
                    id="f-template",
                )
            yield Label("", id="error")
            with Horizontal():
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_cancel()

    def action_save(self) -> None:
        values = {}
        for name, kind in FIELDS:
            raw = self.query_one(f"#f-{name}", Input).value.strip()
            try:
                values[name] = kind(raw)
            except ValueError:
                self.query_one("#error", Label).update(f"{name}: not a valid {kind.__name__}")
                return
        if values["max_tokens"] < 1 or values["temperature"] < 0 or not 0 < values["top_p"] <= 1:
            self.query_one("#error", Label).update(
                "max_tokens >= 1, temperature >= 0, 0 < top_p <= 1"
            )
            return
        template = str(self.query_one("#f-template", Select).value)
        self.dismiss((replace(self.settings, **values), template))

    def action_cancel(self) -> None:
        self.dismiss(None)
