"""Two processes writing the same session at once lose nothing.

Each worker is this file run as a script (``python test_store_concurrency.py worker ...``), so
the processes share nothing but the directory, exactly like the console and a background job.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from qconsole.store import SessionStore

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
# the workers import qconsole from this checkout, installed or not
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
N_OPS = 25


def worker(root: str, session_id: str, name: str, go_file: str) -> None:
    store = SessionStore(Path(root))
    while not Path(go_file).exists():  # start together
        time.sleep(0.001)
    for i in range(N_OPS):
        tid = store.append_turn(session_id, {"user": f"{name} {i}", "left": {"text": f"r{i}"}})
        store.set_mark(session_id, tid, "left", "other", note=f"{name} {i}")
        # both workers edit the same reply's rewrite: every edit must land in its history
        store.set_rewrite(session_id, "t1", "right", f"{name} rewrite {i}")
    print("done", flush=True)


def test_two_processes_append_and_mark_without_lost_updates(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    sid = store.create_session({"title": "shared"})
    store.append_turn(sid, {"user": "seed", "right": {"text": "seed reply"}})
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE), "worker", str(store.root), sid, name, str(go)],
            cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in ("console", "job")
    ]
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"

    session = store.load_session(sid)
    turns = session.turns[1:]
    assert len(turns) == 2 * N_OPS
    expected = {f"{n} {i}" for n in ("console", "job") for i in range(N_OPS)}
    assert {t.user for t in turns} == expected
    assert len({t.turn_id for t in session.turns}) == len(session.turns)
    assert all(t.mark("left") is not None and t.mark("left").note == t.user for t in turns)
    history = [r.text for r in session.turns[0].rewrite_history("right")]
    assert sorted(history) == sorted(
        f"{n} rewrite {i}" for n in ("console", "job") for i in range(N_OPS))
    for name in ("console", "job"):  # each process's own edits stay in its order
        own = [h for h in history if h.startswith(name)]
        assert own == [f"{name} rewrite {i}" for i in range(N_OPS)]
    assert session.turns[0].reply("right").text == "seed reply"


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(*sys.argv[2:6])
