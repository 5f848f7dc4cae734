"""transformers + PEFT with qconsole's padding-free loop (loop.py), on the CPU or one CUDA GPU
without Unsloth; bf16 autocast where the hardware has it."""

from __future__ import annotations

from qconsole.training.backend_api import (
    BackendJob,
    BackendResult,
    check_targets,
    load_base_for_training,
    lora_config,
)
from qconsole.training.hardware import use_bf16
from qconsole.training.loop import train_loop


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
