"""F6: the evaluation launch dialog: which suites, how many items, where benchmark data comes
from. Returns an :class:`EvalChoice`; its :meth:`EvalChoice.request` builds the same
:class:`qconsole.evaluation.request.EvalRequest` that ``qconsole eval`` builds from its flags
(in a worker: a probe file is read and validated there, not on the UI thread). The defaults
evaluate the corrected turns (in-domain), a near and a far reasoning-gym transfer set, GSM8K and
the forgetting panel. "judge" adds ``--judge`` to the job: after the run the configured
``[teacher]`` judges the free-text items (in-domain-similarity, probes with a ``judge:`` rubric)
in both orders; without a teacher the box is off and says how to set one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import Grid
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label

from qconsole.evaluation import panel as panel_defaults
from qconsole.ui.literal import literal
from qconsole.ui.screens.dialog import DialogScreen

if TYPE_CHECKING:
    from qconsole.evaluation.request import EvalRequest

DEFAULT_GYM = "chain_sum, basic_arithmetic"
DEFAULT_TASKS = "gsm8k_cot"
# the same default panel as `qconsole eval` (log-likelihood suites, the generated questions and
# the GSM8K slice), one list in qconsole/evaluation/panel.py
DEFAULT_PANEL = ", ".join(panel_defaults.DEFAULT_PANEL)


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@dataclass(frozen=True)
class EvalChoice:
    """What the dialog asks; :meth:`request` turns it into the run's request."""

    limit: int
    in_domain: bool = True
    gym: tuple[str, ...] = ()
    probes: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    panel: tuple[str, ...] = ()
    data_dir: str | None = None
    judge: bool = False  # the teacher judges the free-text items after the run (eval --judge)

    def request(self, *, model: str, adapter: str, sessions_root: str) -> EvalRequest:
        """The request ``qconsole eval`` would build from the same choices (reads probe files:
        call it off the UI thread)."""
        from qconsole.evaluation.benchmark_data import default_data_dir
        from qconsole.evaluation.request import EvalRequest, default_suites
        from qconsole.evaluation.suites import gym_suite, probe_suite

        extra = [probe_suite(p) for p in self.probes]
        extra += [gym_suite({"preset": g}) for g in self.gym]
        suites = default_suites(in_domain=self.in_domain, benchmarks=self.tasks,
                                panel=self.panel, extra=extra)
        data_dir = self.data_dir or default_data_dir()
        return EvalRequest(
            model=model, adapter=adapter, suites=suites, limit=self.limit,
            data_dir=str(Path(data_dir).expanduser().resolve()) if data_dir else None,
            sessions_root=sessions_root, background=True,  # the chat keeps its cores
        )


class EvaluateScreen(DialogScreen[EvalChoice | None]):
    SUBMIT_LABEL = "Start evaluation"

    def __init__(self, adapter: str, data_dir: str | None = None, *,
                 no_judge: str | None = None) -> None:
        """``no_judge``: why the teacher cannot judge (no ``[teacher]``: how to set one);
        None when one is configured."""
        super().__init__()
        self.adapter = adapter
        self.data_dir = data_dir or os.environ.get("QCONSOLE_BENCHMARK_DATA", "")
        self.no_judge = no_judge

    def compose_body(self) -> Iterator[Widget]:
        yield Label(Text.assemble(
            ("Evaluate base against ", "bold"), (self.adapter, "bold green"),
            " on the same items, paired. Ctrl+S starts, Esc cancels.",
        ))
        with Grid(classes="form"):
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
            yield Label("judge")
            yield Checkbox("the teacher judges the free-text items (both orders)", False,
                           id="f-judge", disabled=self.no_judge is not None)
        if self.no_judge is not None:
            yield Label(literal(f"judge: {self.no_judge}"), id="judge-missing")
        yield Label("", id="availability")

    def on_mount(self) -> None:
        self._check_data()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("f-tasks", "f-panel", "f-data"):
            self._check_data()

    def _check_data(self) -> None:
        """Show where each benchmark's data would come from before anything starts, so an
        offline machine sees which suites will be skipped and why."""
        names = [*_csv(self.raw("tasks")), *_csv(self.raw("panel"))]
        data = self.raw("data") or None
        self.run_worker(lambda: self._availability(names, data), thread=True,
                        exclusive=True, group="data-check")

    def _availability(self, names: list[str], data: str | None) -> None:
        """A thread: the check may ask the network."""
        from qconsole.evaluation.benchmark_data import availability_text

        text = availability_text(names, data_dir=data)

        def show() -> None:
            if self.is_attached:  # the dialog may be gone by now
                self.query_one("#availability", Label).update(literal(text))

        self.app.call_from_thread(show)

    def collect(self) -> EvalChoice:
        limit = self.parse("limit", int, label="items per suite", check=lambda n: n >= 1,
                           expected="a whole number >= 1")
        return EvalChoice(
            limit=limit,
            in_domain=self.query_one("#f-indomain", Checkbox).value,
            gym=tuple(_csv(self.raw("gym"))),
            probes=tuple(_csv(self.raw("probes"))),
            tasks=tuple(_csv(self.raw("tasks"))),
            panel=tuple(_csv(self.raw("panel"))),
            data_dir=self.raw("data") or None,
            judge=self.no_judge is None and self.query_one("#f-judge", Checkbox).value,
        )
