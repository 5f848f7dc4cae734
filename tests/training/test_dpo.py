"""A real short DPO run on the embedded Gemma 3 270M: pairs from a rewrite, a sighted
preference and a blind vote in a real store; the pipeline trains, converts, checks and
installs the adapter as for SFT; llama.cpp, with the installed GGUF LoRA, then gives every
chosen reply a larger log-probability margin over its rejected reply than the base does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"
ANSWER = "3 + 5 = 8, and 8 - 2 = 6. The answer is 6."


def _sessions(root: Path) -> None:
    from qconsole.store import SessionStore

    store = SessionStore(root, durable=False)
    sid = store.create_session({"title": "prefs", "template": "transcript"})
    t1 = store.append_turn(sid, {"user": QUESTION, "left": {"text": "3+2=5"},
                                 "right": {"text": "3+2=5"}})
    store.set_mark(sid, t1, "left", "reasoning_step")
    store.set_rewrite(sid, t1, "left", ANSWER)  # rewrite pair
    t2 = store.append_turn(sid, {"user": "What is the capital of France?",
                                 "left": {"text": "Berlin."}, "right": {"text": "Paris."}})
    store.set_preference(sid, t2, "right")  # sighted preference pair
    t3 = store.append_turn(sid, {"user": "Name a primary colour.", "left": {"text": "Banana."},
                                 "right": {"text": "Blue."}})
    _blind_vote(store, sid, t3, winner="right")


def _blind_vote(store, sid: str, turn_id: str, *, winner: str) -> None:
    blind = store.start_blind(sid, turn_id, seed=12)  # A/B drawn from the seed
    store.set_vote(sid, turn_id, "a" if blind["assignment"]["A"] == winner else "b")


def _llama_margins(engine, pairs, adapter: Path | None) -> list[float]:
    engine.set_adapter(adapter)
    requests = []
    for p in pairs:
        requests += [(p.prompt_ids, p.chosen_ids), (p.prompt_ids, p.rejected_ids)]
    scores = [s for s, _ in engine.score(requests)]
    return [scores[2 * i] - scores[2 * i + 1] for i in range(len(pairs))]


def test_dpo_raises_the_chosen_margin_through_llama_cpp(tmp_path: Path, backend):
    from qconsole.inference.llama_engine import LlamaEngine
    from qconsole.training.pipeline import run_training
    from qconsole.training.request import TrainRequest
    from qconsole.training.settings import settings_for

    _sessions(tmp_path / "sessions")
    request = TrainRequest(
        objective="dpo", model="default",
        settings=settings_for("default", batch_size=3, epochs=1, min_steps=8, beta=0.1),
        sessions_dir=tmp_path / "sessions", adapters_root=tmp_path / "adapters", name="dpo-t",
    )
    events: list[tuple[str, dict]] = []
    outcome = run_training(request, emit=lambda kind, **f: events.append((kind, f)))
    pairs = outcome.prepared.training_set.pairs
    assert sorted(p.example.source for p in pairs) == ["blind", "preference", "rewrite"]
    assert [f["phase"] for k, f in events if k == "phase"] == [
        "prepare", "load", "convert", "verify", "install"]
    assert outcome.equivalence is not None and outcome.equivalence["passed"] is True

    folder = tmp_path / "adapters" / "dpo-t"
    meta = json.loads((folder / "qconsole_adapter.json").read_text())
    assert meta["source"]["objective"] == "dpo" and meta["hyperparameters"]["beta"] == 0.1
    assert meta["source"]["by_source"] == {"rewrite": 1, "preference": 1, "blind": 1}
    assert len(meta["source"]["correction_ids"]) == 1  # the rewrite pair is a correction
    dpo = meta["training"]["details"]["dpo"]
    assert dpo["margin_after"] > dpo["margin_before"] and dpo["reward_accuracy"] == 1.0

    engine = LlamaEngine(backend=backend)
    try:
        before = _llama_margins(engine, pairs, None)
        after = _llama_margins(engine, pairs, folder / "adapter.gguf")
    finally:
        engine.set_adapter(None)
        engine.close()
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
    # the trainer's own before/after figures are llama.cpp's within quantisation noise: the
    # Q4_K_M base against its dequantised weights differs by up to ~1 nat over a ~60-nat margin
    # summed across a hundred tokens (seen: 62.94 against 61.65), so 0.5 nats plus 3%
    for i, row in enumerate(dpo["per_pair"]):
        for got, want in ((row["before"], before[i]), (row["after"], after[i])):
            assert got[0] - got[1] == pytest.approx(want, abs=0.5 + 0.03 * abs(want))
    print(f"DPO on 3 pairs, {outcome.loop.steps} steps, {outcome.seconds:.0f} s "
          f"(training {outcome.loop.elapsed_s:.1f} s): llama.cpp margins "
          f"{[round(b, 2) for b in before]} -> {[round(a, 2) for a in after]}")
