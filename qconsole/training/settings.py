"""Training hyper-parameters, their presets, and the checks that reject nonsense early.

Defaults follow "LoRA Learns Less and Forgets Less" (arXiv 2405.09673): rank 16, alpha = 2r,
every linear layer of the transformer blocks. Never ``lm_head`` or the embeddings: on a model
with tied embeddings (Gemma, Qwen3 small sizes) llama.cpp has no separate tensor to patch and
refuses the adapter.

Presets are starting points; every field can be overridden (launch dialog, ``qconsole train``
flags). ``min_steps`` exists for the first cycles, when five corrections make two batches:
a few epochs of two steps are too few updates for the model to take the correction on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from qconsole.errors import QConsoleError

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
FORBIDDEN_TARGETS = ("lm_head", "embed_tokens", "wte", "tok_embeddings")
SCHEDULES = ("linear", "cosine", "constant")
BF16_CHOICES = ("auto", "on", "off")
BACKENDS = ("auto", "cpu", "unsloth", "ddp")
# sft: learn the rewrites; dpo: prefer chosen over rejected replies (dpo_loop.py); sft+dpo both
OBJECTIVES = ("sft", "dpo", "sft+dpo")


@dataclass(frozen=True)
class TrainSettings:
    preset: str = "default"
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ALL_LINEAR
    learning_rate: float = 2e-4
    epochs: int = 3
    batch_size: int = 4
    grad_accum: int = 1
    min_steps: int = 12
    max_steps: int | None = None
    max_seq_len: int = 1024
    warmup_ratio: float = 0.05
    schedule: str = "linear"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    bf16: str = "auto"
    threads: int | None = None
    backend: str = "auto"
    beta: float = 0.1  # DPO: how far the policy may move from the reference (TRL's default)
    sft_weight: float = 1.0  # sft+dpo: weight of the chosen reply's SFT loss

    def validate(self) -> TrainSettings:
        problems = []
        if self.rank < 1:
            problems.append("rank must be at least 1")
        if self.alpha <= 0:
            problems.append("alpha must be positive")
        if not 0 <= self.dropout < 1:
            problems.append("dropout must be in [0, 1)")
        if not self.target_modules:
            problems.append("at least one target module is needed")
        bad = [m for m in self.target_modules if m in FORBIDDEN_TARGETS]
        if bad:
            problems.append(
                f"cannot target {', '.join(bad)}: llama.cpp cannot apply a LoRA to the "
                "embeddings or a tied lm_head"
            )
        if not 0 < self.learning_rate < 1:
            problems.append("learning rate must be in (0, 1)")
        if self.epochs < 1 or self.batch_size < 1 or self.grad_accum < 1:
            problems.append("epochs, batch size and gradient accumulation must be at least 1")
        if self.min_steps < 0 or (self.max_steps is not None and self.max_steps < 1):
            problems.append("min steps must be >= 0 and max steps >= 1")
        if self.max_seq_len < 16:
            problems.append("max sequence length must be at least 16")
        if not 0 <= self.warmup_ratio < 1:
            problems.append("warmup ratio must be in [0, 1)")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.bf16 not in BF16_CHOICES:
            problems.append(f"bf16 must be one of {', '.join(BF16_CHOICES)}")
        if self.backend not in BACKENDS:
            problems.append(f"backend must be one of {', '.join(BACKENDS)}")
        if not 0 < self.beta <= 10:
            problems.append("beta must be in (0, 10]")
        if self.sft_weight < 0:
            problems.append("sft weight must be >= 0")
        if self.threads is not None and self.threads < 1:
            problems.append("threads must be at least 1")
        if problems:
            raise QConsoleError("bad training settings: " + "; ".join(problems))
        return self

    def total_steps(self, n_examples: int) -> tuple[int, int]:
        """(optimizer steps, epochs actually run) for ``n_examples`` examples.

        Epochs are whole passes; when ``epochs`` passes give fewer than ``min_steps`` steps,
        more passes are made (a tiny first set), and ``max_steps`` caps the total.
        """
        per_epoch = max(1, -(-n_examples // (self.batch_size * self.grad_accum)))
        epochs = self.epochs
        if per_epoch * epochs < self.min_steps:
            epochs = -(-self.min_steps // per_epoch)
        steps = per_epoch * epochs
        if self.max_steps is not None and steps > self.max_steps:
            steps = self.max_steps
            epochs = -(-steps // per_epoch)
        return steps, epochs

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "target_modules" in values:
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values)

    def describe(self) -> str:
        return (
            f"{self.preset}: LoRA r{self.rank} alpha {self.alpha:g} dropout {self.dropout:g} on "
            f"{len(self.target_modules)} module kinds, lr {self.learning_rate:g} "
            f"({self.schedule}), {self.epochs} epochs (at least {self.min_steps} steps), "
            f"batch {self.batch_size}x{self.grad_accum}"
        )


PRESETS: dict[str, dict[str, Any]] = {
    # A first look in a couple of minutes: smaller rank, fewer passes, a higher rate.
    "quick": {"rank": 8, "alpha": 16.0, "epochs": 2, "min_steps": 8, "learning_rate": 3e-4},
    "default": {},
    # More capacity and more passes at a gentler rate, for a larger accumulated set.
    "thorough": {
        "rank": 32, "alpha": 64.0, "epochs": 5, "min_steps": 40, "learning_rate": 1e-4,
        "schedule": "cosine", "warmup_ratio": 0.1,
    },
}
PRESET_HELP = {
    "quick": "r8, 2 epochs, lr 3e-4: a fast first look",
    "default": "r16 alpha 32, all linear layers, 3 epochs, lr 2e-4",
    "thorough": "r32 alpha 64, 5 epochs, lr 1e-4 cosine: for a larger set",
}


def settings_for(preset: str = "default", **overrides: Any) -> TrainSettings:
    """A preset with some fields overridden (None values are ignored)."""
    if preset not in PRESETS:
        raise QConsoleError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    if "target_modules" in values:
        values["target_modules"] = tuple(values["target_modules"])
    return replace(TrainSettings(preset=preset), **values).validate()
