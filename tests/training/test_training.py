"""Training core without the real model: settings, example sources, packing, the loop, the CPU
backend (on a tiny random Gemma 3 built offline in a fraction of a second)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from qconsole.errors import QConsoleError
from qconsole.prompts import Message
from qconsole.training.dataset import IGNORE_INDEX, TokenizedExample
from qconsole.training.examples import (
    TrainingExample,
    dedupe,
    examples_from_store,
    from_messages,
    load_replay,
)
from qconsole.training.loop import TrainingCancelled, lr_at, train_loop
from qconsole.training.packing import epoch_order, pack_rows
from qconsole.training.settings import ALL_LINEAR, PRESETS, TrainSettings, settings_for

# -- settings ------------------------------------------------------------------------------


def test_default_settings_follow_the_guide():
    s = settings_for()
    assert (s.rank, s.alpha, s.dropout, s.learning_rate, s.epochs) == (16, 32.0, 0.05, 2e-4, 3)
    assert s.target_modules == ALL_LINEAR
    assert "lm_head" not in s.target_modules
    assert set(PRESETS) == {"quick", "default", "thorough"}


def test_preset_with_overrides_and_round_trip():
    s = settings_for("thorough", rank=8, learning_rate=None)
    assert s.rank == 8 and s.alpha == 64.0 and s.learning_rate == 1e-4
    assert TrainSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s


@pytest.mark.parametrize(
    "bad",
    [{"target_modules": ("q_proj", "lm_head")}, {"rank": 0}, {"learning_rate": 2.0},
     {"schedule": "steps"}, {"bf16": "maybe"}],
)
def test_bad_settings_are_refused_with_a_reason(bad):
    with pytest.raises(QConsoleError, match="bad training settings"):
        settings_for(**bad)
    with pytest.raises(QConsoleError, match="unknown preset"):
        settings_for("fastest")


def test_total_steps_min_and_max():
    s = settings_for(batch_size=4, epochs=3, min_steps=0)
    assert s.total_steps(10) == (9, 3)  # 3 batches per epoch
    s = settings_for(batch_size=4, epochs=3, min_steps=12)
    assert s.total_steps(5) == (12, 6)  # tiny set: more passes
    s = settings_for(batch_size=2, epochs=3, min_steps=0, max_steps=4)
    assert s.total_steps(10) == (4, 1)


def test_lr_schedule_warms_up_and_decays():
    s = settings_for(warmup_ratio=0.1, learning_rate=1e-3)
    lrs = [lr_at(i, 20, s) for i in range(20)]
    assert lrs[0] < lrs[1] <= 1e-3
    assert max(lrs) == pytest.approx(1e-3)
    assert lrs[-1] < lrs[5] and lrs[-1] > 0
    cos = settings_for(schedule="cosine", warmup_ratio=0.0, learning_rate=1e-3)
    assert lr_at(0, 10, cos) == pytest.approx(1e-3)
    const = settings_for(schedule="constant", warmup_ratio=0.0)
    assert lr_at(9, 10, const) == const.learning_rate


# -- examples --------------------------------------------------------------------------------


def test_examples_from_the_real_store(tmp_path: Path):
    from qconsole.store import SessionStore

    store = SessionStore(tmp_path / "sessions", durable=False)
    sid = store.create_session({"title": "t", "template": "transcript"})
    t1 = store.append_turn(sid, {"user": "2+2?", "left": {"text": "5"}, "right": {"text": "4"}})
    t2 = store.append_turn(sid, {"user": "and 3+3?", "left": {"text": "7"}, "right": {"text": "6"}})
    store.set_mark(sid, t1, "left", "reasoning_step")
    store.set_rewrite(sid, t1, "left", "2 + 2 = 4.")
    store.set_rewrite(sid, t2, "left", "3 + 3 = 6.")
    store.set_preference(sid, t2, "right")
    examples, warnings = examples_from_store(tmp_path / "sessions")
    assert warnings == []
    assert [e.target for e in examples] == ["2 + 2 = 4.", "3 + 3 = 6."]
    first, second = examples
    assert first.id == f"{sid}/{t1}/left" and first.source == "correction"
    assert first.template == "transcript" and len(first.hash) == 16
    # The later correction sees the earlier rewrite, not the wrong reply, as its context.
    assert second.context == (Message("user", "2+2?"), Message("assistant", "2 + 2 = 4."))
    with_prefs, _ = examples_from_store(tmp_path / "sessions", include_preferences=True)
    assert [e.source for e in with_prefs] == ["correction", "correction", "preference"]
    assert with_prefs[-1].target == "6"


def test_replay_file_forms_and_limit(tmp_path: Path):
    path = tmp_path / "replay.jsonl"
    lines = [
        {"messages": [{"role": "user", "content": "hi"},
                      {"role": "assistant", "content": "hello"}]},
        {"prompt": "Capital of Peru?", "completion": "Lima."},
        {"user": "x", "assistant": "y", "id": "own-id"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    got = load_replay(path)
    assert [(e.user, e.target, e.source) for e in got] == [
        ("hi", "hello", "replay"), ("Capital of Peru?", "Lima.", "replay"), ("x", "y", "replay"),
    ]
    assert got[0].id == "replay:replay.jsonl:1" and got[2].id == "own-id"
    assert len(load_replay(path, limit=2)) == 2
    path.write_text('{"messages": [{"role": "user", "content": "only a question"}]}\n')
    with pytest.raises(QConsoleError, match="line 1"):
        load_replay(path)
    with pytest.raises(QConsoleError, match="cannot read replay file"):
        load_replay(tmp_path / "missing.jsonl")


def test_from_messages_and_dedupe():
    ex = from_messages([
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"},
    ])
    assert ex.user == "c" and ex.target == "d" and len(ex.context) == 3
    again = TrainingExample(ex.context, "c", "d", "correction", id="other")
    assert ex.hash == again.hash
    assert dedupe([ex, again]) == [ex]


# -- packing and the loop on a tiny random model ----------------------------------------------


def _tiny_model(seed: int = 0):
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=8,
        layer_types=["sliding_attention", "full_attention"], max_position_embeddings=256,
        attn_implementation="sdpa",
    )
    return Gemma3ForCausalLM(config).eval()


def _examples(n: int, seed: int = 0) -> list[TokenizedExample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        prompt = [2] + [rng.randrange(10, 320) for _ in range(rng.randrange(3, 20))]
        reply = [rng.randrange(10, 320) for _ in range(rng.randrange(2, 9))]
        ex = TrainingExample((), f"u{i}", f"t{i}")
        out.append(TokenizedExample(ex, "p", "c", tuple(prompt + reply), len(prompt)))
    return out


def test_labels_mask_exactly_the_prompt():
    [ex] = _examples(1)
    labels = ex.labels
    assert labels[: ex.prompt_len] == [IGNORE_INDEX] * ex.prompt_len
    assert labels[ex.prompt_len:] == list(ex.input_ids[ex.prompt_len:])


def test_packing_gives_the_same_loss_as_one_example_at_a_time():
    import torch
    import torch.nn.functional as F

    model = _tiny_model()
    examples = _examples(5)
    rows = pack_rows(examples, row_tokens=10_000)
    assert len(rows) == 1 and rows[0].n_examples == 5
    assert rows[0].n_targets == sum(e.n_completion for e in examples)
    with torch.no_grad():
        row = rows[0]
        logits = model(input_ids=row.input_ids, position_ids=row.position_ids,
                       logits_to_keep=row.keep, use_cache=False).logits[0]
        packed = F.cross_entropy(logits, row.targets, reduction="sum").item()
        single = 0.0
        for ex in examples:
            ids = torch.tensor([ex.input_ids])
            full = model(input_ids=ids, use_cache=False).logits[0]
            single += F.cross_entropy(
                full[ex.prompt_len - 1:-1], ids[0, ex.prompt_len:], reduction="sum"
            ).item()
    assert packed == pytest.approx(single, rel=1e-4)


def _alike_examples(n: int, seed: int = 0) -> list[TokenizedExample]:
    """Examples as the chat template makes them: one preamble, a few question stems, then
    their own tokens (paths longer than the tiny model's sliding window of 8)."""
    rng = random.Random(seed)
    preamble = [2, 11, 12, 13, 14, 15, 16]
    stems = [[20, 21, 22], [20, 21, 23, 24], [30]]
    out = []
    for i in range(n):
        own = [rng.randrange(40, 320) for _ in range(rng.randrange(1, 6))]
        prompt = preamble + rng.choice(stems) + own
        if i == 1:
            prompt = list(out[0].input_ids[:out[0].prompt_len])  # the same prompt twice
        reply = [rng.randrange(40, 320) for _ in range(rng.randrange(2, 7))]
        ex = TrainingExample((), f"u{i}", f"t{i}")
        out.append(TokenizedExample(ex, "p", "c", tuple(prompt + reply), len(prompt)))
    return out


def _row_loss(model, row):
    import torch.nn.functional as F

    from qconsole.training.packing import attention_for

    logits = model(input_ids=row.input_ids, position_ids=row.position_ids,
                   attention_mask=attention_for(row, model), logits_to_keep=row.keep,
                   use_cache=False).logits[0]
    return F.cross_entropy(logits.float(), row.targets, reduction="sum")


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_shared_prefix_rows_give_the_same_loss_and_gradients_with_fewer_tokens(attention):
    """The shared-prefix layout is an optimisation only: the loss and every LoRA gradient
    match the plain packed row (itself checked against one example at a time above)."""
    settings = settings_for(rank=4, alpha=8.0, dropout=0.0, bf16="off")
    model = _tiny_model()
    model.config._attn_implementation = attention
    model = _peft(model, settings)
    examples = _alike_examples(6)
    [plain] = pack_rows(examples, row_tokens=10_000)
    [shared] = pack_rows(examples, row_tokens=10_000, share_prefixes=True)
    assert plain.parents is None and shared.parents is not None
    assert shared.n_tokens + shared.shared_tokens == plain.n_tokens
    assert shared.shared_tokens >= 5 * 7  # the preamble at least, after the first example
    assert shared.n_targets == plain.n_targets == sum(e.n_completion for e in examples)
    grads = []
    for row in (plain, shared):
        model.zero_grad()
        loss = _row_loss(model, row)
        loss.backward()
        grads.append((loss.item(), [p.grad.clone() for p in model.parameters()
                                    if p.requires_grad]))
    (a, ga), (b, gb) = grads
    assert a == pytest.approx(b, rel=1e-5)
    for x, y in zip(ga, gb, strict=True):
        assert (x - y).abs().max().item() <= 1e-5 * max(1.0, x.abs().max().item())


def test_prefix_sharing_is_used_only_where_the_attention_reads_an_explicit_mask():
    from qconsole.training.packing import can_share_prefixes

    model = _tiny_model()
    assert can_share_prefixes(model)
    model.config._attn_implementation = "flash_attention_2"
    assert not can_share_prefixes(model)
    # nothing in common (or one example alone): the plain row, the model's own mask
    [row] = pack_rows(_examples(1), share_prefixes=True)
    assert row.parents is None and row.shared_tokens == 0


def test_the_loop_reports_the_shared_tokens_and_trains_the_same_either_way():
    settings = settings_for(batch_size=3, epochs=2, min_steps=0, learning_rate=5e-3,
                            warmup_ratio=0.0, dropout=0.0, bf16="off")
    examples = _alike_examples(6, seed=2)
    results = []
    for share in (False, True):
        model = _peft(_tiny_model(), settings)
        results.append(train_loop(model, examples, settings, share_prefixes=share))
    plain, shared = results
    assert plain.shared_tokens == 0 < shared.shared_tokens
    assert plain.tokens == shared.tokens == 2 * sum(e.n_tokens for e in examples)
    assert shared.losses == pytest.approx(plain.losses, rel=1e-4)


def test_pack_rows_respects_the_cap_and_keeps_every_example():
    examples = _examples(12, seed=3)
    rows = pack_rows(examples, row_tokens=40)
    assert sum(r.n_examples for r in rows) == 12
    assert all(r.n_tokens <= 40 or r.n_examples == 1 for r in rows)
    assert len(pack_rows(examples, row_tokens=0)) == 12  # every example alone


def test_epoch_order_is_a_seeded_permutation():
    a = epoch_order(10, 4, seed=1, epoch=0)
    assert [len(b) for b in a] == [4, 4, 2]
    assert sorted(i for b in a for i in b) == list(range(10))
    assert a == epoch_order(10, 4, seed=1, epoch=0) != epoch_order(10, 4, seed=1, epoch=1)


def _peft(model, settings):
    from peft import get_peft_model

    from qconsole.training.backends import lora_config

    return get_peft_model(model, lora_config(settings))


@pytest.mark.parametrize("model_loss", [False, True])
def test_loop_lowers_the_loss_and_reports_every_step(model_loss):
    settings = settings_for(batch_size=2, epochs=4, min_steps=0, learning_rate=5e-3,
                            warmup_ratio=0.0, dropout=0.0, bf16="off")
    model = _peft(_tiny_model(), settings)
    examples = _examples(4)
    seen = []
    result = train_loop(model, examples, settings, on_step=seen.append, model_loss=model_loss)
    assert result.steps == 8 == len(seen) == len(result.losses)
    assert [s.step for s in seen] == list(range(1, 9))
    assert seen[-1].eta_s == 0 and seen[-1].epoch == pytest.approx(4.0)
    assert seen[0].epoch == pytest.approx(0.5)
    assert result.final_loss < result.losses[0]
    assert result.trained_tokens == 4 * sum(e.n_completion for e in examples)


def test_loop_stops_when_asked():
    settings = settings_for(batch_size=1, epochs=3, min_steps=0, bf16="off")
    model = _peft(_tiny_model(), settings)
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(TrainingCancelled):
        train_loop(model, _examples(3), settings, should_stop=should_stop)


def test_cpu_backend_writes_a_standard_peft_adapter(tmp_path: Path):
    from qconsole.adapters.peft_files import read_peft_adapter
    from qconsole.training.backends import BackendJob, CpuPeftBackend

    base_dir = tmp_path / "tiny"
    _tiny_model().save_pretrained(base_dir)
    settings = settings_for(batch_size=2, epochs=1, min_steps=0, rank=4, alpha=8.0)
    job = BackendJob(
        gguf_path=tmp_path / "unused.gguf", examples=_examples(4), settings=settings,
        out_dir=tmp_path / "adapter", hf_model_dir=base_dir,
    )
    result = CpuPeftBackend().train(job)
    assert result.backend == "cpu" and result.loop.steps == 2
    files = read_peft_adapter(tmp_path / "adapter")
    assert files.rank == 4 and files.lora_alpha == 8.0
    assert set(files.target_names) == set(ALL_LINEAR)
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"


def test_cpu_backend_refuses_unknown_targets(tmp_path: Path):
    from qconsole.training.backends import BackendJob, CpuPeftBackend

    base_dir = tmp_path / "tiny"
    _tiny_model().save_pretrained(base_dir)
    settings = settings_for(target_modules=("q_proj", "qkv_proj"))
    job = BackendJob(tmp_path / "x.gguf", _examples(2), settings, tmp_path / "a",
                     hf_model_dir=base_dir)
    with pytest.raises(QConsoleError, match="no module named qkv_proj"):
        CpuPeftBackend().train(job)


def test_unsloth_without_cuda_says_why():
    from qconsole.training.backends import CpuPeftBackend, select_backend
    from qconsole.training.hardware import cuda_available

    if cuda_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(QConsoleError, match="needs a CUDA GPU"):
        select_backend("unsloth")
    assert isinstance(select_backend("auto"), CpuPeftBackend)
    with pytest.raises(QConsoleError, match="unknown training backend"):
        select_backend("tpu")


def test_core_modules_import_no_heavy_libraries():
    """The console imports these to show settings and read events: no torch, no Textual."""
    import subprocess
    import sys

    modules = [
        "qconsole.jobs", "qconsole.training", "qconsole.training.settings",
        "qconsole.training.examples", "qconsole.training.dataset", "qconsole.training.packing",
        "qconsole.training.loop", "qconsole.training.backends", "qconsole.training.pipeline",
        "qconsole.training.hardware", "qconsole.training.unsloth_backend",
        "qconsole.training.launch",
        "qconsole.commands.train",
    ]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    code += "print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    heavy = {"torch", "transformers", "peft", "textual", "llama_cpp", "unsloth", "trl"}
    assert not heavy & {m.split(".")[0] for m in out}


def test_train_argv_round_trips_through_the_real_parser(tmp_path: Path):
    import argparse

    from qconsole.commands import train as train_cmd
    from qconsole.training.launch import train_argv

    settings = settings_for("thorough", rank=24, threads=1, max_steps=7, bf16="off",
                            target_modules=("q_proj", "v_proj"))
    argv = train_argv(settings, model="default", sessions_dir=tmp_path / "s", name="x",
                      replay=tmp_path / "r.jsonl", include_preferences=True, verify=False)
    assert argv[1:3] == ["-m", "qconsole"] and argv[-2:] == ["--progress-jsonl", "-"]
    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv[3:])
    assert train_cmd.settings_from_args(args) == settings
    request = train_cmd.request_from_args(args)
    assert request.name == "x" and request.include_preferences and not request.verify
    assert request.replay == tmp_path / "r.jsonl"


def test_train_request_round_trips_through_the_real_parser(tmp_path: Path):
    """The console's launch path: the dialog's TrainRequest -> argv -> what the CLI parses."""
    import argparse

    from qconsole.commands import train as train_cmd
    from qconsole.training.launch import request_argv
    from qconsole.training.request import TrainRequest

    request = TrainRequest(
        model="default", template="transcript",
        settings=settings_for("default", rank=8, epochs=2, learning_rate=1e-4, min_steps=3),
        sessions_dir=tmp_path / "s", session_ids=["a", "b"], kind="reasoning_step",
        include_preferences=True, replay=tmp_path / "r.jsonl", replay_max=5, name="x",
        adapters_root=tmp_path / "adapters", hf_model_dir=tmp_path / "hf", verify=False,
        dry_run=True, preview=2,
    )
    argv = request_argv(request, quiet=True)
    assert "--quiet" in argv and argv[-2:] == ["--progress-jsonl", "-"]
    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers(dest="command"))
    assert train_cmd.request_from_args(parser.parse_args(argv[3:])) == request


def test_training_state_folds_events():
    from qconsole.jobs.events import event
    from qconsole.training.launch import TrainingState

    state = TrainingState()
    state.apply(event("start", total_steps=4, summary_lines=["2 examples"], preview=[{}]))
    state.apply(event("phase", phase="load", message="loading"))
    for step, loss in enumerate([2.0, 1.0], 1):
        state.apply(event("progress", step=step, total_steps=4, epoch=step / 2, loss=loss,
                          lr=1e-4, tokens_per_s=100.0, eta_s=3.0))
    assert state.status == "running" and state.phase == "train" and state.fraction == 0.5
    assert state.losses == [(1, 2.0), (2, 1.0)]
    state.apply(event("log", level="warning", message="careful"))
    assert state.log[-1] == "warning: careful" and not state.finished
    state.apply(event("done", adapter="lora-1"))
    assert state.finished and state.adapter == "lora-1" and state.message == "adapter lora-1 ready"
    crashed = TrainingState()
    crashed.apply(event("error", message="killed by SIGKILL", synthetic=True))
    assert crashed.status == "error" and crashed.adapter is None
    evaluation = TrainingState()  # the jobs pane folds an evaluation's events the same way
    evaluation.apply(event("phase", phase="suite", suite="chain_sum"))
    evaluation.apply(event("progress", step=3, total_steps=8, suite="chain_sum", eta_s=2.0))
    evaluation.apply(event("suite_done", suite="chain_sum", comparison={"suite": "chain_sum"}))
    assert evaluation.suite == "chain_sum" and evaluation.phase == "suite"
    assert evaluation.comparisons == [{"suite": "chain_sum"}] and evaluation.log[0] == (
        "suite: chain_sum")
