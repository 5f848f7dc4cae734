"""The DPO loop without the real model: packed pair rows score each reply exactly as one
sequence at a time does, the loss is the sigmoid DPO loss computed by hand, the reference is
the base with the adapter disabled, and training on a tiny random model raises the
chosen-over-rejected margin of every pair (on a tiny Qwen3 built offline in a fraction of a
second)."""

from __future__ import annotations

import math
import random

import pytest

from qconsole.training.dpo_data import TokenizedPair
from qconsole.training.dpo_loop import dpo_loop, dpo_losses, pack_pairs, row_logps, score_pairs
from qconsole.training.preference_pairs import PreferenceExample
from qconsole.training.settings import settings_for

VOCAB = 320


def _pairs(n: int, seed: int = 0) -> list[TokenizedPair]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        prompt = (2, *(rng.randrange(10, VOCAB) for _ in range(rng.randrange(3, 15))))
        chosen = tuple(rng.randrange(10, VOCAB) for _ in range(rng.randrange(2, 7)))
        rejected = tuple(rng.randrange(10, VOCAB) for _ in range(rng.randrange(2, 7)))
        ex = PreferenceExample((), f"u{i}", f"c{i}", f"r{i}", "rewrite")
        out.append(TokenizedPair(ex, "p", prompt, chosen, rejected, "c", "r"))
    return out


def _one_at_a_time(model, pair: TokenizedPair) -> tuple[float, float]:
    """The plain way: one unpacked forward per sequence, log-softmax, gather."""
    import torch

    out = []
    for reply in (pair.chosen_ids, pair.rejected_ids):
        ids = torch.tensor([pair.prompt_ids + reply])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids, use_cache=False).logits[0], -1)
        n = len(pair.prompt_ids)
        out.append(sum(float(logp[n - 1 + k, t]) for k, t in enumerate(reply)))
    return out[0], out[1]


@pytest.fixture
def lora_model(tiny_hf_model):
    from peft import LoraConfig, get_peft_model

    model = tiny_hf_model(vocab_size=VOCAB)
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
                        target_modules=["q_proj", "v_proj", "up_proj", "down_proj"])
    return model, get_peft_model(model, config)


def test_packed_rows_score_like_one_sequence_at_a_time(tiny_hf_model):
    import torch

    model = tiny_hf_model(vocab_size=VOCAB)
    pairs = _pairs(5)
    rows = pack_pairs(pairs, range(5), row_tokens=10_000)
    assert len(rows) == 1 and sorted(rows[0].pair_index) == [0, 1, 2, 3, 4]
    assert rows[0].n_targets == sum(len(p.chosen_ids) + len(p.rejected_ids) for p in pairs)
    with torch.no_grad():
        packed = row_logps(model, rows[0])
    for j, i in enumerate(rows[0].pair_index):
        c, r = _one_at_a_time(model, pairs[i])
        assert float(packed[j, 0]) == pytest.approx(c, rel=1e-4)
        assert float(packed[j, 1]) == pytest.approx(r, rel=1e-4)


def test_pack_pairs_keeps_whole_pairs_under_the_cap():
    pairs = _pairs(12, seed=3)
    rows = pack_pairs(pairs, range(12), row_tokens=60)
    assert sorted(i for r in rows for i in r.pair_index) == list(range(12))
    assert all(r.n_tokens <= 60 or len(r.pair_index) == 1 for r in rows)
    assert all(r.n_tokens == sum(pairs[i].n_tokens for i in r.pair_index) for r in rows)


def test_dpo_loss_by_hand():
    import torch

    policy = torch.tensor([[-10.0, -12.0], [-5.0, -4.0]])
    reference = torch.tensor([[-11.0, -11.0], [-5.0, -5.0]])
    losses, logits = dpo_losses(policy, reference, beta=0.5)
    # pair 0: chosen rose 1, rejected fell 1: rise 2, logit 1.0; pair 1: rejected rose 1: -0.5
    assert logits.tolist() == pytest.approx([1.0, -0.5])
    assert losses.tolist() == pytest.approx([math.log1p(math.exp(-1.0)),
                                             math.log1p(math.exp(0.5))])


def test_reference_is_the_base_with_the_adapter_disabled(lora_model):
    import torch

    base, model = lora_model
    pairs = _pairs(3)
    with torch.no_grad():  # a LoRA that does something: the policy leaves the base
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.5)
    reference = score_pairs(model, pairs, adapter=False)
    policy = score_pairs(model, pairs)
    for i, pair in enumerate(pairs):
        with model.disable_adapter():
            expected = _one_at_a_time(model, pair)
        assert reference[i].tolist() == pytest.approx(list(expected), rel=1e-4)
    assert not torch.allclose(reference, policy)


@pytest.mark.parametrize("objective", ["dpo", "sft+dpo"])
def test_training_raises_every_margin_and_starts_at_log2(lora_model, objective):
    _, model = lora_model
    pairs = _pairs(6, seed=1)
    settings = settings_for(learning_rate=5e-3, batch_size=3, epochs=10, min_steps=0,
                            warmup_ratio=0.0, dropout=0.0, bf16="off", beta=0.5)
    steps = []
    result = dpo_loop(model, pairs, settings, objective=objective, on_step=steps.append)
    assert result.loop.steps == 20 and len(steps) == 20
    if objective == "dpo":  # a fresh LoRA (B = 0) is the reference: loss log 2 at first
        assert result.loop.losses[0] == pytest.approx(math.log(2), abs=1e-5)
    summary = result.scores.summary()
    assert summary["reward_accuracy"] == 1.0, summary
    assert summary["margin_after"] > summary["margin_before"] + 1.0
    assert result.reward_accuracies[-1] == 1.0
    assert result.loop.losses[-1] < result.loop.losses[0]
    if objective == "sft+dpo":  # the SFT term keeps the chosen replies likely
        assert summary["chosen_logp_change"] > 0


def test_dpo_loop_refuses_sft_and_an_empty_set(lora_model):
    _, model = lora_model
    with pytest.raises(ValueError, match="not 'sft'"):
        dpo_loop(model, _pairs(2), settings_for(), objective="sft")
    with pytest.raises(ValueError, match="no preference pairs"):
        dpo_loop(model, [], settings_for())
