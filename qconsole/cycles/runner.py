"""Running a plan: every cycle's steps in order, skipping what the ledger says is finished.

Steps are ``(name, function(ctx, k) -> dict)`` pairs (:data:`DEFAULT_STEPS`); the dict a step
returns is its ledger entry. Before a step runs, the ledger records that it started; after,
what it produced and when it finished (one atomic write each). A kill at any moment therefore
leaves the ledger naming the last finished step, and the next ``qconsole cycle`` continues with
the step after it; the unfinished step is run again, and is written so that this repeats no
finished work (idempotent correction ids, adapters and runs found by their deterministic
names). A human queue that is not reviewed yet stops the run (:class:`WaitingForReview`),
and the next run continues from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qconsole.cycles.context import CycleContext, WaitingForReview
from qconsole.cycles.ledger import STEP_NAMES

Step = tuple[str, Callable[[CycleContext, int], dict[str, Any]]]


def record_step(ctx: CycleContext, k: int) -> dict[str, Any]:
    """The cycle's verdicts as the ledger keeps them: per trained topic the held-out gain with
    its interval and p, transfer rows, the forgetting panel, GEM metrics so far."""
    from qconsole.cycles.growth import growth_from_ledger

    growth = growth_from_ledger(ctx.ledger, ctx.evals)
    c = next(c for c in growth.cycles if c.cycle == k)
    rows = growth.rows(c)

    def row(r: Any) -> dict[str, Any]:
        return {"n": r.n, "base": r.base_acc, "adapter": r.adapter_acc, "diff": r.diff,
                "diff_ci": list(r.diff_ci), "p": r.p_value, "label": r.label}

    trained = {t: row(rows[f"heldout-{t}"]) for t in c.topics if f"heldout-{t}" in rows}
    summary = growth.summary(c)
    forgetting = None
    if summary.forgetting is not None:
        fc = summary.forgetting
        forgetting = {"diff_points": fc.diff_points, "status": fc.status,
                      "n": fc.comparison.n, "ci": list(fc.comparison.diff_ci)}
    gem = growth.gem()
    for t, r in trained.items():
        lo, hi = r["diff_ci"]
        ctx.say(f"cycle {k}: {t} held-out {100 * r['base']:.1f}% -> {100 * r['adapter']:.1f}% "
                f"({100 * r['diff']:+.1f} pp, 95% CI {100 * lo:+.1f}..{100 * hi:+.1f}, "
                f"p={r['p']:.2g}, {r['label']})")
    return {"trained": trained,
            "transfer": {r.suite: row(r) for r in growth.transfer_rows(c)},
            "forgetting": forgetting,
            "bleed": summary.bleed.to_dict() if summary.bleed is not None else None,
            "gem": {"acc": gem.acc, "bwt": gem.bwt, "fwt": gem.fwt}}


def default_steps() -> list[Step]:
    from qconsole.cycles.corrections import corrections_step
    from qconsole.cycles.probe import check_step, probe_step
    from qconsole.cycles.train_eval import evaluate_step, train_step

    return [("probe", probe_step), ("check", check_step), ("corrections", corrections_step),
            ("train", train_step), ("evaluate", evaluate_step), ("record", record_step)]


@dataclass
class Outcome:
    status: str  # "done" | "waiting"
    ran: list[tuple[int, str]]  # (cycle, step) actually run this time
    skipped: list[tuple[int, str]]  # finished earlier, not run again
    waiting: WaitingForReview | None = None


def run_plan(ctx: CycleContext, steps: Sequence[Step] | None = None,
             *, until_cycle: int | None = None) -> Outcome:
    """Run (or resume) every cycle of the plan, or up to ``until_cycle``."""
    steps = list(steps if steps is not None else default_steps())
    names = [n for n, _ in steps]
    if names != list(STEP_NAMES):
        raise ValueError(f"steps must be {', '.join(STEP_NAMES)} in order, got {names}")
    ran: list[tuple[int, str]] = []
    skipped: list[tuple[int, str]] = []
    last = ctx.plan.n_cycles if until_cycle is None else min(until_cycle, ctx.plan.n_cycles)
    for k, topics in enumerate(ctx.plan.cycle_topics()[:last], start=1):
        ctx.ledger.cycle(k, topics=topics)
        for name, fn in steps:
            if ctx.ledger.step(k, name) is not None:
                skipped.append((k, name))
                continue
            ctx.ledger.start_step(k, name)
            try:
                result = fn(ctx, k)
            except WaitingForReview as waiting:
                return Outcome("waiting", ran, skipped, waiting)
            ctx.ledger.finish_step(k, name, result)
            ran.append((k, name))
    return Outcome("done", ran, skipped)
