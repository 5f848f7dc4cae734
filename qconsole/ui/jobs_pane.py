"""Background jobs (training, evaluation) on screen: progress with ETA, a live loss curve, the
log tail, and the outcome. The jobs themselves are subprocesses writing JSON-lines events
(qconsole/jobs); this pane only reads the events the app polls and draws them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, ProgressBar, Sparkline, Static

from qconsole.jobs.events import JobEvent
from qconsole.text_safety import visible_text


def fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "—"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds / 3600:.1f} h"


class JobView(Vertical):
    """One job: title and state, progress bar, loss sparkline, last log lines."""

    DEFAULT_CSS = """
    JobView { height: auto; border: round $primary-muted; padding: 0 1; margin-bottom: 1;
        border-title-color: $text; }
    JobView.done { border: round $success; }
    JobView.failed { border: round $error; }
    JobView #row { height: 1; }
    JobView ProgressBar { width: 50%; }
    JobView #figures { width: 1fr; padding-left: 2; }
    JobView Sparkline { height: 3; margin-top: 1; }
    JobView #log { height: auto; max-height: 6; color: $text-muted; }
    JobView #outcome { height: auto; }
    """

    def __init__(self, handle: Any, kind: str, title: str,
                 on_finish: Callable[[JobView, Mapping[str, Any]], None] | None = None) -> None:
        super().__init__()
        self.handle = handle
        self.kind = kind
        self.title = title
        self.on_finish = on_finish
        self.losses: list[float] = []
        self.log_lines: list[str] = []
        self.finished = False
        self.last: Mapping[str, Any] = {}
        self.comparisons: list[dict] = []  # evaluation: one row per finished suite

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
        self.border_title = self.title

    def apply(self, events: list[JobEvent]) -> None:
        for ev in events:
            kind = ev.get("event")
            if kind == "progress":
                self._progress(ev)
            elif kind in ("log", "phase"):
                msg = ev.get("message") or ev.get("phase") or ""
                self.log_lines = (self.log_lines + [visible_text(str(msg))])[-5:]
            elif kind == "suite_done" and isinstance(ev.get("comparison"), dict):
                self.comparisons.append(ev["comparison"])
                self._show_results(partial=True)
            elif kind in ("done", "error", "cancelled"):
                self._finish(ev)
        self.query_one("#log", Static).update(Text("\n".join(self.log_lines)))

    def _progress(self, ev: Mapping[str, Any]) -> None:
        self.last = ev
        bar = self.query_one("#bar", ProgressBar)
        total = ev.get("total_steps") or ev.get("total")
        done = ev.get("step") if "step" in ev else ev.get("done")
        if total:
            bar.update(total=total, progress=done or 0)
        bits = []
        if ev.get("suite"):
            bits.append(str(ev["suite"]))
        if total:
            bits.append(f"{done}/{total}")
        if ev.get("epoch") is not None:
            bits.append(f"epoch {ev['epoch']:.2f}")
        if ev.get("loss") is not None:
            self.losses.append(float(ev["loss"]))
            bits.append(f"loss {ev['loss']:.4f}")
        if ev.get("lr") is not None:
            bits.append(f"lr {ev['lr']:.2e}")
        if ev.get("tokens_per_s"):
            bits.append(f"{ev['tokens_per_s']:.0f} tok/s")
        if ev.get("items_per_s"):
            bits.append(f"{ev['items_per_s']:.2f} items/s")
        bits.append(f"ETA {fmt_eta(ev.get('eta_s'))}")
        self.query_one("#figures", Label).update(Text("  ".join(bits)))
        if self.kind == "train" and self.losses:
            self.query_one("#loss", Sparkline).data = self.losses[-200:]

    def _show_results(self, *, partial: bool) -> None:
        from qconsole.ui.results_table import comparison_table

        title = "partial results (not final)" if partial else "results"
        self.query_one("#results", Static).update(comparison_table(self.comparisons, title=title))

    def _finish(self, ev: Mapping[str, Any]) -> None:
        if self.finished:
            return
        self.finished = True
        kind = ev.get("event")
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
            skipped = [s for s in ev.get("skipped") or [] if isinstance(s, dict)]
            if skipped:  # benchmarks without data: the run measured the rest
                text.append(" - skipped (no data): " + ", ".join(
                    visible_text(str(s.get("suite"))) for s in skipped), style="yellow")
        else:
            self.add_class("failed")
            label = "cancelled" if kind == "cancelled" else "failed"
            text = Text.assemble((label, "bold red"), ": ",
                                 visible_text(str(ev.get("message") or "")))
        self.query_one("#outcome", Static).update(text)
        if self.on_finish is not None:
            self.on_finish(self, ev)


class JobsPane(VerticalScroll):
    """The docked pane holding every job of this console session."""

    DEFAULT_CSS = """
    JobsPane { dock: bottom; height: 45%; border-top: solid $accent; display: none;
        padding: 0 1; }
    JobsPane.shown { display: block; }
    """

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
