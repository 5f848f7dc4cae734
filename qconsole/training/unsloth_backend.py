"""The CUDA backend: Unsloth's patched model and LoRA, our loop, a standard PEFT adapter out.

Used only when a CUDA GPU is present and Unsloth is installed (``pip install "qconsole[gpu]"``);
Unsloth refuses to import without a GPU, so nothing here imports it before :meth:`check` passes.
Unsloth loads Hugging Face weights, not GGUF: the dequantised base is written once as
safetensors into the cache (or the person names HF weights of the same base).

Kept deliberately plain, because no CI machine has a GPU to test it: the loop is loop.py's,
one example per forward pass with the model computing its own loss from ``labels`` (Unsloth's
fused cross-entropy is its main memory saving; packed ``position_ids`` are not relied on), and
``save_pretrained`` writes the same two PEFT files the CPU path writes.
"""

from __future__ import annotations

from qconsole.errors import QConsoleError
from qconsole.hf.export import hf_weights_dir
from qconsole.training.backend_api import BackendJob, BackendResult, check_targets
from qconsole.training.hardware import cuda_available, unsloth_installed, use_bf16
from qconsole.training.loop import train_loop


class UnslothBackend:
    name = "unsloth"

    def check(self) -> str | None:
        if not cuda_available():
            return (
                "the unsloth backend needs a CUDA GPU and this machine has none; "
                "use --backend cpu (or auto)"
            )
        if not unsloth_installed():
            return 'unsloth is not installed: pip install "qconsole[gpu]", or use --backend cpu'
        return None

    def prepare(self) -> None:
        """Import Unsloth before transformers is used, so its patches apply."""
        if self.check() is None:
            import unsloth  # noqa: F401

    def train(self, job: BackendJob) -> BackendResult:
        reason = self.check()
        if reason is not None:
            raise QConsoleError(reason)
        import torch
        from unsloth import FastLanguageModel

        s = job.settings
        hf_dir = job.hf_model_dir or hf_weights_dir(job.gguf_path, job.log)
        job.log(f"loading {hf_dir} with Unsloth")
        model, _ = FastLanguageModel.from_pretrained(
            model_name=str(hf_dir), max_seq_length=s.max_seq_len, dtype=None, load_in_4bit=False,
        )
        check_targets(model, s)
        model = FastLanguageModel.get_peft_model(
            model,
            r=s.rank,
            lora_alpha=s.alpha,
            lora_dropout=s.dropout,
            target_modules=list(s.target_modules),
            bias="none",
            use_gradient_checkpointing="unsloth",
            random_state=s.seed,
        )
        bf16 = use_bf16(s.bf16, "cuda")
        loop = train_loop(
            model, job.examples, s,
            device="cuda",
            autocast_dtype=torch.bfloat16 if bf16 else torch.float16,
            model_loss=True,
            on_step=job.on_step,
            should_stop=job.should_stop,
        )
        job.out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(job.out_dir))
        return BackendResult(
            backend=self.name,
            device="cuda",
            precision="bf16-autocast" if bf16 else "fp16-autocast",
            loop=loop,
            details={"gpu": torch.cuda.get_device_name(0)},
        )
