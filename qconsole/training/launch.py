"""Starting ``qconsole train`` from the console, and following it.

``train_argv`` turns a :class:`TrainSettings` (what the launch dialog edits) into the command's
flags, in one place, so the dialog and the CLI cannot drift apart; ``start_training`` starts the
job through qconsole.jobs. ``TrainingState`` folds the job's events into what a training pane
shows: phase, progress and ETA, the loss curve, the log tail, the result. No Textual and no
torch here.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from qconsole.jobs import JobHandle, qconsole_argv, start_job
from qconsole.jobs.events import JobEvent
from qconsole.training.settings import TrainSettings

# TrainSettings field -> ``qconsole train`` flag (target_modules is --targets, preset --preset).
FLAG_FOR = {
    "rank": "--rank", "alpha": "--alpha", "dropout": "--dropout",
    "learning_rate": "--lr", "epochs": "--epochs", "batch_size": "--batch-size",
    "grad_accum": "--grad-accum", "min_steps": "--min-steps", "max_steps": "--max-steps",
    "max_seq_len": "--max-seq-len", "warmup_ratio": "--warmup-ratio", "schedule": "--schedule",
    "weight_decay": "--weight-decay", "max_grad_norm": "--max-grad-norm", "seed": "--seed",
    "bf16": "--bf16", "threads": "--threads", "backend": "--backend",
}


def train_argv(
    settings: TrainSettings,
    *,
    model: str | None = None,
    template: str | None = None,
    sessions_dir: str | os.PathLike[str] | None = None,
    adapters_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    replay: str | os.PathLike[str] | None = None,
    replay_max: int | None = None,
    include_preferences: bool = False,
    verify: bool = True,
    dry_run: bool = False,
    progress: str = "-",
) -> list[str]:
    """The full argv (this interpreter, ``-m qconsole train ...``) for these settings."""
    args = ["train", "--preset", settings.preset]
    for f in fields(settings):
        flag = FLAG_FOR.get(f.name)
        value = getattr(settings, f.name)
        if flag is not None and value is not None:
            args += [flag, str(value)]
    args += ["--targets", ",".join(settings.target_modules)]
    for flag, value in (("--model", model), ("--template", template),
                        ("--sessions", sessions_dir), ("--adapters", adapters_dir),
                        ("--name", name), ("--replay", replay), ("--replay-max", replay_max)):
        if value is not None:
            args += [flag, str(value)]
    if include_preferences:
        args.append("--preferences")
    if not verify:
        args.append("--no-verify")
    if dry_run:
        args.append("--dry-run")
    args += ["--progress-jsonl", progress]
    return qconsole_argv(*args)


def start_training(
    settings: TrainSettings, log_dir: str | os.PathLike[str], **options: Any
) -> JobHandle:
    """Start ``qconsole train`` in the background; its log and events go to ``log_dir``."""
    from datetime import datetime

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log = Path(log_dir) / f"train-{stamp}-{os.getpid()}.log"
    return start_job(train_argv(settings, **options), log)


@dataclass
class TrainingState:
    """What a training pane shows, updated one event at a time with :meth:`apply`."""

    status: str = "starting"  # starting | running | done | error | cancelled
    phase: str = "prepare"
    message: str = ""
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None
    lr: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    summary_lines: list[str] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    result: JobEvent | None = None

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "error", "cancelled")

    @property
    def adapter(self) -> str | None:
        return self.result.get("adapter") if self.result and self.status == "done" else None

    def apply(self, ev: JobEvent) -> None:
        kind = ev.get("event")
        if kind == "start":
            self.status = "running"
            self.total_steps = int(ev.get("total_steps") or 0)
            self.summary_lines = list(ev.get("summary_lines") or [])
            self.preview = list(ev.get("preview") or [])
            self.log.extend(self.summary_lines)
        elif kind == "phase":
            self.phase = str(ev.get("phase") or self.phase)
            self.message = str(ev.get("message") or "")
            self.log.append(self.message)
        elif kind == "progress":
            self.status, self.phase = "running", "train"
            self.step = int(ev.get("step") or 0)
            self.total_steps = int(ev.get("total_steps") or self.total_steps)
            self.epoch = float(ev.get("epoch") or 0.0)
            self.loss, self.lr = ev.get("loss"), ev.get("lr")
            self.tokens_per_s, self.eta_s = ev.get("tokens_per_s"), ev.get("eta_s")
            if isinstance(self.loss, int | float):
                self.losses.append((self.step, float(self.loss)))
        elif kind == "log":
            prefix = "warning: " if ev.get("level") == "warning" else ""
            self.log.append(prefix + str(ev.get("message", "")))
        elif kind in ("done", "error", "cancelled"):
            self.status = str(kind)
            self.result = ev
            self.message = str(ev.get("message") or "")
            if kind == "done" and ev.get("adapter"):
                self.message = f"adapter {ev['adapter']} ready"
            self.log.append(self.message or str(kind))
