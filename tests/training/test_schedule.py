"""The step schedule both training loops run on (schedule.py): which items each optimizer step
takes, its learning rate, when it stops and when it is cancelled. No model: the schedule is
pure bookkeeping, and the loops' own tests (test_training.py, test_dpo.py) train through it."""

from __future__ import annotations

import itertools
import math

import pytest

from qconsole.training.packing import epoch_order
from qconsole.training.schedule import StepSchedule, TrainingCancelled, batch_idx_pos, lr_at
from qconsole.training.settings import settings_for


class Groups:
    """What the schedule touches of an optimizer: its param groups' learning rates."""

    def __init__(self) -> None:
        self.param_groups = [{"lr": None}, {"lr": None}]


def _old_loop_steps(n, settings, optimizer, should_stop):
    """The bookkeeping loop.py and dpo_loop.py each had before schedule.py, as it was."""
    per_step = settings.batch_size * settings.grad_accum
    total_steps, epochs = settings.total_steps(n)
    per_epoch = math.ceil(n / per_step)
    out, step = [], 0
    for epoch in range(epochs):
        for batch_idx in epoch_order(n, per_step, settings.seed, epoch):
            if step >= total_steps:
                break
            if should_stop is not None and should_stop():
                raise TrainingCancelled()
            lr = lr_at(step, total_steps, settings)
            for group in optimizer.param_groups:
                group["lr"] = lr
            step += 1
            out.append((step, epoch, batch_idx, lr,
                        epoch + batch_idx_pos(step, per_epoch) / per_epoch))
    return out


GRID = list(itertools.product(
    [1, 5, 10, 13],  # items
    [{"batch_size": 4, "epochs": 3, "min_steps": 0},
     {"batch_size": 2, "grad_accum": 2, "epochs": 1, "min_steps": 12},  # tiny sets: more passes
     {"batch_size": 2, "epochs": 3, "min_steps": 0, "max_steps": 4},  # cut mid-epoch
     {"batch_size": 3, "epochs": 2, "min_steps": 0, "schedule": "cosine", "warmup_ratio": 0.3},
     {"batch_size": 1, "epochs": 2, "min_steps": 0, "schedule": "constant", "seed": 7}],
))


@pytest.mark.parametrize(("n", "overrides"), GRID)
def test_the_schedule_is_the_loops_old_bookkeeping(n, overrides):
    settings = settings_for(**overrides)
    schedule = StepSchedule(n, settings)
    new_opt, old_opt = Groups(), Groups()
    new = [(s.step, s.epoch, s.batch, s.lr, schedule.epoch_progress(s))
           for s in schedule.steps(new_opt)]
    assert new == _old_loop_steps(n, settings, old_opt, None)
    assert new_opt.param_groups == old_opt.param_groups
    assert (len(new), schedule.epochs) == settings.total_steps(n)
    assert schedule.total_steps == len(new)


def test_each_epoch_takes_every_item_once_in_a_seeded_order():
    settings = settings_for(batch_size=3, epochs=2, min_steps=0, seed=3)
    steps = list(StepSchedule(7, settings).steps())
    epochs = [[i for s in steps if s.epoch == e for i in s.batch] for e in (0, 1)]
    assert [sorted(e) for e in epochs] == [list(range(7))] * 2
    assert epochs[0] != epochs[1]  # reshuffled per epoch
    again = list(StepSchedule(7, settings).steps())
    assert [s.batch for s in again] == [s.batch for s in steps]
    other = list(StepSchedule(7, settings_for(batch_size=3, epochs=2, min_steps=0, seed=4)).steps())
    assert [s.batch for s in other] != [s.batch for s in steps]


def test_the_lr_is_set_on_the_optimizer_before_each_step():
    settings = settings_for(batch_size=1, epochs=1, min_steps=0, warmup_ratio=0.25)
    opt = Groups()
    seen = []
    for s in StepSchedule(8, settings).steps(opt):
        assert all(g["lr"] == s.lr for g in opt.param_groups)
        seen.append(s.lr)
    assert seen == [lr_at(i, 8, settings) for i in range(8)]
    # two warm-up steps (ceil(0.25 * 8)), then linear decay from the full rate
    assert seen[0] < seen[1] < seen[2] == max(seen) == settings.learning_rate
    assert seen[2:] == sorted(seen[2:], reverse=True) and seen[-1] > 0


def test_should_stop_is_asked_before_each_step_and_cancels():
    settings = settings_for(batch_size=1, epochs=2, min_steps=0)
    asked = []

    def stop_at_third() -> bool:
        asked.append(1)
        return len(asked) == 3

    taken = []
    with pytest.raises(TrainingCancelled):
        for s in StepSchedule(4, settings).steps(None, stop_at_third):
            taken.append(s.step)
    assert taken == [1, 2] and len(asked) == 3


def test_should_stop_is_not_asked_after_the_last_step():
    settings = settings_for(batch_size=2, epochs=3, min_steps=0, max_steps=4)
    asked = []
    steps = list(StepSchedule(6, settings).steps(None, lambda: asked.append(1) or False))
    assert len(steps) == len(asked) == 4
    assert [s.epoch for s in steps] == [0, 0, 0, 1]  # cut in the second epoch
