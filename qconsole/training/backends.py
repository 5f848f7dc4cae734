"""Training backends behind one interface: each trains a fresh LoRA on a base model and writes
a standard PEFT adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``).

- ``cpu``: transformers + PEFT on the dequantised GGUF (or HF weights the person names), the
  padding-free loop of loop.py, bf16 autocast where the CPU has it (peft_backend.py).
- ``unsloth``: one CUDA GPU, when the ``gpu`` extra is installed (unsloth_backend.py).
- ``ddp``: data-parallel PEFT over several CUDA GPUs, one torchrun process each (ddp_backend.py).

``auto`` picks what the machine has: ``ddp`` with two or more CUDA GPUs, Unsloth with one GPU
and Unsloth installed, transformers + PEFT on the GPU when only CUDA is, the CPU path otherwise.
A fresh adapter every time: each cycle trains from the base on the whole accumulated set
(ReST-EM, arXiv 2312.06585; LLM2LLM, arXiv 2403.15042), never on top of the last adapter.

The job, result and protocol live in backend_api.py, which the backends import; this module
only chooses, so no backend imports it back.
"""

from __future__ import annotations

from qconsole.errors import QConsoleError
from qconsole.training.backend_api import (
    BackendJob,
    BackendResult,
    TrainingBackend,
    check_targets,
    lora_config,
)
from qconsole.training.hardware import cuda_available, cuda_device_count, unsloth_installed
from qconsole.training.peft_backend import CpuPeftBackend


def select_backend(choice: str = "auto", objective: str = "sft") -> TrainingBackend:
    """The backend for ``choice`` (auto/cpu/unsloth/ddp), or QConsoleError saying why not.

    DPO (``objective`` dpo or sft+dpo) runs in the PEFT backend only (its loop is dpo_loop.py):
    on one CUDA GPU where there is one, else on the CPU."""
    if choice == "cpu":
        return CpuPeftBackend("cpu")
    if choice not in ("auto", "unsloth", "ddp"):
        raise QConsoleError(
            f"unknown training backend {choice!r}; choose auto, cpu, unsloth or ddp"
        )
    if objective != "sft":
        if choice != "auto":
            raise QConsoleError(
                f"--objective {objective} trains with the cpu backend (transformers + PEFT, "
                f"on one CUDA GPU where there is one); {choice} trains sft only"
            )
        return CpuPeftBackend("cuda" if cuda_available() else "cpu")
    from qconsole.training.ddp_backend import DdpPeftBackend
    from qconsole.training.unsloth_backend import UnslothBackend

    if choice == "ddp" or (choice == "auto" and cuda_device_count() >= 2):
        ddp = DdpPeftBackend()
        reason = ddp.check()
        if reason is not None:
            raise QConsoleError(reason)
        return ddp
    backend = UnslothBackend()
    reason = backend.check()
    if reason is None:
        return backend
    if choice == "unsloth":
        raise QConsoleError(reason)
    return CpuPeftBackend("cuda" if cuda_available() else "cpu")


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
