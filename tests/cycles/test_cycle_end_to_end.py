"""A two-cycle plan on tiny suites, end to end: real probing and evaluation through llama.cpp
on the embedded base, real LoRA training (tiny settings), and a real SIGKILL of the
``qconsole cycle`` process in the middle of cycle 1's training; the second run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qconsole.store import SessionStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PLAN = """\
name: tiny
cycles: [{topics: [sums]}, {topics: [logic]}]
topics:
  - name: sums
    probes: {gym: {preset: chain_sum, size: 6, seed: 10000}}
    corrections: {source: reference, max: 4, include_passed: true}
    heldout: {preset: chain_sum, size: 6, seed: 1}
  - name: logic
    probes: {gym: {preset: syllogism, size: 4, seed: 20000}}
    corrections: {source: reference, max: 3, include_passed: true}
    heldout: {preset: syllogism, size: 4, seed: 5000}
training: {preset: quick, seeds: [0], verify: false,
           settings: {max_steps: 3, min_steps: 1, max_seq_len: 192, batch_size: 2}}
evaluation:
  near: [{preset: chain_sum_2digit, size: 3, seed: 1}]
  panel: [general_qa]
  max_tokens: 48
"""


def _ledger(ws: Path) -> dict:
    path = ws / "cycles" / "tiny" / "ledger.json"
    return json.loads(path.read_text()) if path.is_file() else {"cycles": []}


def _train_started(ws: Path) -> bool:
    cycles = _ledger(ws)["cycles"]
    return bool(cycles) and "train" in cycles[0]["steps"] and not cycles[0]["steps"][
        "train"].get("done_at")


def test_two_cycles_end_to_end_with_a_kill_during_training(tmp_path, isolated_workspace,
                                                            embedded_model_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QCONSOLE_WORKSPACE": str(isolated_workspace)}
    cmd = [sys.executable, "-m", "qconsole", "cycle", str(plan), "--threads", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 400
    while not _train_started(isolated_workspace):
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:] if proc.stdout else ""
        assert time.monotonic() < deadline, "cycle 1 never reached training"
        time.sleep(0.5)
    time.sleep(8)  # well inside the training (the model is loading or stepping)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    sessions_before = sorted(SessionStore(isolated_workspace / "sessions").session_ids())
    assert len(sessions_before) == 4

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "finished step(s) kept" in done.stderr
    ledger = _ledger(isolated_workspace)
    c1, c2 = (c["steps"] for c in ledger["cycles"])
    assert [c1[s]["attempts"] for s in ("probe", "check", "corrections")] == [1, 1, 1]
    assert c1["train"]["attempts"] == 2
    assert all(c2[s]["attempts"] == 1 for s in c2)
    store = SessionStore(isolated_workspace / "sessions")
    assert set(sessions_before) <= set(store.session_ids()) and len(store.session_ids()) == 7
    assert c2["train"]["correction_ids"][:4] == [c["id"] for c in c1["corrections"][
        "corrections"]]
    # cycle 2 probed cycle 1's adapter, and was evaluated on both topics' held-out suites
    assert c2["probe"]["model"] == c1["train"]["adapters"][0]["name"]
    verdicts = c2["evaluate"]["verdicts"]
    assert {"heldout-sums", "heldout-logic", "near-chain_sum_2digit", "general_qa"} <= set(
        verdicts)
    assert c2["record"]["gem"]["acc"] is not None
    report = Path(done.stdout.strip().splitlines()[-1]).read_text()
    assert "Topic-by-cycle matrix" in report and "BWT" in report
    # a third run has nothing left to do
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "12 finished step(s) kept, 0 run now" in again.stderr
