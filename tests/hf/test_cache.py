"""The HF conversion cache is built once, atomically, even when threads race for it; a stale or
half-written cache directory is rebuilt, never used."""

from __future__ import annotations

import json
import threading
import time

import pytest

import qconsole.hf.gguf_model as gguf_model


def _fake_build(calls: list[int]):
    """Stands in for the 25-second tokenizer conversion: writes what a build writes, slowly."""

    def build(src, out):
        calls.append(1)
        time.sleep(0.3)
        (out / gguf_model.WEIGHTS_FILE).write_bytes(src.read_bytes())
        (out / gguf_model.MANIFEST_FILE).write_text(
            json.dumps({"format": gguf_model.CACHE_FORMAT, "tokenizer": "transformers"})
        )

    return build


def test_racing_threads_build_once(tmp_path, monkeypatch, write_tiny_gguf_base):
    monkeypatch.setenv("QCONSOLE_CACHE", str(tmp_path / "cache"))
    calls: list[int] = []
    monkeypatch.setattr(gguf_model, "_build", _fake_build(calls))
    gguf = write_tiny_gguf_base(tmp_path / "tiny.gguf")
    results = []
    threads = [threading.Thread(target=lambda: results.append(gguf_model.ensure_hf_cache(gguf)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and results[0].parent == tmp_path / "cache" / "hf"
    assert not list(results[0].parent.glob(".build-*"))  # no temporary directory left


# A stale format; and a cache from before gguf_tokenizer.py (no "tokenizer" entry), which may
# hold the wrong Gemma tokenizer transformers 5.17 converts.
@pytest.mark.parametrize("old", [{"format": -1}, {"format": gguf_model.CACHE_FORMAT}])
def test_broken_or_stale_cache_is_rebuilt(tmp_path, monkeypatch, old, write_tiny_gguf_base):
    monkeypatch.setenv("QCONSOLE_CACHE", str(tmp_path / "cache"))
    calls: list[int] = []
    monkeypatch.setattr(gguf_model, "_build", _fake_build(calls))
    gguf = write_tiny_gguf_base(tmp_path / "tiny.gguf")
    target = gguf_model.hf_cache_path(gguf)
    target.mkdir(parents=True)
    (target / gguf_model.WEIGHTS_FILE).write_bytes(b"old")
    (target / gguf_model.MANIFEST_FILE).write_text(json.dumps(old))
    assert gguf_model.ensure_hf_cache(gguf) == target
    assert len(calls) == 1
    manifest = json.loads((target / gguf_model.MANIFEST_FILE).read_text())
    assert manifest["format"] == gguf_model.CACHE_FORMAT and "tokenizer" in manifest
    gguf_model.ensure_hf_cache(gguf)
    assert len(calls) == 1


def test_failed_build_leaves_nothing(tmp_path, monkeypatch, write_tiny_gguf_base):
    monkeypatch.setenv("QCONSOLE_CACHE", str(tmp_path / "cache"))

    def boom(src, out):
        (out / "config.json").write_text("{}")
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(gguf_model, "_build", boom)
    gguf = write_tiny_gguf_base(tmp_path / "tiny.gguf")
    with pytest.raises(RuntimeError, match="conversion failed"):
        gguf_model.ensure_hf_cache(gguf)
    hf_root = tmp_path / "cache" / "hf"
    assert [p.name for p in hf_root.iterdir() if p.is_dir()] == []
