"""Adapter makers shared by the tests (exposed as fixtures by tests/conftest.py, never imported
by a test module): the embedded base in transformers (loaded once per test process) and small real
PEFT adapters made on it in about a second.

Making a LoRA "do something" without training: PEFT initialises lora_B to zero (the adapter is a
no-op until trained), so we draw B from a seeded normal distribution instead. With r=4 and
std 0.02 on every linear layer of Gemma 3 270M the greedy continuations change visibly but stay
fluent, which is what an equivalence check needs to see.
"""

from __future__ import annotations

import functools
import json
import struct
from pathlib import Path

from qconsole.training.settings import ALL_LINEAR


@functools.cache
def embedded_base() -> Path:
    from qconsole.models.resolve import resolve_model

    return resolve_model("default").path


@functools.cache
def hf_base():
    """(model, tokenizer) of the embedded base in fp32, shared by every test in this process."""
    from qconsole.hf.gguf_model import load_hf_model

    return load_hf_model(embedded_base())


def make_peft_adapter(
    out_dir: Path,
    *,
    r: int = 4,
    alpha: float = 8.0,
    targets: tuple[str, ...] = ALL_LINEAR,
    b_std: float = 0.02,
    seed: int = 0,
    use_rslora: bool = False,
    model=None,
) -> Path:
    """Save a PEFT LoRA adapter for the embedded base (or ``model``) with random B into out_dir."""
    import torch
    from peft import LoraConfig, get_peft_model

    base = model if model is not None else hf_base()[0]
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        target_modules=list(targets),
        lora_dropout=0.0,
        use_rslora=use_rslora,
        task_type="CAUSAL_LM",
    )
    generator = torch.Generator().manual_seed(seed)
    peft_model = get_peft_model(base, config)
    try:
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_A" in name:
                    scale = param.shape[1] ** -0.5
                    param.copy_(torch.randn(param.shape, generator=generator) * scale)
                elif "lora_B" in name:
                    param.copy_(torch.randn(param.shape, generator=generator) * b_std)
        peft_model.save_pretrained(str(out_dir))
    finally:
        peft_model.unload()  # give the shared base back without LoRA layers
    return out_dir


def write_fake_adapter(
    out_dir: Path,
    tensors: dict[str, tuple[int, ...]],
    config: dict | None = None,
) -> Path:
    """A PEFT-looking directory with zero tensors of the given shapes (no torch needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}
    cfg.update(config or {})
    (out_dir / "adapter_config.json").write_text(json.dumps(cfg))
    header: dict = {}
    offset = 0
    for name, shape in tensors.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(out_dir / "adapter_model.safetensors", "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return out_dir


def rewrite_gguf_lora(src: Path, dst: Path, mode: str) -> Path:
    """Copy a GGUF LoRA with a deliberate fault, to prove the equivalence check catches it.

    ``zero_b``: every lora_b zeroed (llama.cpp applies nothing); ``shift_layers``: each block's
    LoRA moved to the next block (applied, but in the wrong place); ``double_b``: B doubled (a
    scaling bug); ``rename``: tensor names llama.cpp does not know.
    """
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(src))
    arch = reader.fields["general.architecture"].contents()
    n_blocks = 1 + max(
        int(t.name.split(".")[1]) for t in reader.tensors if t.name.startswith("blk.")
    )
    writer = gguf.GGUFWriter(str(dst), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    alpha = float(reader.fields["adapter.lora.alpha"].contents())
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for t in reader.tensors:
        data = np.array(t.data, dtype=np.float32).reshape(tuple(reversed(t.shape.tolist())))
        name = t.name
        if mode == "zero_b" and name.endswith(".lora_b"):
            data = np.zeros_like(data)
        elif mode == "double_b" and name.endswith(".lora_b"):
            data = data * 2
        elif mode == "shift_layers" and name.startswith("blk."):
            parts = name.split(".")
            parts[1] = str((int(parts[1]) + 1) % n_blocks)
            name = ".".join(parts)
        elif mode == "rename":
            name = name.replace(".weight.", ".weights.")
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


_SUBLAYER = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn",
             "o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def write_numpy_adapter(
    out_dir: Path,
    base_gguf: Path,
    *,
    r: int = 4,
    alpha: float = 8.0,
    targets: tuple[str, ...] = ALL_LINEAR,
    layers: tuple[int, ...] | None = None,
    b_std: float = 0.02,
    seed: int = 0,
    config: dict | None = None,
) -> Path:
    """A PEFT-format LoRA with random values shaped for ``base_gguf``, written without torch."""
    import numpy as np
    from safetensors.numpy import save_file

    from qconsole.adapters.targets import gguf_tensor_name
    from qconsole.models.fingerprint import read_gguf_header

    header = read_gguf_header(base_gguf)
    n_blocks = int(header.arch_value("block_count"))
    rng = np.random.default_rng(seed)
    tensors = {}
    for i in layers if layers is not None else range(n_blocks):
        for short in targets:
            module = f"model.layers.{i}.{_SUBLAYER[short]}.{short}"
            name = gguf_tensor_name(header.architecture, n_blocks, module)
            n_in, n_out = header.tensors[name].shape
            key = f"base_model.model.{module}"
            tensors[f"{key}.lora_A.weight"] = (rng.standard_normal((r, n_in)) / n_in**0.5).astype(
                np.float32
            )
            tensors[f"{key}.lora_B.weight"] = (rng.standard_normal((n_out, r)) * b_std).astype(
                np.float32
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_dir / "adapter_model.safetensors"))
    cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha,
           "target_modules": list(targets), "base_model_name_or_path": "google/gemma-3-270m"}
    cfg.update(config or {})
    (out_dir / "adapter_config.json").write_text(json.dumps(cfg))
    return out_dir


def write_tiny_gguf_base(
    path: Path,
    *,
    arch: str = "qwen3",
    hidden: int = 64,
    n_blocks: int = 2,
    ff: int = 128,
    heads: int = 4,
    kv_heads: int = 2,
    head_dim: int = 16,
    vocab: int = 1000,
) -> Path:
    """A tiny GGUF "base" of another shape: metadata and small F32 tensors, no tokenizer.

    Enough for everything that reads headers (fingerprints, compatibility, conversion); it is
    never loaded into llama.cpp.
    """
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tiny-{arch}")
    w.add_block_count(n_blocks)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_vocab_size(vocab)
    w.add_context_length(512)

    def t(name: str, n_out: int, n_in: int) -> None:
        w.add_tensor(name, np.zeros((n_out, n_in), dtype=np.float32))

    t("token_embd.weight", vocab, hidden)
    w.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
    for i in range(n_blocks):
        t(f"blk.{i}.attn_q.weight", heads * head_dim, hidden)
        t(f"blk.{i}.attn_k.weight", kv_heads * head_dim, hidden)
        t(f"blk.{i}.attn_v.weight", kv_heads * head_dim, hidden)
        t(f"blk.{i}.attn_output.weight", hidden, heads * head_dim)
        t(f"blk.{i}.ffn_gate.weight", ff, hidden)
        t(f"blk.{i}.ffn_up.weight", ff, hidden)
        t(f"blk.{i}.ffn_down.weight", hidden, ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def tiny_hf_model(arch: str = "qwen3", **shape):
    """A tiny random transformers model of the same shape as write_tiny_gguf_base (0.2 s)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    kw = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16, vocab_size=1000, tie_word_embeddings=True)
    kw.update(shape)
    if arch == "llama":
        return LlamaForCausalLM(LlamaConfig(**kw)).eval()
    return Qwen3ForCausalLM(Qwen3Config(**kw)).eval()
