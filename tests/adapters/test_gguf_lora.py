"""The GGUF LoRA writer: format fields, tensor names and shapes, values, scaling, the llama RoPE
permutation, the conversion cache; and llama.cpp accepting the result."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qconsole.adapters import list_adapters
from qconsole.adapters.gguf_lora import STAMP_KEY, convert_peft_to_gguf, ensure_gguf_lora
from qconsole.adapters.targets import rope_permute_rows
from qconsole.errors import QConsoleError


def _read(path: Path):
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    tensors = {
        t.name: np.array(t.data).reshape(tuple(reversed([int(d) for d in t.shape])))
        for t in reader.tensors
    }
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}
    return fields, tensors, shapes


def _safetensors(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_writer_format_names_shapes_and_values(tmp_path, embedded_model_path, write_numpy_adapter):
    base = embedded_model_path
    src = write_numpy_adapter(tmp_path / "a", base, r=4, alpha=8, layers=(0, 17))
    result = convert_peft_to_gguf(src, base, tmp_path / "a.gguf")
    fields, tensors, shapes = _read(result.path)
    assert fields["general.architecture"] == "gemma3"
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == pytest.approx(8.0)
    assert isinstance(fields[STAMP_KEY], str) and len(fields[STAMP_KEY]) == 64
    assert result.tensors == len(tensors) == 2 * 7 * 2
    assert result.rescaled == 0 and result.permuted == 0
    # GGUF shapes are [in, r] for lora_a and [r, out] for lora_b (numpy [r, in] / [out, r])
    assert shapes["blk.0.attn_q.weight.lora_a"] == (640, 4)
    assert shapes["blk.0.attn_q.weight.lora_b"] == (4, 1024)
    assert shapes["blk.17.attn_k.weight.lora_b"] == (4, 256)
    assert shapes["blk.17.ffn_down.weight.lora_a"] == (2048, 4)
    assert shapes["blk.17.ffn_down.weight.lora_b"] == (4, 640)
    assert shapes["blk.0.attn_output.weight.lora_a"] == (1024, 4)
    expected_names = {
        f"blk.{i}.{t}.weight.lora_{ab}"
        for i in (0, 17)
        for t in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
        for ab in "ab"
    }
    assert set(tensors) == expected_names
    peft = _safetensors(src)
    key = "base_model.model.model.layers.17.mlp.gate_proj"
    for ab in "ab":
        np.testing.assert_array_equal(
            tensors[f"blk.17.ffn_gate.weight.lora_{ab}"], peft[f"{key}.lora_{ab.upper()}.weight"]
        )
    assert tensors["blk.0.attn_q.weight.lora_a"].dtype == np.float32


def test_every_lora_target_exists_in_the_base_with_matching_shape(tmp_path, embedded_model_path,
                                                                  write_numpy_adapter):
    from qconsole.models.fingerprint import read_gguf_header

    base = embedded_model_path
    src = write_numpy_adapter(tmp_path / "a", base, layers=tuple(range(18)))
    _, _, shapes = _read(convert_peft_to_gguf(src, base, tmp_path / "a.gguf").path)
    header = read_gguf_header(base)
    for name, shape in shapes.items():
        target = header.tensors[name.rsplit(".", 1)[0]]
        if name.endswith(".lora_a"):
            assert shape[0] == target.shape[0]  # in
        else:
            assert shape[1] == target.shape[1]  # out


@pytest.mark.parametrize(
    ("config", "module_factor"),
    [
        ({"use_rslora": True}, lambda r, a, m: (a / math.sqrt(r)) * r / a),  # = sqrt(r)
        ({"alpha_pattern": {"q_proj": 32}}, lambda r, a, m: 32 / a if "q_proj" in m else 1.0),
    ],
    ids=["rslora", "alpha_pattern"],
)
def test_peft_scaling_is_folded_into_b(tmp_path, config, module_factor, embedded_model_path,
                                       write_numpy_adapter):
    base = embedded_model_path
    r, alpha = 4, 8.0
    src = write_numpy_adapter(tmp_path / "a", base, r=r, alpha=alpha, layers=(0,), config=config)
    result = convert_peft_to_gguf(src, base, tmp_path / "a.gguf")
    fields, tensors, _ = _read(result.path)
    assert fields["adapter.lora.alpha"] == pytest.approx(alpha)  # llama.cpp scale stays alpha/r
    peft = _safetensors(src)
    for module, gname in [("self_attn.q_proj", "attn_q"), ("mlp.up_proj", "ffn_up")]:
        b = peft[f"base_model.model.model.layers.0.{module}.lora_B.weight"]
        factor = module_factor(r, alpha, module)
        np.testing.assert_allclose(tensors[f"blk.0.{gname}.weight.lora_b"], b * factor, rtol=1e-6)
    assert result.rescaled == (7 if config.get("use_rslora") else 1)


def test_bf16_adapters_as_unsloth_saves_them(tmp_path, embedded_model_path, write_numpy_adapter):
    import torch
    from safetensors.torch import load_file, save_file

    base = embedded_model_path
    src = write_numpy_adapter(tmp_path / "a", base, layers=(3,))
    weights = src / "adapter_model.safetensors"
    bf16 = {k: v.to(torch.bfloat16) for k, v in load_file(str(weights)).items()}
    save_file(bf16, str(weights))
    _, tensors, _ = _read(convert_peft_to_gguf(src, base, tmp_path / "a.gguf").path)
    key = "base_model.model.model.layers.3.self_attn.o_proj.lora_B.weight"
    np.testing.assert_array_equal(tensors["blk.3.attn_output.weight.lora_b"],
                                  bf16[key].float().numpy())


def test_rank_pattern_uses_each_tensors_rank(tmp_path, embedded_model_path):
    """Mixed ranks: llama.cpp divides by each tensor's own r, so B is scaled per module."""
    from safetensors.numpy import save_file

    base = embedded_model_path
    rng = np.random.default_rng(0)
    key = "base_model.model.model.layers.0.self_attn"
    tensors = {
        f"{key}.q_proj.lora_A.weight": rng.standard_normal((8, 640)).astype(np.float32),
        f"{key}.q_proj.lora_B.weight": rng.standard_normal((1024, 8)).astype(np.float32),
        f"{key}.v_proj.lora_A.weight": rng.standard_normal((2, 640)).astype(np.float32),
        f"{key}.v_proj.lora_B.weight": rng.standard_normal((256, 2)).astype(np.float32),
    }
    folder = tmp_path / "mixed"
    folder.mkdir()
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": 8, "lora_alpha": 16, "rank_pattern": {"v_proj": 2},
        "target_modules": ["q_proj", "v_proj"]}))
    _, out, _ = _read(convert_peft_to_gguf(folder, base, tmp_path / "m.gguf").path)
    # PEFT: s = alpha / r_module; llama.cpp: alpha_gguf / r_tensor = 16 / r: equal, no rescale
    np.testing.assert_array_equal(
        out["blk.0.attn_v.weight.lora_b"], tensors[f"{key}.v_proj.lora_B.weight"]
    )


def test_llama_rope_permutation_matches_transformers_unpermute():
    """W_gguf = P W_hf for llama q/k; transformers loads with P^-1. So P^-1 (P(B) A) == B A."""
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    rng = np.random.default_rng(0)
    n_head, n_kv, head_dim, r, n_in = 4, 2, 8, 3, 16
    processor = LlamaTensorProcessor(config={"num_attention_heads": n_head,
                                             "num_key_value_heads": n_kv})
    for rows, name, kv in [(n_head * head_dim, "blk.0.attn_q.weight", n_head),
                           (n_kv * head_dim, "blk.0.attn_k.weight", n_kv)]:
        b = rng.standard_normal((rows, r))
        a = rng.standard_normal((r, n_in))
        delta_gguf = rope_permute_rows(b, n_head, kv) @ a
        back = processor.process(weights=delta_gguf, name=name).weights
        np.testing.assert_allclose(back, b @ a, atol=1e-12)
        assert not np.allclose(rope_permute_rows(b, n_head, kv), b)


def test_llama_and_qwen3_conversions_of_real_peft_adapters(tmp_path, write_tiny_gguf_base,
                                                           tiny_hf_model):
    """PEFT adapters of tiny transformers models convert for bases of their shape: qwen3 as-is,
    llama with q/k B rows permuted."""
    from peft import LoraConfig, get_peft_model

    for arch in ("qwen3", "llama"):
        model = tiny_hf_model(arch)
        peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8,
                                                      target_modules="all-linear",
                                                      init_lora_weights=False))
        folder = tmp_path / arch
        peft_model.save_pretrained(str(folder))
        base = write_tiny_gguf_base(tmp_path / f"{arch}.gguf", arch=arch)
        result = convert_peft_to_gguf(folder, base, tmp_path / f"{arch}-lora.gguf")
        fields, tensors, shapes = _read(result.path)
        assert fields["general.architecture"] == arch
        assert shapes["blk.1.attn_q.weight.lora_b"] == (4, 64)
        assert shapes["blk.1.attn_k.weight.lora_b"] == (4, 32)
        peft = _safetensors(folder)
        b_q = peft["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"]
        b_k = peft["base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight"]
        if arch == "llama":
            assert result.permuted == 4  # q and k of 2 blocks
            np.testing.assert_array_equal(tensors["blk.1.attn_q.weight.lora_b"],
                                          rope_permute_rows(b_q, 4, 4))
            np.testing.assert_array_equal(tensors["blk.1.attn_k.weight.lora_b"],
                                          rope_permute_rows(b_k, 4, 2))
        else:
            assert result.permuted == 0
            np.testing.assert_array_equal(tensors["blk.1.attn_q.weight.lora_b"], b_q)


def test_unusable_adapters_are_never_converted(tmp_path, embedded_model_path, write_fake_adapter):
    base = embedded_model_path
    q0 = "base_model.model.model.layers.0.self_attn.q_proj"
    write_fake_adapter(tmp_path / "foreign", {f"{q0}.lora_A.weight": (4, 64),
                                              f"{q0}.lora_B.weight": (64, 4)})
    with pytest.raises(QConsoleError, match="cannot convert foreign: made for another base"):
        convert_peft_to_gguf(tmp_path / "foreign", base, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()
    assert not list(tmp_path.glob(".adapter-*"))
    entry = replace(list_adapters(base, root=tmp_path)[0])
    assert not entry.usable
    with pytest.raises(QConsoleError, match="cannot be used"):
        ensure_gguf_lora(entry)


def test_cache_beside_the_adapter_is_reused_and_refreshed(isolated_workspace, embedded_model_path,
                                                          write_numpy_adapter):
    base = embedded_model_path
    root = isolated_workspace / "adapters"
    folder = write_numpy_adapter(root / "a", base, layers=(0,))
    entry = list_adapters(base)[0]
    path = ensure_gguf_lora(entry)
    assert path == folder / "adapter.gguf"
    mtime = path.stat().st_mtime_ns
    assert ensure_gguf_lora(entry) == path and path.stat().st_mtime_ns == mtime  # cached
    write_numpy_adapter(folder, base, layers=(0,), seed=1)  # retrained in place
    assert ensure_gguf_lora(entry) == path
    assert path.stat().st_mtime_ns != mtime
    _, tensors, _ = _read(path)
    np.testing.assert_array_equal(
        tensors["blk.0.attn_q.weight.lora_a"],
        _safetensors(folder)["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"],
    )


def test_read_only_adapter_directory_falls_back_to_the_cache(isolated_workspace, monkeypatch,
                                                             embedded_model_path,
                                                             write_numpy_adapter):
    import tempfile

    import qconsole.adapters.gguf_lora as gguf_lora

    base = embedded_model_path
    monkeypatch.setenv("QCONSOLE_CACHE", str(isolated_workspace / "cache"))
    folder = write_numpy_adapter(isolated_workspace / "adapters" / "ro", base, layers=(0,))
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # noqa: A002 - mirrors tempfile's signature
        if dir is not None and Path(dir) == folder:
            raise PermissionError(13, "Permission denied", str(folder))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(gguf_lora.tempfile, "mkstemp", mkstemp)
    path = ensure_gguf_lora(list_adapters(base)[0])
    assert path.parent == isolated_workspace / "cache" / "gguf_lora" and path.is_file()
    assert not (folder / "adapter.gguf").exists()
    assert ensure_gguf_lora(list_adapters(base)[0]) == path  # found again, not rewritten


@pytest.mark.slow
def test_llama_cpp_applies_the_written_lora_and_it_changes_the_output(backend, tmp_path,
                                                                      embedded_model_path,
                                                                      write_numpy_adapter):
    from qconsole.sampling import GREEDY

    base = embedded_model_path
    src = write_numpy_adapter(tmp_path / "a", base, b_std=0.03, seed=3)
    path = convert_peft_to_gguf(src, base, tmp_path / "a.gguf").path
    settings = replace(GREEDY, max_tokens=12)
    prompt = "The capital of France is"
    try:
        backend.set_adapter(None)
        plain = backend.complete(prompt, settings)
        backend.set_adapter(path)
        patched = backend.complete(prompt, settings)
        backend.set_adapter(None)
        assert backend.complete(prompt, settings) == plain  # switching back restores the base
    finally:
        backend.set_adapter(None)
    assert patched != plain
