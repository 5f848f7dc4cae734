"""Starting ``qconsole train`` from the console, and following it.

One launch path: the console, the CLI and the tests describe a run with the same request object
(:class:`qconsole.training.request.TrainRequest`, what ``qconsole train`` parses its flags
into); :func:`request_argv` turns it back into the command's flags, in one place, so the dialog
and the CLI cannot drift apart, and :func:`start_training` starts the job through
qconsole.jobs. ``TrainingState`` folds a job's events into what a jobs pane shows: phase,
progress and ETA, the loss curve, the log tail, an evaluation's finished suites, the result.
No Textual and no torch here.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from qconsole.jobs import JobHandle, qconsole_argv, start_job
from qconsole.jobs.events import JobEvent
from qconsole.training.request import TrainRequest
from qconsole.training.settings import TrainSettings

# TrainSettings field -> ``qconsole train`` flag (target_modules is --targets, preset --preset).
FLAG_FOR = {
    "rank": "--rank", "alpha": "--alpha", "dropout": "--dropout",
    "learning_rate": "--lr", "epochs": "--epochs", "batch_size": "--batch-size",
    "grad_accum": "--grad-accum", "min_steps": "--min-steps", "max_steps": "--max-steps",
    "max_seq_len": "--max-seq-len", "warmup_ratio": "--warmup-ratio", "schedule": "--schedule",
    "weight_decay": "--weight-decay", "max_grad_norm": "--max-grad-norm", "seed": "--seed",
    "bf16": "--bf16", "threads": "--threads", "backend": "--backend",
    "beta": "--beta", "sft_weight": "--sft-weight",
}
PathLike = str | os.PathLike[str]


def train_argv(
    settings: TrainSettings,
    *,
    objective: str = "sft",
    model: str | None = None,
    template: str | None = None,
    sessions_dir: PathLike | None = None,
    session_ids: list[str] | None = None,
    kind: str | None = None,
    adapters_dir: PathLike | None = None,
    hf_model_dir: PathLike | None = None,
    name: str | None = None,
    replay: PathLike | None = None,
    replay_max: int | None = None,
    include_preferences: bool = False,
    verify: bool = True,
    dry_run: bool = False,
    preview: int | None = None,
    quiet: bool = False,
    progress: str = "-",
) -> list[str]:
    """The full argv (this interpreter, ``-m qconsole train ...``) for these settings."""
    args = ["train", "--objective", objective, "--preset", settings.preset]
    for f in fields(settings):
        flag = FLAG_FOR.get(f.name)
        value = getattr(settings, f.name)
        if flag is not None and value is not None:
            args += [flag, str(value)]
    args += ["--targets", ",".join(settings.target_modules)]
    for flag, value in (("--model", model), ("--template", template),
                        ("--sessions", sessions_dir), ("--kind", kind),
                        ("--adapters", adapters_dir), ("--hf-model", hf_model_dir),
                        ("--name", name), ("--replay", replay), ("--replay-max", replay_max),
                        ("--preview", preview)):
        if value is not None:
            args += [flag, str(value)]
    for session_id in session_ids or ():
        args += ["--session", session_id]
    if include_preferences:
        args.append("--preferences")
    if not verify:
        args.append("--no-verify")
    if dry_run:
        args.append("--dry-run")
    if quiet:
        args.append("--quiet")
    args += ["--progress-jsonl", progress]
    return qconsole_argv(*args)


def request_argv(request: TrainRequest, *, quiet: bool = False, progress: str = "-") -> list[str]:
    """The argv that makes ``qconsole train`` parse exactly ``request`` again."""
    if request.examples is not None:
        raise ValueError("a request with examples given directly cannot run as a job")
    return train_argv(
        request.settings, objective=request.objective, model=request.model,
        template=request.template,
        sessions_dir=request.sessions_dir, session_ids=request.session_ids, kind=request.kind,
        adapters_dir=request.adapters_root, hf_model_dir=request.hf_model_dir,
        name=request.name, replay=request.replay, replay_max=request.replay_max,
        include_preferences=request.include_preferences, verify=request.verify,
        dry_run=request.dry_run, preview=request.preview, quiet=quiet, progress=progress,
    )


def start_training(
    request: TrainRequest, log_dir: PathLike, *, quiet: bool = True
) -> JobHandle:
    """Start ``qconsole train`` for ``request`` in the background; its log and events go to
    ``log_dir``."""
    from datetime import datetime

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log = Path(log_dir) / f"train-{stamp}-{os.getpid()}.log"
    return start_job(request_argv(request, quiet=quiet), log)


@dataclass
class TrainingState:
    """What a jobs pane shows of one job, updated one event at a time with :meth:`apply`.

    The job protocol (qconsole.jobs.events) is shared by training and evaluation, so one state
    machine folds both: an evaluation's progress also names its ``suite`` and each finished
    suite's ``comparison`` is kept in :attr:`comparisons`."""

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
    suite: str | None = None  # evaluation: the suite in progress
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # evaluation: finished suites
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
            if ev.get("suite"):
                self.suite = str(ev["suite"])
            named = f"{self.phase}: {self.suite}" if ev.get("suite") else self.phase
            self.log.append(self.message or named)
        elif kind == "progress":
            self.suite = str(ev["suite"]) if ev.get("suite") else None
            self.status, self.phase = "running", "suite" if self.suite else "train"
            self.step = int(ev.get("step") or 0)
            self.total_steps = int(ev.get("total_steps") or self.total_steps)
            self.epoch = float(ev.get("epoch") or 0.0)
            self.loss, self.lr = ev.get("loss"), ev.get("lr")
            self.tokens_per_s, self.eta_s = ev.get("tokens_per_s"), ev.get("eta_s")
            if isinstance(self.loss, int | float):
                self.losses.append((self.step, float(self.loss)))
        elif kind == "suite_done":
            if isinstance(ev.get("comparison"), dict):
                self.comparisons.append(ev["comparison"])
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
