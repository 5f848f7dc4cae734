"""The shared shape of every training backend: the job it is given, the result it returns,
the protocol it satisfies, and the pieces each uses (the LoRA config, the target check, loading
the base).

Why apart from backends.py: the backends (peft_backend.py, unsloth_backend.py, ddp_backend.py)
import these, and backends.py imports the backends to choose one; with both halves in one
module, backends.py and unsloth_backend.py imported each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qconsole.errors import QConsoleError
from qconsole.training.dataset import TokenizedExample
from qconsole.training.dpo_data import TokenizedPair
from qconsole.training.loop import LoopResult, StepInfo
from qconsole.training.settings import TrainSettings


@dataclass
class BackendJob:
    """Everything a backend needs for one run."""

    gguf_path: Path
    examples: list[TokenizedExample]
    settings: TrainSettings
    out_dir: Path
    hf_model_dir: Path | None = None  # train on these HF weights instead of the dequantised GGUF
    on_step: Callable[[StepInfo], None] | None = None
    should_stop: Callable[[], bool] | None = None
    log: Callable[[str], None] = lambda message: None
    objective: str = "sft"  # dpo / sft+dpo train on ``pairs`` (dpo_loop.py); ``examples`` empty
    pairs: list[TokenizedPair] | None = None


@dataclass
class BackendResult:
    backend: str
    device: str
    precision: str
    loop: LoopResult
    details: dict[str, Any] = field(default_factory=dict)
    model: Any = None  # the trained PEFT model, when it is fp32 on the CPU (reused to verify)


class TrainingBackend(Protocol):
    name: str

    def check(self) -> str | None:
        """None when usable here, else one line saying why not."""

    def prepare(self) -> None:
        """Called before anything imports transformers (Unsloth must patch it first)."""

    def train(self, job: BackendJob) -> BackendResult: ...


def lora_config(settings: TrainSettings, *, task_type: str = "CAUSAL_LM") -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,  # type: ignore[arg-type]  # PEFT says int, takes any float
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
        task_type=task_type,
    )


def check_targets(model: Any, settings: TrainSettings) -> None:
    """Every requested target must exist in the base: a typo would otherwise train nothing."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in settings.target_modules if t not in names]
    if missing:
        raise QConsoleError(
            f"this model has no module named {', '.join(missing)}; "
            f"its linear layers are named like {', '.join(sorted(_linear_names(model))[:8])}"
        )


def _linear_names(model: Any) -> set[str]:
    import torch

    return {
        name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
        if isinstance(mod, torch.nn.Linear) and "lm_head" not in name
    }


def load_base_for_training(job: BackendJob, dtype: Any) -> Any:
    """The base model as a trainable transformers model (weights frozen, eval mode)."""
    if job.hf_model_dir is not None:
        from transformers import AutoModelForCausalLM

        try:
            model = AutoModelForCausalLM.from_pretrained(str(job.hf_model_dir), dtype=dtype)
        except (OSError, ValueError) as exc:
            raise QConsoleError(f"cannot load HF weights from {job.hf_model_dir}: {exc}") from exc
        return model
    from qconsole.hf.gguf_model import load_hf_model

    hf_model, _ = load_hf_model(job.gguf_path, dtype=dtype)
    return hf_model
