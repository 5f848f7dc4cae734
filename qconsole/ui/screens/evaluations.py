"""Stored evaluations, visible again in review: every run with its before/after table (always
recomputed from the per-item records, so it matches `qconsole eval` and `qconsole report`), the
forgetting-panel verdict, and accuracy over training cycles with ACC / BWT / FWT."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Sparkline, Static

from qconsole.text_safety import visible_text
from qconsole.ui.results_table import comparison_table


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _fmt(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


class EvaluationsScreen(Screen[None]):
    BINDINGS = [Binding("escape", "close", "Back")]
    DEFAULT_CSS = """
    EvaluationsScreen #runs { height: 10; }
    EvaluationsScreen #detail { height: 1fr; padding: 0 1; }
    EvaluationsScreen Sparkline { height: 3; margin: 1 0; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.runs: list = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="detail"):
            yield Static("", id="cycles")
            yield Label("adapter accuracy over cycles (mean over topics):")
            yield Sparkline([], id="trend")
            yield Static("", id="table")
        yield Footer()

    def on_mount(self) -> None:
        from qconsole.evaluation.store import RunStore

        self.title = "qconsole · evaluations"
        table = self.query_one("#runs", DataTable)
        table.add_columns("date", "adapter", "status", "suites", "run")
        self.runs = RunStore().runs()
        for run in self.runs:
            suites = run.manifest.get("suites") or []
            status = run.status if run.is_final else f"PARTIAL ({run.status})"
            table.add_row(run.created[:19], Text(run.adapter_name or "—"), status,
                          str(len(suites)), run.run_id)
        if not self.runs:
            self.query_one("#table", Static).update("No evaluations yet: F6 in the console.")
        self._show_cycles()
        table.focus()
        if self.runs:
            self._show_run(0)

    def _show_cycles(self) -> None:
        from qconsole.evaluation.cycles import accuracy_matrix, gem_metrics
        from qconsole.evaluation.store import stored_cycles

        try:
            cycles, infos = stored_cycles([r for r in self.runs if r.is_final])
            if not cycles:
                return
            matrix = accuracy_matrix(cycles)
            gem = gem_metrics(matrix)
        except Exception as exc:  # an odd old run must not take review down
            self.query_one("#cycles", Static).update(Text(f"cycles unavailable: {exc}"))
            return
        trend = [_mean(row) for row in matrix.adapter]
        strict = gem_metrics(accuracy_matrix(cycles, reading="strict"))
        self.query_one("#trend", Sparkline).data = [100 * (t or 0.0) for t in trend]
        lines = [Text(f"{len(infos)} cycle(s): " + " → ".join(i.adapter for i in infos),
                      style="bold"),
                 Text(f"ACC {_fmt(gem.acc)}   BWT {_fmt(gem.bwt, True)} pp   "
                      f"FWT {_fmt(gem.fwt, True)} pp   (per-cycle mean: "
                      + ", ".join(_fmt(t) for t in trend) + ")"),
                 Text(f"strict reading: ACC {_fmt(strict.acc)}   BWT {_fmt(strict.bwt, True)} pp"
                      f"   FWT {_fmt(strict.fwt, True)} pp", style="dim")]
        self.query_one("#cycles", Static).update(Group(*lines))

    def _show_run(self, index: int) -> None:
        run = self.runs[index]
        try:
            parts = run_detail(run)
        except Exception as exc:
            self.query_one("#table", Static).update(Text(f"cannot read this run: {exc}"))
            return
        self.query_one("#table", Static).update(Group(*parts))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.runs):
            self._show_run(event.cursor_row)

    def action_close(self) -> None:
        self.dismiss(None)


def run_detail(run) -> list:
    """What review shows for one stored run: the table (both readings, baselines), the
    forgetting panel, what the readings mean, leaked items and the format-bleed line."""
    from qconsole.evaluation.report import summarize

    summary = summarize(run)
    parts: list = [comparison_table([r.to_dict() for r in summary.rows],
                                    title=("PARTIAL: " if summary.partial else "")
                                    + f"{run.adapter_name or ''} · {run.run_id}")]
    if summary.forgetting is not None:
        f = summary.forgetting
        style = "bold red" if f.flagged else ("yellow" if f.below_threshold else "green")
        parts.append(Text(f"forgetting panel: {f.status} ({f.diff_points:+.1f} pp, "
                          f"threshold {f.threshold_points:g})", style=style))
    if any(r.strict is not None for r in summary.rows):
        parts.append(Text("scores: flexible reading (headline); strict % = with the cue "
                          "\"The answer is X.\"; format pp = strict diff minus flexible "
                          "diff (format learning); const. % = always the majority answer",
                          style="dim"))
    for line in summary.leaks:
        parts.append(Text(visible_text(line), style="yellow"))
    if summary.bleed is not None:
        parts.append(Text(visible_text(summary.bleed.describe()),
                          style="yellow" if summary.bleed.adapter > summary.bleed.base else ""))
    if summary.bleed_by_suite:
        parts.append(Text("format bleed by suite: " + ", ".join(
            f"{visible_text(k)} {b.short()}" for k, b in summary.bleed_by_suite.items()),
            style="dim"))
    return parts
