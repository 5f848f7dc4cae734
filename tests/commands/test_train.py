"""``qconsole train`` as the console runs it: a subprocess started through qconsole.jobs,
speaking JSON-lines events. The slow tests train the embedded model for real."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from qconsole.jobs import qconsole_argv, start_job

QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"
ANSWER = "3 + 5 = 8, and 8 - 2 = 6. The answer is 6."
PROGRESS_KEYS = {"step", "total_steps", "epoch", "loss", "lr", "tokens_per_s", "eta_s"}


def _session_with_correction(root: Path, wrong: str = "3+2=5") -> str:
    from qconsole.store import SessionStore

    store = SessionStore(root, durable=False)
    sid = store.create_session({"title": "apples", "template": "transcript"})
    turn = store.append_turn(sid, {"user": QUESTION, "left": {"text": wrong, "template":
                                   "transcript"}, "right": {"text": wrong}})
    store.set_mark(sid, turn, "left", "reasoning_step")
    store.set_rewrite(sid, turn, "left", ANSWER)
    return f"{sid}/{turn}/left"


def _train(tmp_path: Path, *args: str):
    argv = qconsole_argv(
        "train", "--sessions", str(tmp_path / "sessions"), "--adapters",
        str(tmp_path / "adapters"), "--progress-jsonl", "-", *args,
    )
    return start_job(argv, tmp_path / "train.log")


def test_nothing_to_train_is_a_clear_error_event(tmp_path: Path):
    handle = _train(tmp_path)
    result = handle.wait(timeout=300)
    assert result["event"] == "error" and "synthetic" not in result
    assert "nothing to train on" in result["message"]
    assert handle.returncode == 2
    assert not (tmp_path / "adapters").exists() or not any((tmp_path / "adapters").iterdir())


def test_bad_settings_are_an_error_event(tmp_path: Path):
    _session_with_correction(tmp_path / "sessions")
    handle = _train(tmp_path, "--targets", "q_proj,lm_head", "--dry-run")
    result = handle.wait(timeout=300)
    assert result["event"] == "error" and "lm_head" in result["message"]


def test_dry_run_shows_the_set_and_trains_nothing(tmp_path: Path):
    cid = _session_with_correction(tmp_path / "sessions")
    handle = _train(tmp_path, "--dry-run", "--preset", "quick")
    result = handle.wait(timeout=300)
    assert result["event"] == "done" and result["dry_run"] is True and result["adapter"] is None
    [start] = [e for e in handle.events if e["event"] == "start"]
    assert start["summary"]["examples"] == 1
    assert start["summary"]["end_of_turn"] == "\nUser:"
    assert start["preview"][0]["id"] == cid
    assert start["preview"][0]["completion"] == " " + ANSWER + "\nUser:"
    assert start["settings"]["rank"] == 8 and start["total_steps"] >= 1
    assert "training set: 1 examples (1 correction)" in handle.log_tail(50)


@pytest.mark.slow
def test_real_training_makes_the_failing_reply_pass(tmp_path: Path, backend):
    """Gemma 3 270M base gets the two-step word problem wrong; ten LoRA steps on the
    correction fix it through llama.cpp with the converted GGUF LoRA, the base still fails."""
    from qconsole.chat.loader import template_for_backend
    from qconsole.chat.side import ChatSide
    from qconsole.sampling import GREEDY

    template = template_for_backend(backend, "auto")
    backend.set_adapter(None)
    base_reply = ChatSide("left", backend, template).run_turn(QUESTION, GREEDY).reply
    assert "6" not in base_reply  # " 3+2=5" today
    cid = _session_with_correction(tmp_path / "sessions", wrong=base_reply)

    started = time.monotonic()
    handle = _train(tmp_path, "--batch-size", "1", "--min-steps", "10", "--name", "apples")
    result = handle.wait(timeout=600)
    elapsed = time.monotonic() - started
    assert result["event"] == "done", (result, handle.log_tail(30))
    progress = [e for e in handle.events if e["event"] == "progress"]
    assert len(progress) == 10 and set(progress[0]) >= PROGRESS_KEYS
    assert progress[-1]["loss"] < progress[0]["loss"] / 10
    phases = [e["phase"] for e in handle.events if e["event"] == "phase"]
    assert phases == ["prepare", "load", "convert", "verify", "install"]
    assert result["adapter"] == "apples" and result["equivalence"]["passed"] is True

    folder = tmp_path / "adapters" / "apples"
    assert sorted(p.name for p in (tmp_path / "adapters").iterdir()) == ["apples"]  # no temp
    meta = json.loads((folder / "qconsole_adapter.json").read_text())
    assert meta["source"]["correction_ids"] == [cid]
    assert len(meta["source"]["corrections_hash"]) == 64
    assert meta["hyperparameters"]["rank"] == 16 and meta["backend"] == "cpu"
    assert meta["final_loss"] == pytest.approx(result["final_loss"])
    assert meta["equivalence"]["passed"] is True
    assert meta["base"]["sha256"] and meta["training"]["steps"] == 10

    try:
        backend.set_adapter(folder / "adapter.gguf")
        tuned = ChatSide("right", backend, template).run_turn(QUESTION, GREEDY).reply
        backend.set_adapter(None)
        again = ChatSide("left", backend, template).run_turn(QUESTION, GREEDY).reply
    finally:
        backend.set_adapter(None)
    assert "The answer is 6" in tuned, tuned
    assert again == base_reply
    print(f"real training run: {elapsed:.0f} s, final loss {result['final_loss']:.4f}, "
          f"{result['tokens_per_s']} tokens/s; base {base_reply!r} -> adapter {tuned!r}")


@pytest.mark.slow
def test_cancel_a_real_run_leaves_nothing_behind(tmp_path: Path):
    _session_with_correction(tmp_path / "sessions")
    handle = _train(tmp_path, "--batch-size", "1", "--min-steps", "50", "--no-verify")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        handle.poll()
        if any(e["event"] == "progress" for e in handle.events) or not handle.running:
            break
        time.sleep(0.2)
    assert handle.running, handle.log_tail(30)
    handle.cancel(grace_s=60)
    result = handle.wait(timeout=120)
    assert result["event"] == "cancelled" and "synthetic" not in result  # it cleaned up itself
    assert handle.returncode == 130
    assert list((tmp_path / "adapters").iterdir()) == []  # not even a hidden temp dir
