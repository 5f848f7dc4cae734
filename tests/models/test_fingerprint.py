"""Base-model fingerprints: the shape signature decides fit, the file hash names the file; both
come from our own header parser, which must agree with gguf's reader and stay fast."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from qconsole.errors import QConsoleError
from qconsole.models.fingerprint import (
    file_fingerprint,
    read_gguf_header,
    shape_signature,
    signature_id,
    signature_mismatch,
)
from qconsole.paths import cache_dir


def test_shape_signature_of_the_embedded_base(embedded_model_path):
    # (reads only the header: gguf.GGUFReader needs ~10 s for this file; no timing assert here,
    # speed is for benchmarks/)
    sig = shape_signature(embedded_model_path)
    assert sig == {
        "architecture": "gemma3",
        "block_count": 18,
        "embedding_length": 640,
        "feed_forward_length": 2048,
        "attention.head_count": 4,
        "attention.head_count_kv": 1,
        "attention.key_length": 256,
        "attention.value_length": 256,
        "vocab_size": 262144,
    }


def test_header_parser_agrees_with_gguf_reader_on_a_small_file(tmp_path, write_tiny_gguf_base):
    import gguf

    path = write_tiny_gguf_base(tmp_path / "tiny.gguf")
    header = read_gguf_header(path)
    reader = gguf.GGUFReader(str(path))
    assert set(header.tensors) == {t.name for t in reader.tensors}
    for t in reader.tensors:
        assert header.tensors[t.name].shape == tuple(int(d) for d in t.shape)
        assert header.tensors[t.name].ggml_type == int(t.tensor_type)
    assert header.data_offset == reader.data_offset
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        assert header.metadata[key] == field.contents(), key


def test_signatures_compare_by_shape():
    tiny_sig = {"architecture": "qwen3", "block_count": 2}
    assert signature_mismatch(tiny_sig, tiny_sig) is None
    assert "block_count 2 != base 28" in signature_mismatch(tiny_sig, {**tiny_sig,
                                                                       "block_count": 28})
    assert signature_id(tiny_sig) == signature_id(dict(reversed(list(tiny_sig.items()))))


def test_file_fingerprint_is_sha256_cached_and_follows_changes(tmp_path, write_tiny_gguf_base):
    path = write_tiny_gguf_base(tmp_path / "tiny.gguf")
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_fingerprint(path) == expected
    records = [json.loads(p.read_text()) for p in (cache_dir() / "fingerprints").glob("*.json")]
    assert any(r["path"] == str(path.resolve()) and r["sha256"] == expected for r in records)
    # same size and content but a new mtime: recomputed (and still right)
    os.utime(path, ns=(1, 1))
    assert file_fingerprint(path) == expected
    # changed content of the same size: a new hash
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert file_fingerprint(path) == hashlib.sha256(bytes(data)).hexdigest()


def test_truncated_or_foreign_files_are_clear_errors(tmp_path, write_tiny_gguf_base):
    good = write_tiny_gguf_base(tmp_path / "tiny.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(good[:200])
    with pytest.raises(QConsoleError, match="truncated or corrupt"):
        read_gguf_header(tmp_path / "cut.gguf")
    (tmp_path / "text.gguf").write_text("hello")
    with pytest.raises(QConsoleError, match="not a GGUF"):
        read_gguf_header(tmp_path / "text.gguf")
    with pytest.raises(QConsoleError, match="not found"):
        file_fingerprint(tmp_path / "missing.gguf")
