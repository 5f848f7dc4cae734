"""F5: the training launch dialog. Shows what will be learned (every rewrite of every session,
since each cycle trains a fresh adapter from the base on the whole accumulated set, and the
preference pairs a DPO run would use), lets the objective and settings be changed, and returns
a :class:`TrainRequest`, the request ``qconsole train`` parses its flags into (the console adds
where the model, sessions and adapters are)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from rich.text import Text
from textual.containers import Grid, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from qconsole.errors import QConsoleError
from qconsole.text_safety import visible_text
from qconsole.training.request import TrainRequest
from qconsole.training.settings import OBJECTIVES, PRESET_HELP, PRESETS, settings_for
from qconsole.ui.screens.dialog import DialogScreen, FieldError

FIELDS = (("rank", int), ("alpha", float), ("epochs", int), ("learning_rate", float),
          ("min_steps", int))
NOTHING_YET = "Nothing to train on yet: mark a failing reply (Ctrl+T, m) and rewrite it (w)."
NO_PAIRS_YET = ("No preference pairs yet for {objective}: rewrite a reply (w), prefer a pane (p) "
                "or vote on a blind turn.")
OBJECTIVE_HELP = {
    "sft": "sft: the rewrites",
    "dpo": "dpo: preference pairs",
    "sft+dpo": "sft+dpo: both",
}


class TrainScreen(DialogScreen[TrainRequest | None]):
    SUBMIT_LABEL = "Start training"

    def __init__(self, corrections: list, n_sessions: int,
                 tokens: tuple[int, int] | None = None,
                 pairs: dict[str, int] | None = None) -> None:
        super().__init__()
        self.corrections = corrections
        self.n_sessions = n_sessions
        self.tokens = tokens
        self.pairs = dict(pairs or {})  # preference pairs per source (rewrite/preference/blind)

    def can_submit(self) -> bool:
        return bool(self.corrections) or bool(self.pairs)

    def compose_body(self) -> Iterator[Widget]:
        n = len(self.corrections)
        defaults = settings_for("default")
        yield Label(Text.assemble(
            ("Train a LoRA adapter", "bold"),
            f" on {n} correction{'s' if n != 1 else ''} from {self.n_sessions} "
            "session(s): a fresh adapter from the base model on everything corrected so "
            "far. Ctrl+S starts, Esc cancels.",
            (f"\n{self.tokens[0] + self.tokens[1]} tokens per epoch: {self.tokens[0]} "
             f"of context (no loss) and {self.tokens[1]} of targets (the loss)"
             if self.tokens else ""),
            (f"\nDPO: {sum(self.pairs.values())} preference pairs ("
             + ", ".join(f"{k} {v}" for k, v in self.pairs.items()) + ")"
             if self.pairs else ""),
        ))
        with Grid(classes="form"):
            yield Label("name")
            yield Input(time.strftime("lora-%Y%m%d-%H%M%S"), id="f-name")
            yield Label("objective")
            yield Select([(OBJECTIVE_HELP[o], o) for o in OBJECTIVES], value="sft",
                         allow_blank=False, id="f-objective")
            yield Label("DPO beta")
            yield Input(str(defaults.beta), id="f-beta")
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

    def on_mount(self) -> None:
        if not self.corrections and not self.pairs:
            self.show_error(NOTHING_YET)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-preset":
            preset = settings_for(str(event.value))
            for name, _ in FIELDS:
                self.query_one(f"#f-{name}", Input).value = str(getattr(preset, name))

    def collect(self) -> TrainRequest:
        values: dict = {field: self.parse(field, kind) for field, kind in FIELDS}
        values["beta"] = self.parse("beta", float)
        preset = str(self.query_one("#f-preset", Select).value)
        objective = str(self.query_one("#f-objective", Select).value)
        if objective == "sft" and not self.corrections:
            raise FieldError(NOTHING_YET)
        if objective != "sft" and not self.pairs:
            raise FieldError(NO_PAIRS_YET.format(objective=objective))
        replay = self.raw("replay")
        if replay and objective != "sft":
            raise FieldError("replay data is for sft; leave it empty for " + objective)
        try:
            settings = settings_for(preset, **values)
        except QConsoleError as exc:  # the settings' own validation says what is wrong
            raise FieldError(str(exc)) from None
        return TrainRequest(settings=settings, name=self.raw("name") or None,
                            objective=objective,
                            replay=Path(replay).expanduser() if replay else None)
