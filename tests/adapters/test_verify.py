"""The equivalence check passes for a real PEFT adapter and fails when llama.cpp's GGUF LoRA is
silently ignored (zeroed B), misplaced (shifted layers), mis-scaled, or unknown to llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from qconsole.adapters import list_adapters
from qconsole.adapters.gguf_lora import ensure_gguf_lora
from qconsole.adapters.verify import verify_adapter
from qconsole.errors import QConsoleError

pytestmark = pytest.mark.slow

PROMPTS = ("The capital of France is", "User: How does a judgement differ from a description?\n"
           "Assistant:")


@pytest.fixture(scope="module")
def adapter_root(tmp_path_factory, make_peft_adapter) -> Path:
    root = tmp_path_factory.mktemp("adapters")
    make_peft_adapter(root / "good", b_std=0.02, seed=1)
    make_peft_adapter(root / "untrained", b_std=0.0)
    return root


def _entry(base: Path, root: Path, name: str):
    return {e.name: e for e in list_adapters(base, root=root)}[name]


def test_verify_passes_for_a_real_adapter(adapter_root, backend, hf_base, embedded_model_path):
    entry = _entry(embedded_model_path, adapter_root, "good")
    report = verify_adapter(entry, backend=backend, hf=hf_base, prompts=PROMPTS, n_tokens=12)
    assert report.passed, report.table()
    assert report.effect_hf > 0.05 and 0.5 < report.effect_llama / report.effect_hf < 2
    assert report.top1_agreement >= 0.85
    assert report.kl_engines < 0.05
    assert any(r.changed_top1 > 0 for r in report.results)  # it does change the replies
    assert backend.adapter_path is None  # the shared backend got its state back
    assert "PASS" in report.table()


@pytest.mark.parametrize("mode", ["zero_b", "shift_layers", "double_b", "rename"])
def test_verify_fails_for_a_broken_gguf_lora(adapter_root, backend, tmp_path, mode, hf_base,
                                             rewrite_gguf_lora, embedded_model_path):
    entry = _entry(embedded_model_path, adapter_root, "good")
    broken = rewrite_gguf_lora(ensure_gguf_lora(entry), tmp_path / f"{mode}.gguf", mode)
    # one prompt suffices: each fault misses its threshold by a factor of 3 or more per prompt
    report = verify_adapter(entry, backend=backend, hf=hf_base, prompts=PROMPTS[:1],
                            n_tokens=8, gguf_lora=broken)
    assert not report.passed, report.table()
    expected = {
        "zero_b": "barely applies",
        "shift_layers": "engines disagree",
        "double_b": "too strongly",
        "rename": "refused",
    }[mode]
    assert any(expected in f for f in report.failures), report.failures
    assert "FAIL" in report.table()


def test_verify_fails_for_an_adapter_that_changes_nothing(adapter_root, backend, hf_base,
                                                          embedded_model_path):
    entry = _entry(embedded_model_path, adapter_root, "untrained")
    report = verify_adapter(entry, backend=backend, hf=hf_base,
                            prompts=PROMPTS[:1], n_tokens=8)
    assert not report.passed
    assert "changes too little" in report.failures[0]


def test_cli_verify(adapter_root, monkeypatch, capsys, tmp_path, hf_base, write_fake_adapter,
                    embedded_model_path):
    from qconsole.cli import main

    write_fake_adapter(adapter_root / "foreign", {
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": (4, 64),
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": (64, 4)})
    monkeypatch.setenv("QCONSOLE_ADAPTERS", str(adapter_root))
    assert main(["adapters", "list"]) == 0
    out = capsys.readouterr().out
    assert "ok good" in out and "-- foreign" in out and "another base" in out
    assert main(["adapters", "verify", "foreign"]) == 2
    assert "cannot be used" in capsys.readouterr().err
    assert main(["adapters", "convert", "good"]) == 0
    assert "adapter.gguf" in capsys.readouterr().out
    with pytest.raises(QConsoleError):
        verify_adapter(_entry(embedded_model_path, adapter_root, "foreign"))
    # A failing check exits 1 with the table (the transformers model is the one already loaded).
    import qconsole.hf.gguf_model as gguf_model

    monkeypatch.setattr(gguf_model, "load_hf_model", lambda path, **kw: hf_base)
    argv = ["adapters", "verify", "untrained", "--prompt", PROMPTS[0], "--tokens", "4"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "FAIL: the adapter changes too little" in out and "effect HF" in out
