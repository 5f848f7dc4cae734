"""Progress and ETA of an evaluation run, as the job protocol's ``progress`` events.

Every item is asked of the base and of the adapter, so a run has twice as many steps as items;
the ETA is per suite and for the whole run, throttled to a few events a second.
"""

from __future__ import annotations

import time

from qconsole.jobs.events import Emit


class Progress:
    """Per-suite progress and ETA, throttled to a few events a second."""

    def __init__(self, emit: Emit, total_items: int) -> None:
        self.emit = emit
        self.total_steps = 2 * total_items  # each item is asked of base and adapter
        self.steps_before = 0
        self.run_start = time.monotonic()
        self._last = 0.0
        self.suite = ""
        self.suite_total = 0
        self.suite_start = 0.0

    def begin_suite(self, suite: str, n_items: int) -> None:
        self.suite, self.suite_total = suite, n_items
        self.suite_start = time.monotonic()

    def update(self, side: str, done_items: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        offset = 0 if side == "base" else self.suite_total
        suite_done = offset + done_items
        suite_steps = 2 * self.suite_total
        step = self.steps_before + suite_done
        elapsed = now - self.suite_start
        eta = elapsed / suite_done * (suite_steps - suite_done) if suite_done > 0 else None
        run_elapsed = now - self.run_start
        run_eta = run_elapsed / step * (self.total_steps - step) if step > 0 else None
        self.emit(
            "progress",
            step=int(step),
            total_steps=self.total_steps,
            suite=self.suite,
            side=side,
            suite_done=int(suite_done),
            suite_total=suite_steps,
            eta_s=round(eta, 1) if eta is not None else None,
            run_eta_s=round(run_eta, 1) if run_eta is not None else None,
        )

    def end_suite(self) -> None:
        self.steps_before += 2 * self.suite_total
