"""The training loop: plain PyTorch over padding-free rows, the same on CPU and CUDA.

Why not ``transformers.Trainer`` / TRL: their collators pad every batch and compute logits for
every position, and their per-step bookkeeping (metrics, callbacks, accelerate) costs time a
2-core CPU does not have; benchmarks/train.py measures the difference. What is kept from them:
AdamW on the trainable (LoRA) parameters only, linear warmup then linear or cosine decay,
gradient clipping, the loss averaged over all trained tokens of an optimizer step.

Precision: the LoRA weights and optimizer state stay fp32 (the master weights); with bf16 on,
the forward pass runs under ``torch.autocast(bfloat16)``, about twice the speed on a CPU with
AVX512-BF16 (measured single-thread here: 215 vs 113 tokens/s on Gemma 3 270M).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qconsole.training.dataset import TokenizedExample
from qconsole.training.packing import (
    DEFAULT_ROW_TOKENS,
    attention_for,
    can_share_prefixes,
    pack_rows,
)
from qconsole.training.schedule import ScheduledStep, StepSchedule, TrainingCancelled, lr_at
from qconsole.training.settings import TrainSettings

__all__ = [  # TrainingCancelled and lr_at live in schedule.py; their importers find them here too
    "LoopResult", "StepInfo", "TrainingCancelled", "lr_at", "make_optimizer", "step_info",
    "train_loop",
]


@dataclass(frozen=True)
class StepInfo:
    step: int
    total_steps: int
    epoch: float
    loss: float
    lr: float
    tokens: int  # all tokens processed so far (prompt and reply)
    tokens_per_s: float
    eta_s: float
    elapsed_s: float

    def to_event_fields(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "total_steps": self.total_steps,
            "epoch": round(self.epoch, 4),
            "loss": round(self.loss, 5),
            "lr": self.lr,
            "tokens_per_s": round(self.tokens_per_s, 1),
            "eta_s": round(self.eta_s, 1),
            "elapsed_s": round(self.elapsed_s, 2),
        }


@dataclass
class LoopResult:
    steps: int
    epochs: int
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    trained_tokens: int = 0
    shared_tokens: int = 0  # of ``tokens``, those a shared-prefix row computed only once
    elapsed_s: float = 0.0

    @property
    def final_loss(self) -> float:
        """Mean loss of the last epoch's steps (one step's loss is too noisy to report)."""
        per_epoch = max(1, math.ceil(self.steps / max(1, self.epochs)))
        tail = self.losses[-per_epoch:]
        return sum(tail) / len(tail) if tail else float("nan")

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "epochs": self.epochs,
            "final_loss": self.final_loss,
            "first_loss": self.losses[0] if self.losses else None,
            "last_step_loss": self.losses[-1] if self.losses else None,
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "shared_tokens": self.shared_tokens,
            "elapsed_s": round(self.elapsed_s, 2),
            "tokens_per_s": round(self.tokens_per_s, 1),
        }


def step_info(
    schedule: StepSchedule, step: ScheduledStep, loss: float, result: LoopResult,
) -> StepInfo:
    """Progress once ``step`` is taken, from the run's totals so far in ``result``."""
    elapsed = result.elapsed_s
    return StepInfo(
        step=step.step,
        total_steps=schedule.total_steps,
        epoch=schedule.epoch_progress(step),
        loss=loss,
        lr=step.lr,
        tokens=result.tokens,
        tokens_per_s=result.tokens / elapsed if elapsed > 0 else 0.0,
        eta_s=elapsed / step.step * (schedule.total_steps - step.step),
        elapsed_s=elapsed,
    )


def make_optimizer(params: list[Any], settings: TrainSettings) -> Any:
    """AdamW on the trainable (LoRA) parameters: the SFT and the DPO loop's one optimizer."""
    import torch

    return torch.optim.AdamW(
        params, lr=settings.learning_rate, weight_decay=settings.weight_decay,
        betas=(0.9, 0.999), eps=1e-8,
    )


def train_loop(
    model: Any,
    examples: Sequence[TokenizedExample],
    settings: TrainSettings,
    *,
    device: str = "cpu",
    autocast_dtype: Any = None,
    row_tokens: int = DEFAULT_ROW_TOKENS,
    model_loss: bool = False,
    share_prefixes: bool = True,
    on_step: Callable[[StepInfo], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    sync_grads: Callable[[list[Any]], None] | None = None,
) -> LoopResult:
    """Train the trainable parameters of ``model`` (a PEFT model) on ``examples``.

    ``model_loss``: one example per forward pass, the loss computed by the model from
    ``labels`` (for patched models such as Unsloth's, whose fused loss is the point and whose
    attention may not honour packed ``position_ids``); otherwise packed rows and logits only at
    trained positions.

    ``share_prefixes``: rows hold the examples' common prompt prefixes once (packing.py), where
    the model's attention takes the mask that needs; the loss is the same, the work less.

    ``sync_grads``: called with the trainable parameters once per optimizer step, after the
    step's backward passes and before clipping; data-parallel training averages the gradients
    across processes there (ddp_worker.py), so each process may pack its rows its own way.
    """
    import torch
    import torch.nn.functional as F

    if not examples:
        raise ValueError("no examples to train on")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (no LoRA attached?)")
    torch.manual_seed(settings.seed)
    optimizer = make_optimizer(params, settings)
    schedule = StepSchedule(len(examples), settings)
    result = LoopResult(steps=0, epochs=schedule.epochs)
    model.train()
    share = share_prefixes and not model_loss and can_share_prefixes(model)
    start = time.perf_counter()
    for sched in schedule.steps(optimizer, should_stop):
        step = sched.step
        rows = pack_rows(
            [examples[i] for i in sched.batch], row_tokens=0 if model_loss else row_tokens,
            share_prefixes=share,
        )
        n_targets = sum(r.n_targets for r in rows)
        loss_sum = 0.0
        for row in rows:
            autocast = (
                torch.autocast(device_type=device.split(":")[0], dtype=autocast_dtype)
                if autocast_dtype is not None else contextlib.nullcontext()
            )
            with autocast:
                if model_loss:
                    out = model(
                        input_ids=row.input_ids.to(device),
                        labels=row.labels.to(device),
                        use_cache=False,
                    )
                    loss = out.loss.float() * row.n_targets  # the model's mean, as a sum
                else:
                    out = model(
                        input_ids=row.input_ids.to(device),
                        position_ids=row.position_ids.to(device),
                        attention_mask=_on(attention_for(row, model), device),
                        logits_to_keep=row.keep.to(device),
                        use_cache=False,
                    )
            if not model_loss:
                logits = out.logits[0].float()
                loss = F.cross_entropy(logits, row.targets.to(device), reduction="sum")
                del logits
            (loss / n_targets).backward()
            loss_sum += float(loss.detach())
            result.tokens += row.n_tokens + row.shared_tokens  # the examples' own tokens
            result.shared_tokens += row.shared_tokens
            result.trained_tokens += row.n_targets
            del out, loss
        if sync_grads is not None:
            sync_grads(params)
        if settings.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_loss = loss_sum / n_targets
        if not math.isfinite(step_loss):
            raise FloatingPointError(
                f"the loss became {step_loss} at step {step}: lower the learning rate"
            )
        result.losses.append(step_loss)
        result.steps = step
        result.elapsed_s = time.perf_counter() - start
        if on_step is not None:
            on_step(step_info(schedule, sched, step_loss, result))
    model.eval()
    result.elapsed_s = time.perf_counter() - start
    return result


def _on(mask: Any, device: str) -> Any:
    """``attention_for``'s mask (None, a tensor or a mapping of them) on ``device``."""
    if isinstance(mask, dict):
        return {kind: m.to(device) for kind, m in mask.items()}
    return None if mask is None else mask.to(device)

