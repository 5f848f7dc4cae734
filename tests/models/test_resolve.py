import os
import shutil

import pytest

from qconsole.errors import QConsoleError
from qconsole.models.gguf_info import read_gguf_info
from qconsole.models.resolve import resolve_model


def test_default_is_the_embedded_base_model(embedded_model_path):
    r = resolve_model("default")
    assert r.source == "default" and r.path == embedded_model_path
    info = read_gguf_info(r.path)
    assert info.architecture == "gemma3" and info.is_base_model
    # Assembled once: a second resolution is the same file, not a rebuild.
    assert resolve_model(None).path.stat().st_mtime_ns == r.path.stat().st_mtime_ns


def test_path_and_directory_and_alias(embedded_model_path, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    os.symlink(embedded_model_path, d / "x-Q4_K_M.gguf")
    assert resolve_model(str(d / "x-Q4_K_M.gguf")).source == "path"
    assert resolve_model(str(d)).path.name == embedded_model_path.name  # symlink resolved
    assert resolve_model("mine", aliases={"mine": str(d / "x-Q4_K_M.gguf")}).source == "path"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("/nonexistent/model.gguf", "model file not found"),
        ("not a spec at all!", "cannot understand model"),
        ("someone/some-model-GGUF", "HF_HUB_OFFLINE"),
    ],
)
def test_bad_specs_give_one_clear_line(spec, message):
    with pytest.raises(QConsoleError, match=message) as exc:
        resolve_model(spec)
    assert "\n" not in str(exc.value)


def test_hub_unreachable_is_quick_and_clear(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(QConsoleError, match="unreachable"):
        resolve_model("someone/some-model-GGUF:model.Q4_K_M.gguf")


def test_not_gguf_and_truncated_gguf(embedded_model_path, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_text("hello world")
    with pytest.raises(QConsoleError, match="not a GGUF file"):
        read_gguf_info(bad)
    cut = tmp_path / "cut.gguf"
    with open(embedded_model_path, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(50_000_000))
    with pytest.raises(QConsoleError, match="truncated"):
        read_gguf_info(cut)
    head_only = tmp_path / "head.gguf"
    with open(embedded_model_path, "rb") as src, open(head_only, "wb") as dst:
        dst.write(src.read(1000))
    with pytest.raises(QConsoleError, match="truncated or corrupt|truncated"):
        read_gguf_info(head_only)


def test_model_too_large_for_memory(embedded_model_path, monkeypatch):
    import qconsole.models.gguf_info as gi

    monkeypatch.setattr(gi, "available_memory_bytes", lambda: 100 * 2**20)
    with pytest.raises(QConsoleError, match="too large for memory"):
        read_gguf_info(embedded_model_path)


def test_directory_without_gguf(tmp_path):
    with pytest.raises(QConsoleError, match="no .gguf"):
        resolve_model(str(tmp_path))


def test_embedded_assembly_is_atomic_and_verified(tmp_path, monkeypatch, embedded_model_path):
    from qconsole.models import embedded

    monkeypatch.setenv("QCONSOLE_CACHE", str(tmp_path / "cache"))
    p = embedded.embedded_model_path()
    assert p.stat().st_size == embedded_model_path.stat().st_size
    assert not list(p.parent.glob(".assemble-*"))
    # A damaged file (size changed) is rebuilt rather than trusted.
    with open(p, "ab") as fh:
        fh.write(b"junk")
    assert embedded.embedded_model_path().stat().st_size == embedded_model_path.stat().st_size
    shutil.rmtree(tmp_path / "cache")


def test_chat_template_and_special_tokens_read_from_a_small_gguf(tmp_path):
    import gguf

    path = tmp_path / "tiny-instruct.gguf"
    w = gguf.GGUFWriter(str(path), "qwen3")
    w.add_name("Tiny Instruct")
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["<|endoftext|>", "a", "b", "<|im_start|>", "<|im_end|>"])
    w.add_bos_token_id(3)
    w.add_eos_token_id(4)
    w.add_chat_template("{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    info = read_gguf_info(path)
    assert info.architecture == "qwen3" and not info.is_base_model
    assert (info.bos_token, info.eos_token) == ("<|im_start|>", "<|im_end|>")
