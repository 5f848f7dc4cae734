"""What the console's cycles screen shows, computed here (no Textual): one row per cycle of the
newest plan's ledger, with per-topic accuracy and intervals, error rate per failure kind, the
cycle's adapter and how far its steps got.

Why in the core: the screen only renders; the numbers are the growth report's
(qconsole.cycles.growth), so the console and ``qconsole report`` cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qconsole.cycles.ledger import STEP_NAMES, Ledger, find_ledgers


@dataclass(frozen=True)
class TopicCell:
    topic: str
    n: int
    base: float
    adapter: float
    adapter_ci: tuple[float, float]
    trained_here: bool


@dataclass(frozen=True)
class CycleRow:
    cycle: int
    topics: tuple[str, ...]
    adapter: str | None
    steps: str  # e.g. "probe✓ check✓ corrections… train· evaluate· record·"
    corrections: int
    cells: tuple[TopicCell, ...] = ()
    failures: dict[str, tuple[int, int, tuple[float, float]]] = field(default_factory=dict)
    waiting: int = 0  # queued turns that still need a rewrite


@dataclass(frozen=True)
class CyclesView:
    plan: str | None
    ledger: Path | None
    rows: tuple[CycleRow, ...]
    acc: float | None = None
    bwt: float | None = None
    fwt: float | None = None
    problem: str | None = None


def step_marks(entry: dict[str, Any]) -> str:
    """``probe✓ check✓ corrections… train·``: finished, started, not started."""
    steps = entry.get("steps") or {}

    def mark(n: str) -> str:
        return "✓" if (steps.get(n) or {}).get("done_at") else "…" if n in steps else "·"
    return " ".join(f"{n}{mark(n)}" for n in STEP_NAMES)


def cycles_view(workspace: Path, evals: Path, ledger_file: Path | None = None) -> CyclesView:
    """The newest ledger of the workspace (or ``ledger_file``) as rows for the screen."""
    from qconsole.cycles.growth import growth_from_ledger
    from qconsole.evaluation.stats import wilson_interval

    paths = [ledger_file] if ledger_file is not None else find_ledgers(workspace)
    if not paths:
        return CyclesView(None, None, ())
    ledger = Ledger.read(paths[-1])
    growth = growth_from_ledger(ledger, evals)
    by_cycle = {c.cycle: c for c in growth.cycles}
    rows = []
    for entry in ledger.cycles:
        k = int(entry["cycle"])
        train = ledger.step(k, "train") or {}
        adapters = train.get("adapters") or []
        corr = entry.get("steps", {}).get("corrections") or {}
        c = by_cycle.get(k)
        cells: list[TopicCell] = []
        failures: dict[str, tuple[int, int, tuple[float, float]]] = {}
        if c is not None:
            for t in growth.topics:
                r = growth.heldout_row(c, t)
                if r is not None:
                    right = round(r.adapter_acc * r.n)
                    cells.append(TopicCell(t, r.n, r.base_acc, r.adapter_acc,
                                           wilson_interval(right, r.n), t in c.topics))
            failures = growth.failure_rates(c)
        rows.append(CycleRow(
            cycle=k, topics=tuple(entry.get("topics") or ()),
            adapter=adapters[0]["name"] if adapters else None, steps=step_marks(entry),
            corrections=len(corr.get("corrections") or []), cells=tuple(cells),
            failures=failures, waiting=int(corr.get("waiting") or 0)))
    acc = bwt = fwt = None
    if growth.cycles:
        gem = growth.gem()
        acc, bwt, fwt = gem.acc, gem.bwt, gem.fwt
    return CyclesView(growth.plan, paths[-1], tuple(rows), acc, bwt, fwt)
