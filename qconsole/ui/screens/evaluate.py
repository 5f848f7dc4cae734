"""F6: the evaluation launch dialog: which suites, how many items, where benchmark data comes
from. Returns the ``qconsole eval`` arguments for the subprocess; the defaults evaluate the
corrected turns (in-domain), a near and a far reasoning-gym transfer set, GSM8K and the
forgetting panel."""

from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

DEFAULT_GYM = "chain_sum, basic_arithmetic"
DEFAULT_TASKS = "gsm8k_cot"
DEFAULT_PANEL = "hellaswag, arc_challenge, winogrande"


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


class EvaluateScreen(ModalScreen[list[str] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start")]
    DEFAULT_CSS = """
    EvaluateScreen { align: center middle; }
    EvaluateScreen > Vertical { width: 100; max-width: 95%; height: auto; border: thick $accent;
        background: $surface; padding: 1 2; }
    EvaluateScreen Grid { grid-size: 2; grid-columns: 22 1fr; grid-rows: 3; height: auto; }
    EvaluateScreen Label { padding-top: 1; }
    EvaluateScreen #error { color: $error; height: auto; }
    EvaluateScreen #availability { height: auto; color: $text-muted; }
    EvaluateScreen Horizontal { height: auto; align: right middle; }
    """

    def __init__(self, adapter: str, data_dir: str | None = None) -> None:
        super().__init__()
        self.adapter = adapter
        self.data_dir = data_dir or os.environ.get("QCONSOLE_BENCHMARK_DATA", "")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text.assemble(
                ("Evaluate base against ", "bold"), (self.adapter, "bold green"),
                " on the same items, paired. Ctrl+S starts, Esc cancels.",
            ))
            with Grid():
                yield Label("corrected turns")
                yield Checkbox("in-domain: the marked turns asked again", True, id="f-indomain")
                yield Label("transfer (gym)")
                yield Input(DEFAULT_GYM, id="f-gym",
                            placeholder="reasoning-gym presets, comma-separated")
                yield Label("probe files")
                yield Input("", id="f-probes", placeholder="your .yaml/.jsonl probe sets")
                yield Label("benchmarks")
                yield Input(DEFAULT_TASKS, id="f-tasks", placeholder="lm-eval task names")
                yield Label("forgetting panel")
                yield Input(DEFAULT_PANEL, id="f-panel")
                yield Label("items per suite")
                yield Input("20", id="f-limit")
                yield Label("benchmark data dir")
                yield Input(self.data_dir, id="f-data",
                            placeholder="local JSONL folder for offline runs (blank: the hub)")
            yield Label("", id="availability")
            yield Label("", id="error")
            with Horizontal():
                yield Button("Start evaluation", variant="primary", id="start")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._check_data()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("f-tasks", "f-panel", "f-data"):
            self._check_data()

    def _check_data(self) -> None:
        names = [*_csv(self.query_one("#f-tasks", Input).value),
                 *_csv(self.query_one("#f-panel", Input).value)]
        data = self.query_one("#f-data", Input).value.strip() or None
        self.run_worker(lambda: self._availability(names, data), thread=True,
                        exclusive=True, group="data-check")

    def _availability(self, names: list[str], data: str | None) -> None:
        """Where each benchmark's data comes from (a thread: it may ask the network)."""
        from qconsole.evaluation.benchmark_data import availability_text

        text = availability_text(names, data_dir=data)

        def show() -> None:
            if self.is_attached:  # the dialog may be gone by now
                self.query_one("#availability", Label).update(text)

        self.app.call_from_thread(show)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_start() if event.button.id == "start" else self.action_cancel()

    def action_start(self) -> None:
        value = {f: self.query_one(f"#f-{f}", Input).value.strip()
                 for f in ("gym", "probes", "tasks", "panel", "limit", "data")}
        try:
            limit = int(value["limit"])
            if limit < 1:
                raise ValueError
        except ValueError:
            self.query_one("#error", Label).update("items per suite: a whole number >= 1")
            return
        args = ["--limit", str(limit), "--tasks", ",".join(_csv(value["tasks"])),
                "--panel", ",".join(_csv(value["panel"]))]
        for g in _csv(value["gym"]):
            args += ["--gym", g]
        for p in _csv(value["probes"]):
            args += ["--probes", p]
        if value["data"]:
            args += ["--data-dir", value["data"]]
        if not self.query_one("#f-indomain", Checkbox).value:
            args.append("--no-in-domain")
        self.dismiss(args)

    def action_cancel(self) -> None:
        self.dismiss(None)
