"""Background jobs (training, evaluation) on screen: progress with ETA, a live loss curve, the
log tail, and the outcome. The jobs themselves are subprocesses writing JSON-lines events
(qconsole/jobs); this pane only reads the events the app polls, folds them with
:class:`qconsole.training.launch.TrainingState` and draws the state. Styles: styles/widgets.tcss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, ProgressBar, Sparkline, Static

from qconsole.jobs.events import JobEvent
from qconsole.text_safety import visible_text
from qconsole.training.launch import TrainingState
from qconsole.ui.literal import literal


def fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "—"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds / 3600:.1f} h"


class JobView(Vertical):
    """One job: title and state, progress bar, loss sparkline, last log lines, results.

    The events are folded by :class:`TrainingState` (the one state machine of the job
    protocol, shared with the CLI and the tests); this widget only draws that state."""

    def __init__(self, handle: Any, kind: str, title: str,
                 on_finish: Callable[[JobView, dict[str, Any]], None] | None = None) -> None:
        super().__init__()
        self.handle = handle
        self.kind = kind
        self.title = title
        self.on_finish = on_finish
        self.state = TrainingState()

    # what the rest of the console reads of a job
    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def losses(self) -> list[float]:
        return [loss for _, loss in self.state.losses]

    @property
    def comparisons(self) -> list[dict]:
        return self.state.comparisons

    def compose(self) -> ComposeResult:
        with Horizontal(id="row"):
            yield ProgressBar(total=None, show_eta=False, id="bar")
            yield Label("starting…", id="figures")
        if self.kind == "train":
            yield Sparkline([], id="loss")
        yield Static("", id="log")
        yield Static("", id="results")
        yield Static("", id="outcome")

    def on_mount(self) -> None:
        self.border_title = literal(self.title)

    def apply(self, events: list[JobEvent]) -> None:
        was_finished, suites = self.finished, len(self.comparisons)
        for ev in events:
            if not self.finished:  # one terminal event counts; a late one changes nothing
                self.state.apply(ev)
        if any(ev.get("event") == "progress" for ev in events):
            self._progress()
        if len(self.comparisons) != suites and not self.finished:
            self._show_results(partial=True)
        lines = [visible_text(line) for line in list(self.state.log)[-5:]]
        self.query_one("#log", Static).update(Text("\n".join(lines)))
        if self.finished and not was_finished:
            self._finish()

    def _progress(self) -> None:
        st = self.state
        bar = self.query_one("#bar", ProgressBar)
        if st.total_steps:
            bar.update(total=st.total_steps, progress=st.step)
        bits = []
        if st.suite:
            bits.append(st.suite)
        if st.total_steps:
            bits.append(f"{st.step}/{st.total_steps}")
        if st.epoch:
            bits.append(f"epoch {st.epoch:.2f}")
        if st.loss is not None:
            bits.append(f"loss {st.loss:.4f}")
        if st.lr is not None:
            bits.append(f"lr {st.lr:.2e}")
        if st.tokens_per_s:
            bits.append(f"{st.tokens_per_s:.0f} tok/s")
        bits.append(f"ETA {fmt_eta(st.eta_s)}")
        self.query_one("#figures", Label).update(Text(visible_text("  ".join(bits))))
        if self.kind == "train" and st.losses:
            self.query_one("#loss", Sparkline).data = self.losses[-200:]

    def _show_results(self, *, partial: bool) -> None:
        from qconsole.ui.results_table import comparison_table

        title = "partial results (not final)" if partial else "results"
        self.query_one("#results", Static).update(comparison_table(self.comparisons, title=title))

    def _finish(self) -> None:
        kind = self.state.status
        bar = self.query_one("#bar", ProgressBar)
        if self.comparisons:
            self._show_results(partial=kind != "done")
        if kind == "done":
            self.add_class("done")
            if bar.total is None:
                bar.update(total=1, progress=1)
            else:
                bar.update(progress=bar.total)
            text = Text("done", style="bold green")
            result = self.state.result
            skipped = [s for s in (result.get("skipped") if result else None) or []
                       if isinstance(s, dict)]
            if skipped:  # benchmarks without data: the run measured the rest
                text.append(" - skipped (no data): " + ", ".join(
                    visible_text(str(s.get("suite"))) for s in skipped), style="yellow")
        else:
            self.add_class("failed")
            label = "cancelled" if kind == "cancelled" else "failed"
            result = self.state.result
            message = str(result.get("message") or "") if result is not None else ""
            text = Text.assemble((label, "bold red"), ": ", visible_text(message))
        self.query_one("#outcome", Static).update(text)
        if self.on_finish is not None:
            self.on_finish(self, dict(self.state.result or {}))


class JobsPane(VerticalScroll):
    """The docked pane holding every job of this console session."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: list[JobView] = []  # kept outside the DOM: still there while shutting down

    def running(self) -> list[JobView]:
        return [v for v in self.views if not v.finished]

    def add_job(self, view: JobView) -> None:
        self.views.append(view)
        self.add_class("shown")
        self.mount(view, before=0)
        self.scroll_home(animate=False)

    def poll(self) -> None:
        for view in self.running():
            events = view.handle.poll()
            if events:
                view.apply(events)
