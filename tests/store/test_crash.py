"""kill -9 at random moments loses at most the write in flight and never corrupts a file.

A writer process (this file run as a script) creates sessions, appends turns (some large, with
control characters), marks replies and rewrites them, printing an acknowledgement line after
each write returns. The test SIGKILLs it after a random delay, many times over the same
directory, then checks that every acknowledged write is there and that every file loads.
Also: a failed write (file size limit, the same error path as a full disk) reports a clear
error and leaves the saved file as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qconsole.store import FAILURE_KINDS, SIDES, SessionStore

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
# the workers import qconsole from this checkout, installed or not
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
KINDS = [k.key for k in FAILURE_KINDS]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def ack(what: str, **fields) -> None:
    print(json.dumps({"ack": what, **fields}), flush=True)


def writer(root: str, seed: int) -> None:
    """Write forever; print an ack after every write that returned."""
    rng = random.Random(seed)
    store = SessionStore(Path(root))
    sessions: dict[str, list[str]] = {}
    unmarked: list[tuple[str, str, str]] = []
    for sid in store.session_ids():
        turns = store.load_session(sid).turns
        sessions[sid] = [t.turn_id for t in turns]
        unmarked += [(sid, t.turn_id, s) for t in turns for s in SIDES if t.mark(s) is None]
    print(json.dumps({"ready": True}), flush=True)
    n = 0
    while True:
        n += 1
        op = rng.random()
        if not sessions or op < 0.1:
            sid = store.create_session({"title": f"crash {seed}"})
            sessions[sid] = []
            ack("session", sid=sid)
        elif op < 0.6 or not unmarked:
            sid = rng.choice(list(sessions))
            size = rng.choice([10, 100, 1000, 100_000])
            text = f"seed {seed} op {n} \x1b[1m\x00 " + "x" * size
            tid = store.append_turn(sid, {"user": text, "left": {"text": text[::-1]},
                                          "right": {"text": "r"}})
            sessions[sid].append(tid)
            unmarked += [(sid, tid, s) for s in SIDES]
            ack("turn", sid=sid, tid=tid, user=digest(text))
        elif op < 0.8:
            sid, tid, side = unmarked.pop(rng.randrange(len(unmarked)))
            kind = rng.choice(KINDS)
            store.set_mark(sid, tid, side, kind, note=f"note {seed} {n}")
            ack("mark", sid=sid, tid=tid, side=side, kind=kind, note=f"note {seed} {n}")
        else:
            sid = rng.choice([s for s in sessions if sessions[s]] or list(sessions))
            if not sessions[sid]:
                continue
            tid = rng.choice(sessions[sid])
            side = rng.choice(SIDES)
            text = f"rewrite {seed} {n} " + "y" * rng.choice([10, 50_000])
            store.set_rewrite(sid, tid, side, text)
            ack("rewrite", sid=sid, tid=tid, side=side, text=digest(text))


def run_and_kill(root: Path, seed: int, delay: float) -> list[dict]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE), "writer", str(root), str(seed)],
        cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not lines and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # the delay counts from "ready", however slow the start was
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join()
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    assert "Traceback" not in err, err
    # a line cut off by the kill has no newline: that write was not acknowledged
    records = [json.loads(line) for line in lines if line.endswith(b"\n")]
    assert records and records[0] == {"ready": True}, err
    return records[1:]


def check_everything_acknowledged_is_there(root: Path, acks: list[dict]) -> None:
    store = SessionStore(root)
    summaries = store.list_sessions(include_empty=True)
    assert store.take_warnings() == []  # nothing was corrupt: nothing quarantined
    assert not (root / "quarantine").exists()
    listed = {s.id for s in summaries}
    sessions = {sid: store.load_session(sid) for sid in store.session_ids()}
    assert set(sessions) == listed
    for session in sessions.values():
        assert [t.turn_id for t in session.turns] == [
            f"t{i}" for i in range(1, len(session.turns) + 1)]
    for a in acks:
        session = sessions[a["sid"]]
        if a["ack"] == "session":
            continue
        turn = session.turn(a["tid"])
        if a["ack"] == "turn":
            assert digest(turn.user) == a["user"]
        elif a["ack"] == "mark":
            mark = turn.mark(a["side"])
            assert mark is not None and mark.kinds == (a["kind"],) and mark.note == a["note"]
        elif a["ack"] == "rewrite":
            history = [digest(r.text) for r in turn.rewrite_history(a["side"]) if r.text]
            assert a["text"] in history


def crash_many_times(root: Path, rounds: int, rng: random.Random) -> list[dict]:
    acks: list[dict] = []
    for i in range(rounds):
        # from right after start-up (the first write in flight) to a few dozen writes later
        acks += run_and_kill(root, seed=i, delay=rng.uniform(0.0, 0.3))
    return acks


def test_kill_minus_nine_a_few_times(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    acks = crash_many_times(root, rounds=4, rng=random.Random(1))
    check_everything_acknowledged_is_there(root, acks)


@pytest.mark.slow
def test_kill_minus_nine_many_times(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    acks = crash_many_times(root, rounds=30, rng=random.Random(2))
    assert sum(a["ack"] == "turn" for a in acks) > 50  # the writer really got to work
    assert sum(a["ack"] in ("mark", "rewrite") for a in acks) > 20
    check_everything_acknowledged_is_there(root, acks)


FULL_DISK_SCRIPT = r"""
import resource, signal, sys
from pathlib import Path
from qconsole.errors import QConsoleError
from qconsole.store import SessionStore

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
store = SessionStore(Path(sys.argv[1]))
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    store.append_turn(sys.argv[2], {"user": "z" * 4 * limit})
except QConsoleError as exc:
    print("ERROR", exc)
else:
    print("NO ERROR")
"""


def test_a_failed_write_is_reported_and_harms_nothing(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    sid = store.create_session({"title": "precious"})
    store.append_turn(sid, {"user": "saved before"})
    store.set_mark(sid, "t1", "left", "factual")
    path = store.path_for(sid)
    before = path.read_bytes()
    limit = len(before) + 4096
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK_SCRIPT, str(store.root), sid, str(limit)],
        cwd=REPO, env=ENV, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR"), out.stdout
    message = out.stdout
    assert "failed" in message and "unchanged" in message and path.name in message
    assert path.read_bytes() == before
    assert not [p for p in os.listdir(store.root) if p.endswith(".tmp")]
    session = store.load_session(sid)
    assert [t.user for t in session.turns] == ["saved before"]
    store.append_turn(sid, {"user": "after the disk has room again"})
    assert len(store.load_session(sid).turns) == 2


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        writer(sys.argv[2], int(sys.argv[3]))
