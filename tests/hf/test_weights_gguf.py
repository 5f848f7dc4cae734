"""The tokenizer-free GGUF copy that transformers loads weights from: identical tensors, no big
arrays, a vocab_size entry in their place."""

from __future__ import annotations

import gguf
import numpy as np

from qconsole.hf.weights_gguf import write_weights_only_gguf
from qconsole.models.fingerprint import read_gguf_header


def _tiny_with_tokenizer(path, n_tokens=3000):
    w = gguf.GGUFWriter(str(path), "qwen3")
    w.add_block_count(1)
    w.add_embedding_length(8)
    w.add_uint32("general.alignment", 64)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"tok{i}" for i in range(n_tokens)])
    w.add_token_types([1] * n_tokens)
    w.add_token_merges([f"t o{i}" for i in range(n_tokens)])
    w.add_bos_token_id(1)
    w.add_array("general.tags", ["a", "b"])
    rng = np.random.default_rng(0)
    w.add_tensor("token_embd.weight", rng.standard_normal((n_tokens, 8)).astype(np.float32))
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((8, 8)).astype(np.float16))
    w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_copy_drops_token_arrays_and_keeps_tensors(tmp_path):
    src = _tiny_with_tokenizer(tmp_path / "src.gguf")
    dst = write_weights_only_gguf(src, tmp_path / "dst.gguf")
    a, b = gguf.GGUFReader(str(src)), gguf.GGUFReader(str(dst))
    assert "tokenizer.ggml.tokens" in a.fields
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"):
        assert key not in b.fields
    assert b.fields["qwen3.vocab_size"].contents() == 3000
    assert b.fields["tokenizer.ggml.bos_token_id"].contents() == 1
    assert b.fields["general.tags"].contents() == ["a", "b"]  # short arrays stay
    assert b.fields["general.alignment"].contents() == 64
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]
    for ta, tb in zip(a.tensors, b.tensors, strict=True):
        assert ta.tensor_type == tb.tensor_type
        np.testing.assert_array_equal(np.asarray(ta.data), np.asarray(tb.data))
    assert read_gguf_header(dst).array_lengths.get("tokenizer.ggml.tokens") is None
    assert dst.stat().st_size < src.stat().st_size
