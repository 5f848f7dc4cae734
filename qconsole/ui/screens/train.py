"""F5: the training launch dialog. Shows what will be learned (every rewrite of every session,
since each cycle trains a fresh adapter from the base on the whole accumulated set), lets every
setting be changed, and returns the ``qconsole train`` arguments for the subprocess."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from qconsole.text_safety import visible_text
from qconsole.training.settings import PRESET_HELP, PRESETS, settings_for

FIELDS = (("rank", int), ("alpha", float), ("epochs", int), ("learning_rate", float),
          ("min_steps", int))
FLAG = {"rank": "--rank", "alpha": "--alpha", "epochs": "--epochs",
        "learning_rate": "--lr", "min_steps": "--min-steps"}


class TrainScreen(ModalScreen[list[str] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start")]
    DEFAULT_CSS = """
    TrainScreen { align: center middle; }
    TrainScreen > Vertical { width: 100; max-width: 95%; height: 90%; border: thick $accent;
        background: $surface; padding: 1 2; }
    TrainScreen Grid { grid-size: 4; grid-columns: 16 1fr 16 1fr; grid-rows: 3; height: auto; }
    TrainScreen Label { padding-top: 1; }
    TrainScreen #preview { height: 1fr; border: round $primary-muted; padding: 0 1; }
    TrainScreen #error { color: $error; height: auto; }
    TrainScreen Horizontal { height: auto; align: right middle; }
    """

    def __init__(self, corrections: list, n_sessions: int,
                 tokens: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.corrections = corrections
        self.n_sessions = n_sessions
        self.tokens = tokens

    def compose(self) -> ComposeResult:
        n = len(self.corrections)
        defaults = settings_for("default")
        with Vertical():
            yield Label(Text.assemble(
                ("Train a LoRA adapter", "bold"),
                f" on {n} correction{'s' if n != 1 else ''} from {self.n_sessions} "
                "session(s): a fresh adapter from the base model on everything corrected so "
                "far. Ctrl+S starts, Esc cancels.",
                (f"\n{self.tokens[0] + self.tokens[1]} tokens per epoch: {self.tokens[0]} "
                 f"of context (no loss) and {self.tokens[1]} of targets (the loss)"
                 if self.tokens else ""),
            ))
            with Grid():
                yield Label("name")
                yield Input(time.strftime("lora-%Y%m%d-%H%M%S"), id="f-name")
                yield Label("preset")
                yield Select([(f"{p}: {PRESET_HELP.get(p, '')}", p) for p in PRESETS],
                             value="default", allow_blank=False, id="f-preset")
                for name, _ in FIELDS:
                    yield Label(name)
                    yield Input(str(getattr(defaults, name)), id=f"f-{name}")
                yield Label("replay JSONL")
                yield Input(placeholder="optional: ordinary data mixed in", id="f-replay")
            with VerticalScroll(id="preview"):
                for c in self.corrections[:20]:
                    yield Static(Text.assemble(("you: ", "bold"), visible_text(c.user)[:300]))
                    yield Static(Text.assemble(("target: ", "bold green"),
                                               visible_text(c.rewrite)[:300]))
                    yield Static("")
                if n > 20:
                    yield Static(f"… and {n - 20} more")
            yield Label("", id="error")
            with Horizontal():
                yield Button("Start training", variant="primary", id="start",
                             disabled=n == 0)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if not self.corrections:
            self.query_one("#error", Label).update(
                "Nothing to train on yet: mark a failing reply (Ctrl+T, m) and rewrite it (w)."
            )

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-preset":
            preset = settings_for(str(event.value))
            for name, _ in FIELDS:
                self.query_one(f"#f-{name}", Input).value = str(getattr(preset, name))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_start() if event.button.id == "start" else self.action_cancel()

    def action_start(self) -> None:
        if not self.corrections:
            return
        error = self.query_one("#error", Label)
        name = self.query_one("#f-name", Input).value.strip()
        args = ["--preset", str(self.query_one("#f-preset", Select).value)]
        if name:
            args += ["--name", name]
        values = {}
        for field, kind in FIELDS:
            raw = self.query_one(f"#f-{field}", Input).value.strip()
            try:
                values[field] = kind(raw)
            except ValueError:
                error.update(f"{field}: not a valid {kind.__name__}")
                return
            args += [FLAG[field], raw]
        try:
            settings_for(args[1], **values)
        except Exception as exc:
            error.update(str(exc))
            return
        replay = self.query_one("#f-replay", Input).value.strip()
        if replay:
            args += ["--replay", replay]
        self.dismiss(args)

    def action_cancel(self) -> None:
        self.dismiss(None)
