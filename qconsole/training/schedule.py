"""The optimizer-step schedule the SFT loop (loop.py) and the DPO loop (dpo_loop.py) share.

One place decides, for ``n_items`` training items: how many optimizer steps and epochs run
(``TrainSettings.total_steps``), which items each step takes (``epoch_order``: shuffled per
(seed, epoch), cut into ``batch_size * grad_accum``), the learning rate of each step (``lr_at``:
linear warmup, then constant, linear or cosine decay) set on the optimizer before the step, and
that ``should_stop`` is asked before each step, never after the last. What a step computes, and
its bookkeeping (losses, tokens, progress), stays with each loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from qconsole.training.packing import epoch_order
from qconsole.training.settings import TrainSettings


class TrainingCancelled(Exception):
    """Raised between steps when ``should_stop`` says so."""


def lr_at(step: int, total: int, settings: TrainSettings) -> float:
    """Learning rate for optimizer step ``step`` (0-based) of ``total``."""
    base = settings.learning_rate
    warmup = math.ceil(settings.warmup_ratio * total)
    if step < warmup:
        return base * (step + 1) / (warmup + 1)
    if settings.schedule == "constant":
        return base
    progress = (step - warmup) / max(1, total - warmup)
    if settings.schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * progress))
    return base * (1.0 - progress)


def batch_idx_pos(step: int, per_epoch: int) -> int:
    """Position (1-based) of global step ``step`` within its epoch."""
    return (step - 1) % per_epoch + 1


@dataclass(frozen=True)
class ScheduledStep:
    step: int  # 1-based: the number the step has once taken
    epoch: int  # 0-based
    batch: list[int]  # indices of the items it trains on
    lr: float  # already set on the optimizer's param groups


@dataclass(frozen=True)
class StepSchedule:
    """The steps of one training run over ``n_items`` items (at least one)."""

    n_items: int
    settings: TrainSettings

    @property
    def per_step(self) -> int:
        return self.settings.batch_size * self.settings.grad_accum

    @property
    def per_epoch(self) -> int:
        return math.ceil(self.n_items / self.per_step)

    @property
    def total_steps(self) -> int:
        return self.settings.total_steps(self.n_items)[0]

    @property
    def epochs(self) -> int:
        return self.settings.total_steps(self.n_items)[1]

    def epoch_progress(self, step: ScheduledStep) -> float:
        """Epochs done once ``step`` is taken (2.5: half way through the third)."""
        return step.epoch + batch_idx_pos(step.step, self.per_epoch) / self.per_epoch

    def steps(
        self, optimizer: Any = None, should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[ScheduledStep]:
        """Each step in order; before yielding one, raises ``TrainingCancelled`` if
        ``should_stop()`` says so and sets the step's learning rate on ``optimizer``."""
        total = self.total_steps
        done = 0
        for epoch in range(self.epochs):
            for batch in epoch_order(self.n_items, self.per_step, self.settings.seed, epoch):
                if done >= total:
                    return
                if should_stop is not None and should_stop():
                    raise TrainingCancelled()
                lr = lr_at(done, total, self.settings)
                if optimizer is not None:
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                done += 1
                yield ScheduledStep(step=done, epoch=epoch, batch=batch, lr=lr)
