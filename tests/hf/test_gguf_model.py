"""The embedded GGUF base opened in transformers: unquantized for PEFT and saving, tokenised
like llama.cpp, loaded from a cache that holds converted config and tokenizer."""

from __future__ import annotations

import json

import pytest

from qconsole.hf.gguf_model import MANIFEST_FILE, WEIGHTS_FILE, ensure_hf_cache, load_hf_tokenizer
from qconsole.models.fingerprint import read_gguf_header

pytestmark = pytest.mark.slow


def test_model_is_a_plain_unquantized_fp32_model(tmp_path, hf_base, make_peft_adapter):
    import torch

    model, tokenizer = hf_base
    assert getattr(model, "hf_quantizer", None) is None
    assert model.config._is_quantized is False
    assert not hasattr(model.config, "quantization_config")
    assert not getattr(model, "is_quantized", False)
    assert next(model.parameters()).dtype == torch.float32
    assert not model.training
    # PEFT wraps it and saves an adapter (transformers refuses while it is marked quantized)
    folder = make_peft_adapter(tmp_path / "a", targets=("q_proj",))
    assert (folder / "adapter_model.safetensors").is_file()
    assert not any("lora" in n for n, _ in model.named_modules())  # the shared model is clean


def test_cache_holds_config_tokenizer_and_weights(embedded_model_path):
    folder = ensure_hf_cache(embedded_model_path)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert manifest["shape_signature"]["architecture"] == "gemma3"
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    original = read_gguf_header(embedded_model_path)
    weights = read_gguf_header(folder / WEIGHTS_FILE)
    assert weights.tensors == original.tensors
    assert "tokenizer.ggml.tokens" not in weights.array_lengths
    assert ensure_hf_cache(embedded_model_path) == folder  # reused, not rebuilt


def test_tokenizer_matches_llama_cpp(backend, embedded_model_path):
    tokenizer = load_hf_tokenizer(embedded_model_path)
    for text in ("The capital of France is", "User: 3 + 5 = ?\nAssistant:", "  naïve café ✓"):
        assert tokenizer(text)["input_ids"] == backend.tokenize(text), text
