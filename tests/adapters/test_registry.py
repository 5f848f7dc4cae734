"""The adapters registry: listing never breaks on one bad adapter, foreign or unappliable
adapters are listed unusable with a reason, installs are atomic and names safe."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from qconsole.adapters import (
    AdapterMeta,
    get_adapter,
    hash_records,
    install_adapter,
    list_adapters,
    sanitize_name,
)
from qconsole.errors import QConsoleError

Q0 = "base_model.model.model.layers.0.self_attn.q_proj"


@pytest.fixture()
def base(embedded_model_path) -> Path:
    return embedded_model_path


@pytest.fixture()
def root(isolated_workspace) -> Path:
    path = isolated_workspace / "adapters"
    path.mkdir()
    return path


def _by_name(base: Path, root: Path) -> dict:
    return {e.name: e for e in list_adapters(base, root=root)}


def test_good_adapter_is_usable(base, root, write_numpy_adapter):
    write_numpy_adapter(root / "good", base, layers=(0, 5))
    entry = _by_name(base, root)["good"]
    assert entry.usable, entry.reason
    assert entry.rank == 4 and entry.alpha == 8
    assert entry.targets == ("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj",
                             "v_proj")
    assert entry.meta is None  # dropped in without qconsole metadata: still listed and usable


def test_registry_is_the_default_root(base, isolated_workspace, write_numpy_adapter):
    write_numpy_adapter(isolated_workspace / "adapters" / "a", base, layers=(0,))
    assert [e.name for e in list_adapters(base)] == ["a"]
    assert get_adapter("a", base).usable


def test_bad_adapters_are_listed_with_reasons_never_raise(base, root, write_fake_adapter):
    write_fake_adapter(root / "other-base", {
        f"{Q0}.lora_A.weight": (4, 64), f"{Q0}.lora_B.weight": (64, 4)},
        config={"base_model_name_or_path": "unsloth/Qwen3-0.6B-Base-bnb-4bit"})
    write_fake_adapter(root / "tied-head", {
        "base_model.model.lm_head.lora_A.weight": (4, 640),
        "base_model.model.lm_head.lora_B.weight": (262144, 4)})
    write_fake_adapter(root / "embeddings", {
        "base_model.model.model.embed_tokens.lora_embedding_A": (4, 262144),
        "base_model.model.model.embed_tokens.lora_embedding_B": (640, 4)})
    write_fake_adapter(root / "too-deep", {
        "base_model.model.model.layers.18.self_attn.q_proj.lora_A.weight": (4, 640),
        "base_model.model.model.layers.18.self_attn.q_proj.lora_B.weight": (1024, 4)})
    write_fake_adapter(root / "dora", {
        f"{Q0}.lora_A.weight": (4, 640), f"{Q0}.lora_B.weight": (1024, 4)},
        config={"use_dora": True})
    write_fake_adapter(root / "full-weights", {
        f"{Q0}.lora_A.weight": (4, 640), f"{Q0}.lora_B.weight": (1024, 4),
        "base_model.model.lm_head.modules_to_save.default.weight": (262144, 640)})
    write_fake_adapter(root / "half-pair", {f"{Q0}.lora_A.weight": (4, 640)})
    write_fake_adapter(root / "ia3", {f"{Q0}.lora_A.weight": (4, 640),
                                      f"{Q0}.lora_B.weight": (1024, 4)},
                       config={"peft_type": "IA3"})
    (root / "no-weights").mkdir()
    (root / "no-weights" / "adapter_config.json").write_text("{}")
    (root / "pickle").mkdir()
    (root / "pickle" / "adapter_config.json").write_text("{}")
    (root / "pickle" / "adapter_model.bin").write_bytes(b"\x80\x04")
    write_fake_adapter(root / "bad-config", {f"{Q0}.lora_A.weight": (4, 640)})
    (root / "bad-config" / "adapter_config.json").write_text("{not json")
    write_fake_adapter(root / "bad-weights", {})
    (root / "bad-weights" / "adapter_model.safetensors").write_bytes(b"\xff" * 12)
    (root / ".install-123").mkdir()  # an install in progress: never listed
    (root / "README.txt").write_text("not an adapter")

    entries = _by_name(base, root)
    assert ".install-123" not in entries and "README.txt" not in entries
    expected = {
        "other-base": "another base (unsloth/Qwen3-0.6B-Base-bnb-4bit)",
        "tied-head": "ties",
        "embeddings": "embed_tokens",
        "too-deep": "another base",
        "dora": "DoRA",
        "full-weights": "modules_to_save",
        "half-pair": "incomplete LoRA pair",
        "ia3": "IA3",
        "no-weights": "missing adapter_model.safetensors",
        "pickle": "adapter_model.bin",
        "bad-config": "unreadable adapter_config.json",
        "bad-weights": "not a safetensors file",
    }
    assert set(entries) == set(expected)
    for name, fragment in expected.items():
        entry = entries[name]
        assert not entry.usable, name
        assert fragment in entry.reason, (name, entry.reason)
        assert "\n" not in entry.reason
        assert "unusable" in entry.summary()


def test_metadata_decides_fit_by_shape_and_warns_on_another_file(base, root, write_numpy_adapter):
    meta = AdapterMeta.for_base(base, name="m")
    write_numpy_adapter(root / "same", base, layers=(0,))
    meta.write(root / "same")
    other = AdapterMeta.for_base(base, name="x")
    other.base_sha256 = "0" * 64  # same shape, another file (e.g. a Q8_0 of the same model)
    write_numpy_adapter(root / "requantised", base, layers=(0,))
    other.write(root / "requantised")
    foreign = AdapterMeta.for_base(base, name="f", base_name="Qwen3-0.6B-Base")
    foreign.base_shape = {**foreign.base_shape, "embedding_length": 1024}
    write_numpy_adapter(root / "foreign", base, layers=(0,))
    foreign.write(root / "foreign")

    entries = _by_name(base, root)
    assert entries["same"].usable and not entries["same"].warnings
    assert entries["requantised"].usable
    assert "another file of the same shape" in entries["requantised"].warnings[0]
    assert not entries["foreign"].usable
    assert "Qwen3-0.6B-Base" in entries["foreign"].reason
    assert "embedding_length" in entries["foreign"].reason


def test_unreadable_metadata_is_a_warning_not_a_crash(base, root, write_numpy_adapter):
    write_numpy_adapter(root / "a", base, layers=(0,))
    (root / "a" / "qconsole_adapter.json").write_text("{broken")
    entry = _by_name(base, root)["a"]
    assert entry.usable and entry.meta is None
    assert "qconsole_adapter.json" in entry.warnings[0]


def test_adapter_of_a_real_tiny_qwen3_is_refused_by_gemma_and_fits_its_own_base(
        base, root, tmp_path, write_tiny_gguf_base, tiny_hf_model):
    """A PEFT adapter made on a transformers Qwen3 of another shape: listed unusable against the
    embedded Gemma base, usable against a (tiny GGUF) base of its own shape."""
    from peft import LoraConfig, get_peft_model

    model = tiny_hf_model("qwen3")
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    peft_model.save_pretrained(str(root / "qwen-tiny"))
    entry = _by_name(base, root)["qwen-tiny"]
    assert not entry.usable
    assert "another base" in entry.reason and "->64 in the adapter" in entry.reason
    tiny = write_tiny_gguf_base(tmp_path / "tiny-qwen3.gguf")
    assert _by_name(tiny, root)["qwen-tiny"].usable


def test_unsupported_base_architecture(root, tmp_path, base, write_numpy_adapter,
                                       write_tiny_gguf_base):
    write_numpy_adapter(root / "a", base, layers=(0,))
    phi = write_tiny_gguf_base(tmp_path / "phi.gguf", arch="phi3")
    entry = _by_name(phi, root)["a"]
    assert not entry.usable and "not supported" in entry.reason


def test_sanitize_name():
    assert sanitize_name("chain sum / v2") == "chain-sum-v2"
    assert sanitize_name("../../etc/passwd") == "etc-passwd"
    assert sanitize_name(".hidden") == "hidden"
    assert sanitize_name("Ünïcode—name") == "Unicode-name"
    assert sanitize_name("") == "adapter"
    assert sanitize_name("..") == "adapter"
    assert sanitize_name("x" * 200) == "x" * 64
    for bad in ("a/b", "a\\b", "/abs", "..", "."):
        assert "/" not in sanitize_name(bad) and "\\" not in sanitize_name(bad)
        assert sanitize_name(bad) not in (".", "..")


def test_install_moves_atomically_with_metadata(base, root, tmp_path, write_numpy_adapter):
    src = write_numpy_adapter(root / ".tmp-train", base, layers=(0,))
    records = [{"id": 1, "target": "6"}]
    meta = AdapterMeta.for_base(
        base, name="chain sum", source={"correction_ids": [1], "data_hash": hash_records(records)},
        hyperparameters={"r": 4, "lora_alpha": 8}, final_loss=0.42, notes="first try",
    )
    entry = install_adapter(src, meta)
    assert not src.exists()
    assert entry.name == "chain-sum" and entry.path == root / "chain-sum"
    assert entry.usable, entry.reason
    saved = json.loads((entry.path / "qconsole_adapter.json").read_text())
    assert saved["name"] == "chain-sum"
    assert saved["base"]["shape_signature"]["architecture"] == "gemma3"
    assert saved["final_loss"] == 0.42 and saved["source"]["correction_ids"] == [1]
    listed = _by_name(base, root)["chain-sum"]
    assert listed.meta.final_loss == 0.42 and listed.meta.hyperparameters["r"] == 4

    again = install_adapter(write_numpy_adapter(tmp_path / "t2", base, layers=(0,)), meta)
    assert again.name == "chain-sum-2"  # never overwrites an existing adapter
    assert json.loads((again.path / "qconsole_adapter.json").read_text())["name"] == "chain-sum-2"


def test_install_refuses_an_incomplete_adapter_and_leaves_it(base, root, tmp_path):
    src = tmp_path / "half"
    src.mkdir()
    (src / "adapter_config.json").write_text("{}")
    with pytest.raises(QConsoleError, match="adapter_model.safetensors"):
        install_adapter(src, AdapterMeta.for_base(base, name="half"), root=root)
    assert src.exists()
    assert list_adapters(base, root=root) == []


def test_install_across_filesystems_copies_then_renames(base, root, tmp_path, monkeypatch,
                                                        write_numpy_adapter):
    import qconsole.adapters.registry as registry

    src = write_numpy_adapter(tmp_path / "elsewhere", base, layers=(0,))
    real_rename = os.rename

    def rename(a, b):
        if Path(a) == src:
            raise OSError(18, "Invalid cross-device link")
        return real_rename(a, b)

    monkeypatch.setattr(registry.os, "rename", rename)
    entry = install_adapter(src, AdapterMeta.for_base(base, name="x"), root=root)
    assert entry.usable and not src.exists()
    assert [p.name for p in root.iterdir()] == ["x"]  # no staging directory left behind


def test_concurrent_installs_of_one_name_both_succeed(base, root, tmp_path, write_numpy_adapter):
    sources = [write_numpy_adapter(tmp_path / f"s{i}", base, layers=(0,)) for i in range(4)]
    names: list[str] = []

    def go(src):
        names.append(install_adapter(src, AdapterMeta.for_base(base, name="same"),
                                     root=root).name)

    threads = [threading.Thread(target=go, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(names) == ["same", "same-2", "same-3", "same-4"]
    assert all(e.usable for e in list_adapters(base, root=root))


def test_get_adapter_errors(base, root, write_numpy_adapter):
    write_numpy_adapter(root / "a", base, layers=(0,))
    with pytest.raises(QConsoleError, match="no adapter named 'b'.*adapters: a"):
        get_adapter("b", base, root=root)
    with pytest.raises(QConsoleError):
        get_adapter("../a", base, root=root)


def test_metadata_round_trip_keeps_unknown_keys(tmp_path):
    meta = AdapterMeta(name="n", base_name="b", base_shape={"architecture": "gemma3"})
    data = meta.to_dict() | {"future_field": {"x": 1}}
    back = AdapterMeta.from_dict(data)
    assert back.extra == {"future_field": {"x": 1}}
    assert back.to_dict()["future_field"] == {"x": 1}
    with pytest.raises(ValueError):
        AdapterMeta.from_dict({"name": "no base"})
    assert hash_records([{"a": 1, "b": 2}]) == hash_records([{"b": 2, "a": 1}])
    assert hash_records([1, 2]) != hash_records([2, 1])


def test_adapter_core_imports_nothing_heavy():
    """Listing adapters in the console must not pull torch, transformers, peft, llama.cpp or
    Textual: they load only when converting or verifying."""
    import subprocess
    import sys

    modules = ["qconsole.adapters", "qconsole.adapters.gguf_lora", "qconsole.adapters.verify",
               "qconsole.hf.gguf_model", "qconsole.models.fingerprint",
               "qconsole.commands.adapters"]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    code += "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = set(out.stdout.split())
    assert not loaded & {"torch", "transformers", "peft", "llama_cpp", "textual", "gguf"}
