"""transformers + PEFT with qconsole's padding-free loops (loop.py for SFT, dpo_loop.py for
DPO), on the CPU or one CUDA GPU without Unsloth; bf16 autocast where the hardware has it."""

from __future__ import annotations

from qconsole.training.backend_api import (
    BackendJob,
    BackendResult,
    check_targets,
    load_base_for_training,
    lora_config,
)
from qconsole.training.hardware import use_bf16
from qconsole.training.loop import LoopResult, train_loop


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
        details: dict = {"trainable_params": trainable, "threads": torch.get_num_threads()}
        loop = self._loop(model, job, torch.bfloat16 if bf16 else None, details)
        job.out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(job.out_dir))
        return BackendResult(
            backend=self.name,
            device=self.device,
            precision="bf16-autocast" if bf16 else "fp32",
            loop=loop,
            details=details,
            model=model if self.device == "cpu" else None,
        )

    def _loop(self, model, job: BackendJob, autocast_dtype, details: dict) -> LoopResult:
        """SFT on ``job.examples``, or DPO on ``job.pairs`` (its before/after scores of the
        trained pairs go into ``details["dpo"]``, and from there into the metadata)."""
        if job.objective == "sft":
            return train_loop(
                model, job.examples, job.settings, device=self.device,
                autocast_dtype=autocast_dtype, on_step=job.on_step,
                should_stop=job.should_stop,
            )
        from qconsole.training.dpo_loop import dpo_loop

        result = dpo_loop(
            model, job.pairs or [], job.settings, objective=job.objective, device=self.device,
            autocast_dtype=autocast_dtype, on_step=job.on_step, should_stop=job.should_stop,
        )
        details["dpo"] = {
            "beta": job.settings.beta,
            "sft_weight": job.settings.sft_weight if job.objective == "sft+dpo" else 0.0,
            "reference_s": round(result.reference_s, 2),
            "reward_accuracy_per_step": [round(a, 3) for a in result.reward_accuracies],
            **result.scores.to_dict(),
        }
        return result.loop
