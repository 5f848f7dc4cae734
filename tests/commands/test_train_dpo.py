"""``qconsole train --objective dpo|sft+dpo`` as the console runs it (a subprocess speaking
JSON-lines events): one clear line when there is nothing to prefer, the pair set in the start
event of a dry run, and the console's request surviving the trip through the flags."""

from __future__ import annotations

import argparse
from pathlib import Path

from qconsole.jobs import qconsole_argv, start_job

QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"
ANSWER = "3 + 5 = 8, and 8 - 2 = 6. The answer is 6."


def _train(tmp_path: Path, *args: str):
    argv = qconsole_argv(
        "train", "--sessions", str(tmp_path / "sessions"), "--adapters",
        str(tmp_path / "adapters"), "--progress-jsonl", "-", *args,
    )
    return start_job(argv, tmp_path / "train.log")


def _sessions(root: Path, *, pairs: bool) -> None:
    from qconsole.store import SessionStore

    store = SessionStore(root, durable=False)
    sid = store.create_session({"title": "t", "template": "transcript"})
    t1 = store.append_turn(sid, {"user": QUESTION, "left": {"text": "3+2=5"},
                                 "right": {"text": "8"}})
    t2 = store.append_turn(sid, {"user": "Name a primary colour.",
                                 "left": {"text": "Blue."}, "right": {"text": "Banana."}})
    if pairs:
        store.set_rewrite(sid, t1, "left", ANSWER)
        store.start_blind(sid, t2, 3, {"A": "right", "B": "left"})
        store.set_vote(sid, t2, "b")  # B (left) better
    else:
        store.start_blind(sid, t2, 3)
        store.set_vote(sid, t2, "tie")  # a tie prefers nothing


def test_no_pairs_is_one_clear_line(tmp_path: Path):
    _sessions(tmp_path / "sessions", pairs=False)
    handle = _train(tmp_path, "--objective", "dpo")
    result = handle.wait(timeout=300)
    assert result["event"] == "error" and handle.returncode == 2
    message = result["message"]
    assert message.startswith("nothing to train on with DPO: no preference pair")
    assert "\n" not in message and "Traceback" not in handle.log_tail(50)


def test_dpo_on_a_backend_without_it_is_refused(tmp_path: Path):
    _sessions(tmp_path / "sessions", pairs=True)
    handle = _train(tmp_path, "--objective", "sft+dpo", "--backend", "unsloth", "--dry-run")
    result = handle.wait(timeout=300)
    assert result["event"] == "error" and "unsloth trains sft only" in result["message"]


def test_dry_run_shows_the_pairs_by_source(tmp_path: Path):
    _sessions(tmp_path / "sessions", pairs=True)
    handle = _train(tmp_path, "--objective", "dpo", "--dry-run", "--beta", "0.2")
    result = handle.wait(timeout=300)
    assert result["event"] == "done" and result["dry_run"] is True, handle.log_tail(30)
    assert result["objective"] == "dpo" and result["adapter"] is None
    [start] = [e for e in handle.events if e["event"] == "start"]
    summary = start["summary"]
    assert summary["pairs"] == 2 and summary["by_source"] == {"rewrite": 1, "blind": 1}
    assert start["settings"]["beta"] == 0.2 and start["objective"] == "dpo"
    by_source = {p["source"]: p for p in start["preview"]}
    assert by_source["rewrite"]["completion"] == " " + ANSWER + "\nUser:"
    assert by_source["rewrite"]["rejected"] == " 3+2=5\nUser:"
    assert by_source["blind"]["completion"] == " Blue.\nUser:"
    assert by_source["blind"]["rejected"] == " Banana.\nUser:"
    assert "training set: 2 preference pairs (1 rewrite, 1 blind), objective dpo" in "\n".join(
        handle.log_tail(50))


def test_dpo_refuses_sft_only_data(tmp_path: Path):
    _sessions(tmp_path / "sessions", pairs=True)
    (tmp_path / "r.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    handle = _train(tmp_path, "--objective", "dpo", "--replay", str(tmp_path / "r.jsonl"),
                    "--dry-run")
    result = handle.wait(timeout=300)
    assert result["event"] == "error" and "--replay" in result["message"]


def test_the_objective_round_trips_through_the_real_parser(tmp_path: Path):
    from qconsole.commands import train as train_cmd
    from qconsole.training.launch import request_argv
    from qconsole.training.request import TrainRequest
    from qconsole.training.settings import settings_for

    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers(dest="command"))
    for objective in ("sft", "dpo", "sft+dpo"):
        request = TrainRequest(
            objective=objective, settings=settings_for("quick", beta=0.3, sft_weight=0.5),
            sessions_dir=tmp_path / "s", name="x",
        )
        argv = request_argv(request)
        assert train_cmd.request_from_args(parser.parse_args(argv[3:])) == request
    default = train_cmd.request_from_args(parser.parse_args(["train"]))
    assert default.objective == "sft"  # unchanged behaviour without the flag
