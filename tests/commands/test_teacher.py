"""``qconsole teacher`` headless, on the embedded model, with and without a teacher."""

from __future__ import annotations

import re

from qconsole.cli import main
from qconsole.store import SessionStore


def _config(ws, extra: str = "") -> None:
    (ws / "qconsole.toml").write_text(
        "[sampling]\ntemperature = 0\nmax_tokens = 32\n" + extra, encoding="utf-8")


def test_play_decide_and_multiply_without_a_teacher(isolated_workspace, capsys):
    _config(isolated_workspace)
    assert main(["teacher", "scripts"]) == 0
    assert "route-fairness" in capsys.readouterr().out
    assert main(["teacher", "play", "deduction-vs-analogy", "--side", "left"]) == 0
    out = capsys.readouterr().out
    sid = re.search(r"session (\S+): (\d+) proposed", out)
    assert sid, out
    session_id, n = sid.group(1), int(sid.group(2))
    assert n >= 1, out  # the 270M base fails some of these five
    assert main(["teacher", "marks", session_id, "--accept", "1"]) == 0
    assert "[accepted]" in capsys.readouterr().out
    store = SessionStore(isolated_workspace / "sessions")
    marked = [t for t in store.load_session(session_id).turns if t.marks]
    assert len(marked) == 1
    sums = store.load_session(session_id).turns[1]  # the chain_sum turn
    assert main(["teacher", "variants", session_id, sums.turn_id, "-n", "5",
                 "--accept", "1,2,3"]) == 0
    out = capsys.readouterr().out
    assert "5 variant(s) kept" in out and "stored 3 synthetic" in out
    assert sum(c.synthetic for c in store.corrections()) == 3
    assert main(["teacher", "marks", session_id, "--accept", "1"]) == 2  # already decided
    assert "already accepted" in capsys.readouterr().err


def test_teacher_actions_without_a_teacher_say_how_to_set_one(isolated_workspace, capsys):
    _config(isolated_workspace)
    store = SessionStore(isolated_workspace / "sessions")
    sid = store.create_session({})
    store.append_turn(sid, {"user": "2+2?", "left": {"text": "5"}})
    for argv in (["teacher", "next", sid], ["teacher", "draft", sid, "t1"],
                 ["teacher", "judge", "--prompt", "p", "--a", "a", "--b", "b"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "[teacher]" in err and "Traceback" not in err
    _config(isolated_workspace, '[teacher]\nurl = "http://127.0.0.1:1/v1"\napi_key = "sk-1"\n')
    assert main(["teacher", "next", sid]) == 2
    err = capsys.readouterr().err
    assert "must not hold an API key" in err and "sk-1" not in err
