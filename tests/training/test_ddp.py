"""Data-parallel training, for real: two torchrun processes on gloo (the CPU stand-in for NCCL)
train one LoRA on a tiny random Qwen3 and must end with identical weights and one standard PEFT
adapter; and ``--backend auto`` picks what this machine has."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from qconsole.errors import QConsoleError
from qconsole.training.dataset import TokenizedExample
from qconsole.training.ddp_worker import shard
from qconsole.training.examples import TrainingExample
from qconsole.training.settings import TrainSettings


def examples(n: int, vocab: int = 300) -> list[TokenizedExample]:
    rng = random.Random(0)
    out = []
    for i in range(n):
        prompt = [1] + [rng.randrange(10, vocab) for _ in range(rng.randrange(3, 16))]
        reply = [rng.randrange(10, vocab) for _ in range(rng.randrange(2, 8))]
        ex = TrainingExample((), f"u{i}", f"t{i}")
        out.append(TokenizedExample(ex, "p", "c", tuple(prompt + reply), len(prompt)))
    return out


def tiny_qwen3(folder: Path) -> Path:
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=300, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         head_dim=16, max_position_embeddings=256, tie_word_embeddings=True)
    Qwen3ForCausalLM(config).save_pretrained(folder)
    return folder


def test_shards_are_equal_length_and_cover_every_example():
    items = list(range(7))
    shards = [shard(items, r, 2) for r in range(2)]
    assert [len(s) for s in shards] == [4, 4]
    assert set(shards[0]) | set(shards[1]) == set(items)
    assert shards[0] == [0, 2, 4, 6] and shards[1] == [1, 3, 5, 0]  # wrapped round
    assert shard([5], 1, 3) == [5]


def test_backend_choice_follows_the_hardware():
    from qconsole.training.backends import CpuPeftBackend, select_backend
    from qconsole.training.hardware import cuda_device_count

    if cuda_device_count():
        pytest.skip("this machine has CUDA")
    auto = select_backend("auto")
    assert isinstance(auto, CpuPeftBackend) and auto.device == "cpu"
    with pytest.raises(QConsoleError, match="several CUDA GPUs and this machine has 0"):
        select_backend("ddp")


@pytest.mark.slow
def test_two_gloo_processes_train_one_adapter(tmp_path: Path):
    from qconsole.adapters.peft_files import read_peft_adapter
    from qconsole.training.backend_api import BackendJob
    from qconsole.training.ddp_backend import DdpPeftBackend

    base = tiny_qwen3(tmp_path / "qwen3")
    settings = TrainSettings(batch_size=4, epochs=3, min_steps=0, rank=4, alpha=8.0,
                             learning_rate=5e-3, warmup_ratio=0.0, dropout=0.0, bf16="off")
    steps = []
    job = BackendJob(gguf_path=tmp_path / "unused.gguf", examples=examples(8),
                     settings=settings, out_dir=tmp_path / "work" / "adapter",
                     hf_model_dir=base, on_step=steps.append)
    result = DdpPeftBackend(nproc=2, device="cpu").train(job)
    # 8 examples, 2 processes of 4 each at 2 per process (global batch 4): 2 steps an epoch
    assert result.loop.steps == 6 == len(steps) and [s.step for s in steps] == list(range(1, 7))
    assert result.details["per_process_batch"] == 2
    digests = result.details["weights_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]  # the all-reduce kept them in step
    assert result.loop.final_loss < result.loop.losses[0]
    assert result.loop.trained_tokens == 3 * sum(e.n_completion for e in examples(8))
    files = read_peft_adapter(job.out_dir)
    assert files.rank == 4 and files.lora_alpha == 8.0
    config = json.loads((job.out_dir / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"


@pytest.mark.slow
def test_a_failing_worker_is_one_line(tmp_path: Path):
    from qconsole.training.backend_api import BackendJob
    from qconsole.training.ddp_backend import DdpPeftBackend

    base = tiny_qwen3(tmp_path / "qwen3")
    settings = TrainSettings(target_modules=("q_proj", "qkv_proj"), min_steps=0)
    job = BackendJob(tmp_path / "x.gguf", examples(4), settings, tmp_path / "w" / "adapter",
                     hf_model_dir=base)
    with pytest.raises(QConsoleError, match="no module named qkv_proj"):
        DdpPeftBackend(nproc=2, device="cpu").train(job)
