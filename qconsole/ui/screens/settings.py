"""F2: sampling settings and prompt template, applied to both sides so the comparison is fair."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from textual.containers import Grid
from textual.widget import Widget
from textual.widgets import Input, Label, Select

from qconsole.prompts import TEMPLATE_NAMES
from qconsole.sampling import SamplingSettings
from qconsole.ui.screens.dialog import DialogScreen, FieldError

FIELDS: tuple[tuple[str, type], ...] = (
    ("temperature", float),
    ("top_p", float),
    ("top_k", int),
    ("repeat_penalty", float),
    ("max_tokens", int),
    ("seed", int),
)


@dataclass(frozen=True)
class SettingsChoice:
    sampling: SamplingSettings
    template: str


class SettingsScreen(DialogScreen[SettingsChoice | None]):
    SUBMIT_LABEL = "Save"

    def __init__(self, settings: SamplingSettings, template: str) -> None:
        super().__init__()
        self.settings = settings
        self.template = template

    def compose_body(self) -> Iterator[Widget]:
        yield Label("Settings for both sides (Ctrl+S saves, Esc cancels)")
        with Grid(classes="form"):
            for name, _ in FIELDS:
                yield Label(name)
                yield Input(str(getattr(self.settings, name)), id=f"f-{name}")
            yield Label("template")
            yield Select(
                [(n, n) for n in TEMPLATE_NAMES], value=self.template, allow_blank=False,
                id="f-template",
            )

    def collect(self) -> SettingsChoice:
        values = {name: self.parse(name, kind) for name, kind in FIELDS}
        if values["max_tokens"] < 1 or values["temperature"] < 0 or not 0 < values["top_p"] <= 1:
            raise FieldError("max_tokens >= 1, temperature >= 0, 0 < top_p <= 1")
        template = str(self.query_one("#f-template", Select).value)
        return SettingsChoice(replace(self.settings, **values), template)
