"""Gemma's GGUF tokenizer, built by qconsole, gives llama.cpp's ids under every transformers.

transformers 5.17 (what the gpu extra resolves to) converts Gemma's vocabulary into a wrong
Unigram model; scripts/test_gpu_versions.sh runs these tests under it, CI under 5.24.
"""

from __future__ import annotations

import json

import pytest

from qconsole.hf.gguf_model import MANIFEST_FILE, ensure_hf_cache, load_hf_tokenizer
from qconsole.hf.gguf_tokenizer import builds_own_tokenizer, read_gguf_array
from qconsole.models.fingerprint import read_gguf_header

TRICKY = (
    "The capital of France is",
    "User: 3 + 5 = ?\nAssistant:",
    "  naïve café ✓",
    "\t\ttabs   and    spaces\n\n\n  ",
    "日本語のテキスト 🙂 emoji, Ünïcödé",
    "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
    "x = [1, 2, 3]  # comment\n    return {'k': v}",
    "4 - 3 = 1, 1 - 4 = -3. The answer is -3.",
)


def test_reads_the_whole_vocabulary_from_its_byte_span(embedded_model_path):
    header = read_gguf_header(embedded_model_path)
    tokens = read_gguf_array(embedded_model_path, header, "tokenizer.ggml.tokens")
    types = read_gguf_array(embedded_model_path, header, "tokenizer.ggml.token_type")
    assert len(tokens) == len(types) == header.array_lengths["tokenizer.ggml.tokens"] == 262144
    bos, eos = header.metadata["tokenizer.ggml.bos_token_id"], header.metadata[
        "tokenizer.ggml.eos_token_id"]
    assert (tokens[bos], tokens[eos]) == ("<bos>", "<eos>")
    assert types[bos] == types[eos] == 3  # control
    assert "<start_of_turn>" in tokens and "▁capital" in tokens
    with pytest.raises(KeyError):
        read_gguf_array(embedded_model_path, header, "tokenizer.ggml.merges")  # Gemma has none


def test_only_sentencepiece_gemma_files_are_built_here(tmp_path, embedded_model_path,
                                                       write_tiny_gguf_base):
    assert builds_own_tokenizer(read_gguf_header(embedded_model_path))
    assert not builds_own_tokenizer(read_gguf_header(write_tiny_gguf_base(tmp_path / "q.gguf")))


@pytest.mark.slow
def test_cached_tokenizer_is_qconsoles_and_matches_llama_cpp(backend, embedded_model_path):
    import transformers

    manifest = json.loads((ensure_hf_cache(embedded_model_path) / MANIFEST_FILE).read_text())
    assert manifest["tokenizer"] == "qconsole"
    tokenizer = load_hf_tokenizer(embedded_model_path)
    assert type(tokenizer).__name__ == "GemmaTokenizer"
    for text in TRICKY:
        ids = tokenizer(text)["input_ids"]
        assert ids == backend.tokenize(text), (transformers.__version__, text)
        assert tokenizer.decode(ids[1:]) == text, text  # round trip without the BOS
