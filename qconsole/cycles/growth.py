"""Growth across cycles, read from the ledger: the topic-by-cycle matrix, ACC / BWT / FWT,
per-cycle gains with intervals, transfer, forgetting, error rate per failure kind, seeds.

Why from the ledger: each cycle's numbers must come from that cycle's own evaluation (the run
the ledger names), on the same held-out suites for every topic; building the matrix from "each
adapter's latest run" let an unrelated later run replace a cycle's evaluation. Every figure is
recomputed from the stored per-item records (qconsole.evaluation), never copied from a summary.

GEM (arXiv 1706.08840) as qconsole.evaluation.cycles defines it: ``R[k][i]`` the cycle-k
adapter on topic i's held-out items, ``b_i`` the base on the same items; the topics are the
plan's topics, trained at the first cycle that corrects them.

Failure kinds: an adapter reply that is wrong under the flexible reading is a ``format``
failure when no answer could be read from it at all, and otherwise a failure of the kind its
topic's corrections are marked with (``reasoning_step`` by default): the error rate of each
kind per cycle, with its Wilson interval, over all held-out items of the cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

from qconsole.cycles.ledger import Ledger


@dataclass
class CycleRuns:
    cycle: int
    topics: tuple[str, ...]  # the topics this cycle corrected
    adapter: str
    run: Any  # StoredRun of the first seed
    seed_runs: list[tuple[int, Any]] = field(default_factory=list)
    train_seconds: float | None = None
    wall_seconds: dict[str, float] = field(default_factory=dict)
    # the first seed's own training and evaluation wall times (absent in ledgers from before
    # they were recorded): a one-seed cycle's time when the plan trains several seeds; and
    # "base_pass": the seconds of that evaluation spent on base answers the cache lacked
    first_seed_seconds: dict[str, float] = field(default_factory=dict)
    corrections: int = 0
    sources: dict[str, int] = field(default_factory=dict)


@dataclass
class Growth:
    plan: str
    plan_hash: str
    topics: tuple[str, ...]  # every plan topic (the matrix columns)
    kinds: dict[str, str]  # topic -> failure kind of its corrections
    cycles: list[CycleRuns]

    # -- the matrix ------------------------------------------------------------------------

    def cycle_results(self) -> list[Any]:
        """Each cycle's own held-out items (first seed), for qconsole.evaluation.cycles."""
        from qconsole.evaluation.cycles import CycleResults

        return [CycleResults.of(c.cycle, c.topics,
                                [r for r in c.run.items() if r.topic in self.topics
                                 and r.distance == "in-domain"])
                for c in self.cycles]

    def for_report(self) -> tuple[list[Any], list[Any]]:
        """(CycleResults, CycleInfo) per cycle, for qconsole.evaluation.report.build_report."""
        from qconsole.evaluation.store import CycleInfo

        infos = [CycleInfo(c.cycle, c.adapter, str((c.run.manifest.get("adapter") or {})
                                                   .get("created") or c.run.created),
                           c.run.run_id) for c in self.cycles]
        return self.cycle_results(), infos

    def matrix(self, reading: str = "flexible") -> Any:
        from qconsole.evaluation.cycles import accuracy_matrix

        return accuracy_matrix(self.cycle_results(), reading=reading)

    def gem(self, reading: str = "flexible") -> Any:
        from qconsole.evaluation.cycles import gem_metrics

        return gem_metrics(self.matrix(reading))

    # -- per cycle -------------------------------------------------------------------------

    def rows(self, c: CycleRuns) -> dict[str, Any]:
        """suite -> PairedComparison (flexible headline, ``strict`` inside) of cycle ``c``."""
        from qconsole.evaluation.rows import suite_rows

        return {r.suite: r for r in suite_rows(c.run.items())}

    def heldout_row(self, c: CycleRuns, topic: str) -> Any | None:
        return self.rows(c).get(f"heldout-{topic}")

    def transfer_rows(self, c: CycleRuns) -> list[Any]:
        return [r for name, r in self.rows(c).items() if name.startswith(("near-", "far-"))]

    def summary(self, c: CycleRuns) -> Any:
        from qconsole.evaluation.report import summarize

        return summarize(c.run)

    def failure_rates(self, c: CycleRuns) -> dict[str, tuple[int, int, tuple[float, float]]]:
        """kind -> (errors, n, 95% Wilson interval) over the cycle's held-out items."""
        from qconsole.evaluation.stats import wilson_interval

        items = [r for r in c.run.items() if r.topic in self.topics
                 and r.distance == "in-domain" and not r.meta.get("leak")]
        counts: dict[str, int] = {"format": 0}
        for kind in self.kinds.values():
            counts.setdefault(kind, 0)
        for r in items:
            side = r.meta.get("adapter") or {}
            if side.get("flexible", r.adapter_correct):
                continue
            kind = "format" if side.get("answer") is None else self.kinds.get(
                str(r.topic), "reasoning_step")
            counts[kind] = counts.get(kind, 0) + 1
        n = len(items)
        return {k: (v, n, wilson_interval(v, n)) for k, v in counts.items()}

    def seed_gains(self, topic: str) -> dict[int, list[float]]:
        """cycle -> the held-out flexible gain (adapter minus base) of each seed's adapter."""
        from qconsole.evaluation.rows import compare_suite

        out: dict[int, list[float]] = {}
        for c in self.cycles:
            for _, run in c.seed_runs:
                rs = [r for r in run.items() if r.suite == f"heldout-{topic}"]
                row = compare_suite(rs, suite=topic) if rs else None
                if row is not None:
                    out.setdefault(c.cycle, []).append(row.diff)
        return out


def spread(values: list[float]) -> tuple[float, float] | None:
    """(mean, population standard deviation) or None."""
    return (mean(values), pstdev(values)) if values else None


def _seconds(step: dict[str, Any]) -> float | None:
    from datetime import datetime

    try:
        return (datetime.fromisoformat(step["done_at"])
                - datetime.fromisoformat(step["started_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None


def growth_from_ledger(ledger: Ledger, evals: Path, plan_topics: dict[str, str] | None = None
                       ) -> Growth:
    """The growth of every cycle whose evaluation finished. ``plan_topics`` (topic -> failure
    kind) orders the columns; without it the topics are read from the runs."""
    from qconsole.evaluation.store import RunStore

    store = RunStore(evals)
    cycles: list[CycleRuns] = []
    if not plan_topics and isinstance(ledger.data.get("plan", {}).get("topics"), dict):
        plan_topics = dict(ledger.data["plan"]["topics"]) or None
    seen_topics: dict[str, None] = dict.fromkeys(plan_topics or {})
    for entry in ledger.cycles:
        k = int(entry["cycle"])
        ev = ledger.step(k, "evaluate")
        if not ev or not ev.get("runs"):
            continue
        runs = [(int(r["seed"]), store.get(r["run_id"])) for r in ev["runs"]]
        train = ledger.step(k, "train") or {}
        corr = ledger.step(k, "corrections") or {}
        walls = {name: s for name in entry.get("steps", {})
                 if (s := _seconds(entry["steps"][name])) is not None}
        first = {step: float(w) for step, w in (
            ("train", (train.get("adapters") or [{}])[0].get("wall_seconds")),
            ("evaluate", ev["runs"][0].get("wall_seconds")),
            ("base_pass", ev["runs"][0].get("base_pass_seconds"))) if w is not None}
        cycles.append(CycleRuns(
            cycle=k, topics=tuple(entry.get("topics") or ()), adapter=ev["runs"][0]["adapter"],
            run=runs[0][1], seed_runs=runs,
            train_seconds=sum(float(a.get("seconds") or 0) for a in train.get("adapters", [])),
            wall_seconds=walls, first_seed_seconds=first,
            corrections=len(corr.get("corrections", [])),
            sources=dict(corr.get("sources") or {})))
        if plan_topics is None:
            for r in runs[0][1].items():
                if r.distance == "in-domain" and r.topic:
                    seen_topics.setdefault(r.topic, None)
    plan = ledger.data.get("plan", {})
    return Growth(plan=str(plan.get("name")), plan_hash=str(plan.get("hash")),
                  topics=tuple(seen_topics), kinds=dict(plan_topics or {}), cycles=cycles)
