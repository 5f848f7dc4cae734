"""F12: the cycle ledger in the console (``qconsole cycle``'s runs): per cycle and topic the
held-out accuracy with its interval, per failure kind the error rate, each cycle's adapter and
how far its steps got; Enter puts a cycle's adapter in the right pane (roll back or forward).

The numbers come from qconsole.cycles.view (the growth report's own computation), read in a
thread so a large ledger never blocks the chat; this screen only renders and dismisses with the
chosen adapter's name (the console applies it through its AdapterSwitcher).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from qconsole.text_safety import visible_text

if TYPE_CHECKING:
    from qconsole.cycles.view import CyclesView


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


class CyclesScreen(Screen[str | None]):
    BINDINGS = [Binding("escape", "close", "Back"),
                Binding("enter", "use_adapter", "Use this cycle's adapter", priority=True)]
    DEFAULT_CSS = """
    CyclesScreen #cycle-table { height: 12; }
    CyclesScreen #cycle-detail { height: 1fr; padding: 0 1; }
    """

    def __init__(self, adapter_in_use: str | None = None) -> None:
        super().__init__()
        self.adapter_in_use = adapter_in_use
        self.view: CyclesView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("reading the cycle ledger…", id="cycle-summary")
        yield DataTable(id="cycle-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="cycle-detail"):
            yield Static("", id="cycle-cells")
        yield Footer()

    async def on_mount(self) -> None:
        from qconsole.cycles.view import cycles_view
        from qconsole.evaluation.store import RunStore
        from qconsole.paths import workspace_dir

        self.title = "qconsole · cycles"
        try:
            self.view = await asyncio.to_thread(cycles_view, workspace_dir(), RunStore().root)
        except Exception as exc:  # a damaged ledger must not take the console down
            self.query_one("#cycle-summary", Static).update(Text(f"cycles unavailable: {exc}"))
            return
        self._fill()

    def _fill(self) -> None:
        view = self.view
        summary = self.query_one("#cycle-summary", Static)
        if view is None or not view.rows:
            summary.update("No cycle ledger in this workspace yet: run `qconsole cycle "
                           "PLAN.yaml`.")
            return
        gem = (f"ACC {_pct(view.acc)}   BWT "
               f"{'—' if view.bwt is None else f'{100 * view.bwt:+.1f} pp'}   FWT "
               f"{'—' if view.fwt is None else f'{100 * view.fwt:+.1f} pp'}")
        summary.update(Group(
            Text(f"plan {view.plan} · {len(view.rows)} cycle(s) · right pane: "
                 f"{self.adapter_in_use or 'no adapter'}", style="bold"),
            Text(gem + "   (Enter: use the highlighted cycle's adapter in the right pane)")))
        table = self.query_one("#cycle-table", DataTable)
        table.add_columns("cycle", "trained", "corrections", "adapter", "steps")
        for row in view.rows:
            mark = " ◀ in use" if row.adapter and row.adapter == self.adapter_in_use else ""
            table.add_row(str(row.cycle), ", ".join(row.topics), str(row.corrections),
                          Text(visible_text(row.adapter or "—") + mark), row.steps)
        table.focus()
        self._show(0)

    def _show(self, index: int) -> None:
        if self.view is None or not 0 <= index < len(self.view.rows):
            return
        row = self.view.rows[index]
        parts: list[Text] = [Text(f"cycle {row.cycle}: held-out accuracy (flexible reading)",
                                  style="bold")]
        for c in row.cells:
            lo, hi = c.adapter_ci
            star = "  ← trained in this cycle" if c.trained_here else ""
            parts.append(Text(f"  {visible_text(c.topic):<22} adapter {_pct(c.adapter):>6} "
                              f"[{100 * lo:.1f}, {100 * hi:.1f}]  base {_pct(c.base):>6}  "
                              f"n={c.n}{star}"))
        if not row.cells:
            parts.append(Text("  not evaluated yet", style="dim"))
        if row.failures:
            parts.append(Text("error rate per failure kind", style="bold"))
            for kind, (errors, n, (lo, hi)) in row.failures.items():
                parts.append(Text(f"  {kind:<22} {errors}/{n} = {_pct(errors / max(1, n))} "
                                  f"[{100 * lo:.1f}, {100 * hi:.1f}]"))
        if row.waiting:
            parts.append(Text(f"{row.waiting} queued turn(s) wait for a rewrite (F4 review)",
                              style="yellow"))
        self.query_one("#cycle-cells", Static).update(Group(*parts))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def action_use_adapter(self) -> None:
        if self.view is None or not self.view.rows:
            return
        row = self.view.rows[self.query_one("#cycle-table", DataTable).cursor_row]
        if row.adapter is None:
            self.app.notify(f"cycle {row.cycle} has no trained adapter yet", severity="warning")
            return
        self.dismiss(row.adapter)

    def action_close(self) -> None:
        self.dismiss(None)
