"""What every step of a cycle shares: the plan, the ledger, where things live, how to talk.

Why one object: steps are plain functions ``step(ctx, k) -> dict`` (the dict goes into the
ledger), so the runner can run, skip or replace any of them (the tests inject their own), and
a step needs no more than this to find its inputs: earlier steps' results are read back from
the ledger, never passed along in memory, which is what makes resuming after a kill exact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qconsole.cycles.ledger import Ledger
from qconsole.cycles.plan import CyclePlan


class WaitingForReview(Exception):  # noqa: N818 - a state the command reports, not a failure
    """A human queue holds items nobody has reviewed yet: the cycle stops here, and resumes
    from this step once they are rewritten in the console."""

    def __init__(self, cycle: int, pending: list[str]) -> None:
        super().__init__(f"cycle {cycle}: {len(pending)} item(s) wait for review")
        self.cycle = cycle
        self.pending = pending


@dataclass
class CycleContext:
    plan: CyclePlan
    ledger: Ledger
    workspace: Path
    sessions: Path
    adapters: Path
    evals: Path
    say: Callable[[str], None] = print
    cancel: threading.Event = field(default_factory=threading.Event)
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        """The plan's own folder beside the ledger (probe records, reports)."""
        return self.ledger.folder

    def adapter_name(self, k: int, seed: int) -> str:
        """Deterministic, so a killed training is found again instead of trained twice."""
        return f"{self.plan.name}-c{k}-s{seed}-{self.plan.hash[:6]}"

    def run_id(self, k: int, seed: int) -> str:
        return f"cycle-{self.plan.name}-c{k}-s{seed}-{self.plan.hash[:8]}"

    def model_before(self, k: int) -> str | None:
        """The adapter the cycle probes: the previous cycle's first-seed adapter (None: base)."""
        if k <= 1:
            return None
        train = self.ledger.step(k - 1, "train")
        if not train:
            raise RuntimeError(f"cycle {k - 1} has no finished training")
        return str(train["adapters"][0]["name"])

    def accumulated_sessions(self, k: int) -> list[str]:
        """Every correction session of cycles 1..k: what cycle k's fresh adapter trains on."""
        out: list[str] = []
        for j in range(1, k + 1):
            step = self.ledger.step(j, "corrections") or {}
            out.extend(c["session"] for c in step.get("corrections", []))
        return list(dict.fromkeys(out))

    def accumulated_ids(self, k: int) -> list[str]:
        out: list[str] = []
        for j in range(1, k + 1):
            step = self.ledger.step(j, "corrections") or {}
            out.extend(c["id"] for c in step.get("corrections", []))
        return out
