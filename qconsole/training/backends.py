"""Training backends behind one interface: each trains a fresh LoRA on a base model and writes
a standard PEFT adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``).

- ``cpu``: transformers + PEFT on the dequantised GGUF (or HF weights the person names), the
  padding-free loop of loop.py, bf16 autocast where the CPU has it.
- ``unsloth``: CUDA only, when the ``gpu`` extra is installed (see unsloth_backend.py).

``auto`` picks Unsloth when a CUDA GPU and Unsloth are both present, transformers + PEFT on the
GPU when only CUDA is, the CPU path otherwise.
A fresh adapter every time: each cycle trains from the base on the whole accumulated set
(ReST-EM, arXiv 2312.06585; LLM2LLM, arXiv 2403.15042), never on top of the last adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qconsole.errors import QConsoleError
from qconsole.training.dataset import TokenizedExample
from qconsole.training.hardware import cuda_available, unsloth_installed, use_bf16
from qconsole.training.loop import LoopResult, StepInfo, train_loop
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


class CpuPeftBackend:
    """transformers + PEFT with our padding-free loop; also runs on CUDA without Unsloth."""

    name = "cpu"

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        if device != "cpu":
            self.name = f"peft-{device.split(':')[0]}"

    def check(self) -> str | None:
        return None

    def prepare(self) -> None:
        return None

    def train(self, job: BackendJob) -> BackendResult:
        import torch
        from peft import get_peft_model

        s = job.settings
        if s.threads:
            torch.set_num_threads(s.threads)
        bf16 = use_bf16(s.bf16, self.device)
        job.log(f"loading the base model {job.gguf_path.name} for training")
        model = load_base_for_training(job, torch.float32)
        check_targets(model, s)
        torch.manual_seed(s.seed)
        model = get_peft_model(model, lora_config(s))
        model.to(self.device)
        trainable, total = model.get_nb_trainable_parameters()
        job.log(
            f"fresh LoRA: {trainable / 1e6:.2f}M trainable of {total / 1e6:.0f}M parameters; "
            f"{'bf16 autocast' if bf16 else 'fp32'} on {self.device}, "
            f"{torch.get_num_threads()} threads"
        )
        loop = train_loop(
            model, job.examples, s,
            device=self.device,
            autocast_dtype=torch.bfloat16 if bf16 else None,
            on_step=job.on_step,
            should_stop=job.should_stop,
        )
        job.out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(job.out_dir))
        return BackendResult(
            backend=self.name,
            device=self.device,
            precision="bf16-autocast" if bf16 else "fp32",
            loop=loop,
            details={"trainable_params": trainable, "threads": torch.get_num_threads()},
            model=model if self.device == "cpu" else None,
        )


def select_backend(choice: str = "auto") -> TrainingBackend:
    """The backend for ``choice`` (auto/cpu/unsloth), or QConsoleError saying why not."""
    if choice == "cpu":
        return CpuPeftBackend("cpu")
    if choice in ("unsloth", "auto"):
        from qconsole.training.unsloth_backend import UnslothBackend

        backend = UnslothBackend()
        reason = backend.check()
        if reason is None:
            return backend
        if choice == "unsloth":
            raise QConsoleError(reason)
        return CpuPeftBackend("cuda" if cuda_available() else "cpu")
    raise QConsoleError(f"unknown training backend {choice!r}; choose auto, cpu or unsloth")


__all__ = [
    "BackendJob",
    "BackendResult",
    "CpuPeftBackend",
    "TrainingBackend",
    "check_targets",
    "cuda_available",
    "lora_config",
    "select_backend",
    "unsloth_installed",
]
