"""Unit tests of the session store on real TinyDB files in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tinydb import TinyDB

from qconsole.errors import QConsoleError
from qconsole.prompts import Message
from qconsole.sampling import SamplingSettings
from qconsole.store import FAILURE_KINDS, ROUTE_STEPS, SCHEMA_VERSION, SessionStore
from qconsole.store.ids import safe_filename
from qconsole.store.index import CACHE_NAME

REPO = Path(__file__).resolve().parents[2]


def reply(text: str, **fields) -> dict:
    base = {"text": text, "model": "gemma-3-270m", "template": "transcript"}
    base.update(fields)
    return base


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions")


def new_session(store: SessionStore, **meta) -> str:
    base = {
        "models": {"left": "gemma-3-270m", "right": "gemma-3-270m"},
        "adapters": {"left": None, "right": {"name": "fair-1", "fingerprint": "ab12"}},
        "template": "transcript",
        "settings": SamplingSettings(),
    }
    base.update(meta)
    return store.create_session(base)


def test_round_trip_records_every_field(store: SessionStore) -> None:
    sid = new_session(store, system="Be careful.")
    right = reply(
        "Honesty is a virtue.", adapter={"name": "fair-1", "fingerprint": "ab12"},
        sampling=SamplingSettings(temperature=0.2), prompt_tokens=31, completion_tokens=6,
        tokens_per_s=35.5, ttft_s=0.12, elapsed_s=0.3, finish_reason="stop",
        started="2025-01-01T00:00:00+00:00", finished="2025-01-01T00:00:01+00:00",
    )
    tid = store.append_turn(sid, {"user": "What is honesty?", "left": reply(""), "right": right})
    store.update_side(sid, tid, "left", {"text": "It is", "finish_reason": "cancelled",
                                         "error": "stopped by user", "completion_tokens": 2})

    session = SessionStore(store.root).load_session(sid)  # a fresh store: from disk only
    assert session.id == sid and session.system == "Be careful."
    assert session.title == "What is honesty?"
    assert session.settings == SamplingSettings().to_dict()
    assert session.adapters["right"] == {"name": "fair-1", "fingerprint": "ab12"}
    (turn,) = session.turns
    assert (turn.turn_id, turn.index, turn.user) == (tid, 1, "What is honesty?")
    r = turn.reply("right")
    assert r is not None
    assert (r.text, r.model, r.adapter, r.adapter_fingerprint) == (
        "Honesty is a virtue.", "gemma-3-270m", "fair-1", "ab12")
    assert r.sampling["temperature"] == 0.2
    assert (r.prompt_tokens, r.completion_tokens, r.tokens_per_s, r.ttft_s, r.elapsed_s) == (
        31, 6, 35.5, 0.12, 0.3)
    assert (r.finish_reason, r.started, r.finished) == (
        "stop", "2025-01-01T00:00:00+00:00", "2025-01-01T00:00:01+00:00")
    left = turn.reply("left")
    assert left is not None
    assert (left.text, left.finish_reason, left.error, left.completion_tokens) == (
        "It is", "cancelled", "stopped by user", 2)
    assert left.finished  # stamped when the finish reason arrived
    assert left.model == "gemma-3-270m"  # fields not given keep their values


def test_file_is_plain_tinydb_and_json(store: SessionStore) -> None:
    sid = new_session(store)
    store.append_turn(sid, {"user": "hi", "left": reply("hello")})
    path = store.path_for(sid)
    db = TinyDB(path)  # TinyDB's own default storage opens our files
    try:
        assert db.table("turns").all()[0]["user"] == "hi"
        assert db.table("meta").get(doc_id=1)["schema_version"] == SCHEMA_VERSION
    finally:
        db.close()
    json.loads(path.read_bytes().decode("utf-8"))


def test_turn_ids_are_sequential_and_stable(store: SessionStore) -> None:
    sid = new_session(store)
    ids = [store.append_turn(sid, {"user": f"u{i}"}) for i in range(5)]
    assert ids == ["t1", "t2", "t3", "t4", "t5"]
    store.set_mark(sid, "t3", "left", "factual")
    assert [t.turn_id for t in store.load_session(sid).turns] == ids


def test_hostile_text_round_trips_exactly(store: SessionStore) -> None:
    nasty = (
        "\x00nul \x1b[31mred\x1b[0m \x1b]0;title\x07 \r\n\t \x7f \x9b \u202e rtl "
        "\"quotes\" \\back\\slash \u2028 😀 Привет ß\n"
    )
    paste = ("line of a long paste " * 50 + "\n") * 1100  # about 1.1 MB
    assert len(paste) > 1_000_000
    surrogate = "lone \ud800 surrogate"
    sid = new_session(store, title=nasty)
    t1 = store.append_turn(sid, {"user": nasty, "left": reply(paste)})
    t2 = store.append_turn(sid, {"user": surrogate, "right": reply(surrogate)})
    store.set_mark(sid, t1, "left", "format", note=nasty)
    store.set_rewrite(sid, t1, "left", paste + nasty)
    session = SessionStore(store.root).load_session(sid)
    turn1, turn2 = session.turns
    assert session.title == nasty
    assert turn1.user == nasty
    assert turn1.reply("left").text == paste
    assert turn1.mark("left").note == nasty
    assert turn1.rewrite("left") == paste + nasty
    assert turn2.user == surrogate and turn2.reply("right").text == surrogate
    assert store.load_session(sid).turn(t2).user == surrogate


def test_session_ids_cannot_escape_the_directory(store: SessionStore, tmp_path: Path) -> None:
    for bad in ("../x", "a/b", "..", ".hidden", "a\x00b", "", "x" * 200, "/etc/passwd"):
        with pytest.raises(QConsoleError):
            store.load_session(bad)
        with pytest.raises(QConsoleError):
            store.append_turn(bad, {"user": "x"})
    sid = new_session(store, title="../../etc/passwd")
    assert store.path_for(sid).parent == store.root
    assert not (tmp_path / "etc").exists()
    assert safe_filename("../../etc/passwd") == "etc_passwd"
    assert safe_filename("..") == "session"
    assert safe_filename("Привет/мир") == "session"
    assert safe_filename(".bashrc") == "bashrc"


def test_bad_input_is_rejected_before_anything_is_written(store: SessionStore) -> None:
    sid = new_session(store)
    tid = store.append_turn(sid, {"user": "q"})
    before = store.path_for(sid).read_bytes()
    with pytest.raises(QConsoleError, match="unknown left reply field"):
        store.append_turn(sid, {"user": "q", "left": {"txt": "typo"}})
    with pytest.raises(QConsoleError, match="unknown turn field"):
        store.append_turn(sid, {"user": "q", "middle": {}})
    with pytest.raises(QConsoleError, match="unknown failure kind"):
        store.set_mark(sid, tid, "left", "rudeness")
    with pytest.raises(QConsoleError, match="route step"):
        store.set_mark(sid, tid, "left", "analogy", step="step4")
    with pytest.raises(QConsoleError, match="side"):
        store.set_mark(sid, tid, "middle", "analogy")
    with pytest.raises(QConsoleError, match="no turn"):
        store.set_mark(sid, "t9", "left", "analogy")
    with pytest.raises(QConsoleError, match="no session"):
        store.append_turn("20990101-000000-abcdef", {"user": "q"})
    with pytest.raises(QConsoleError, match="JSON"):
        store.update_side(sid, tid, "left", {"sampling": {"x": object()}})
    assert store.path_for(sid).read_bytes() == before


def test_non_finite_timings_are_stored_as_none(store: SessionStore) -> None:
    sid = new_session(store)
    tid = store.append_turn(sid, {"user": "q", "left": reply("a", tokens_per_s=float("inf"))})
    store.update_side(sid, tid, "right", {"text": "b", "ttft_s": float("nan")})
    turn = store.load_session(sid).turns[0]
    assert turn.reply("left").tokens_per_s is None
    assert turn.reply("right").ttft_s is None


def test_marks_rewrites_preferences_and_undo(store: SessionStore) -> None:
    sid = new_session(store)
    t1 = store.append_turn(sid, {"user": "q1", "left": reply("a1"), "right": reply("b1")})
    store.set_mark(sid, t1, "left", "analogy", note="shallow", step="analogy")
    store.set_mark(sid, t1, "left", ["judgement", "sophistry", "judgement"], note="no verdict")
    store.set_rewrite(sid, t1, "left", "better 1")
    store.set_rewrite(sid, t1, "left", "better 2")
    store.set_preference(sid, t1, "right")

    turn = store.load_session(sid).turns[0]
    mark = turn.mark("left")
    assert mark.kinds == ("judgement", "sophistry") and mark.note == "no verdict"
    assert mark.step is None
    assert turn.rewrite("left") == "better 2"
    assert [r.text for r in turn.rewrite_history("left")] == ["better 1", "better 2"]
    assert turn.reply("left").text == "a1"  # the original is never overwritten
    assert turn.preference == "right"

    undone = [store.undo_last(sid) for _ in range(3)]
    assert [(c.op, c.turn_id, c.side) for c in undone] == [
        ("preference", t1, None), ("rewrite", t1, "left"), ("rewrite", t1, "left")]
    turn = store.load_session(sid).turns[0]
    assert turn.preference is None and turn.rewrite("left") is None
    assert turn.mark("left").kinds == ("judgement", "sophistry")
    assert store.undo_last(sid).op == "mark"
    turn = store.load_session(sid).turns[0]
    assert turn.mark("left").kinds == ("analogy",) and turn.mark("left").step == "analogy"
    assert store.undo_last(sid).op == "mark"
    assert store.load_session(sid).turns[0].mark("left") is None
    assert store.undo_last(sid) is None
    assert store.load_session(sid).turns[0].reply("left").text == "a1"


def test_clear_mark_and_rewrite_can_be_undone(store: SessionStore) -> None:
    sid = new_session(store)
    t1 = store.append_turn(sid, {"user": "q", "right": reply("b")})
    store.set_mark(sid, t1, "right", "factual", note="wrong year")
    store.set_rewrite(sid, t1, "right", "fixed")
    assert store.clear_mark(sid, t1, "right") is True
    assert store.clear_mark(sid, t1, "right") is False
    store.clear_rewrite(sid, t1, "right")
    turn = store.load_session(sid).turns[0]
    assert turn.mark("right") is None and turn.rewrite("right") is None
    assert [r.text for r in turn.rewrite_history("right")] == ["fixed", None]
    assert store.undo_last(sid).op == "clear_rewrite"
    assert store.undo_last(sid).op == "clear_mark"
    turn = store.load_session(sid).turns[0]
    assert turn.rewrite("right") == "fixed" and turn.mark("right").note == "wrong year"


def test_undo_survives_a_new_store(store: SessionStore) -> None:
    sid = new_session(store)
    t1 = store.append_turn(sid, {"user": "q", "left": reply("a")})
    store.set_mark(sid, t1, "left", "other")
    assert SessionStore(store.root).undo_last(sid).op == "mark"
    assert store.load_session(sid).turns[0].mark("left") is None


def test_repeating_the_same_change_adds_nothing_to_undo(store: SessionStore) -> None:
    sid = new_session(store)
    t1 = store.append_turn(sid, {"user": "q", "left": reply("a")})
    store.set_mark(sid, t1, "left", "other", note="n")
    store.set_mark(sid, t1, "left", "other", note="n")
    store.set_rewrite(sid, t1, "left", "r")
    store.set_rewrite(sid, t1, "left", "r")
    assert store.undo_last(sid).op == "rewrite"
    assert store.undo_last(sid).op == "mark"
    assert store.undo_last(sid) is None


def test_failure_kinds_table() -> None:
    keys = [k.key for k in FAILURE_KINDS]
    assert len(keys) == len(set(keys)) == 11
    hotkeys = [k.hotkey for k in FAILURE_KINDS]
    assert len(set(hotkeys)) == len(hotkeys) and all(len(h) == 1 for h in hotkeys)
    assert {"reasoning_step", "generalisation", "analogy", "judgement", "sophistry",
            "inconsistency", "forgot_context", "lost_intent", "format", "factual",
            "other"} == set(keys)
    assert [s.key for s in ROUTE_STEPS] == ["generalise", "analogy", "judgement"]
    assert all(k.label and k.description for k in FAILURE_KINDS)


def _corpus(store: SessionStore) -> dict[str, str]:
    a = new_session(store)
    store.append_turn(a, {"user": "What is honesty?", "left": reply("A virtue."),
                          "right": reply("Plato said so.", adapter="fair-1")})
    store.set_mark(a, "t1", "right", "sophistry", note="quotes Plato")
    b = new_session(store, adapters={"right": {"name": "truth-2", "fingerprint": "ff"}})
    store.append_turn(b, {"user": "Two plus two?", "left": reply("Five"),
                          "right": reply("Four", adapter="truth-2")})
    store.set_mark(b, "t1", "left", "factual")
    store.set_rewrite(b, "t1", "left", "Four. Straße\nnew line")
    c = new_session(store, adapters={})
    store.append_turn(c, {"user": "Hello", "left": reply('He said "hi" \\ ok \x1b[0m')})
    empty = new_session(store)
    return {"a": a, "b": b, "c": c, "empty": empty}


def test_list_sessions_and_filters(store: SessionStore) -> None:
    ids = _corpus(store)
    rows = store.list_sessions()
    assert {r.id for r in rows} == {ids["a"], ids["b"], ids["c"]}
    assert [r.created for r in rows] == sorted((r.created for r in rows), reverse=True)
    by_id = {r.id: r for r in rows}
    b = by_id[ids["b"]]
    assert (b.n_turns, b.n_marks, b.n_rewrites, b.kinds) == (1, 1, 1, ("factual",))
    assert b.title == "Two plus two?" and b.models == ("gemma-3-270m",)
    assert b.adapters == ("truth-2",) and b.date == b.created[:10]
    assert {r.id for r in store.list_sessions(include_empty=True)} == set(ids.values())

    def ids_of(**kw) -> set[str]:
        return {r.id for r in store.list_sessions(**kw)}

    assert ids_of(kind="sophistry") == {ids["a"]}
    assert ids_of(marked=True) == {ids["a"], ids["b"]}
    assert ids_of(marked=False) == {ids["c"]}
    assert ids_of(rewritten=True) == {ids["b"]}
    assert ids_of(rewritten=False) == {ids["a"], ids["c"]}
    assert ids_of(adapter="FAIR") == {ids["a"]}
    assert ids_of(adapter="truth") == {ids["b"]}
    assert ids_of(kind="factual", adapter="fair") == set()
    with pytest.raises(QConsoleError):
        store.list_sessions(kind="nonsense")


@pytest.mark.parametrize(
    ("needle", "which"),
    [
        ("HONESTY", {"a"}),  # title
        ("plato", {"a"}),  # a reply
        ("quotes plato", {"a"}),  # a note
        ("strasse", {"b"}),  # a rewrite, found through case folding (ß -> ss)
        ("four. straße\nnew", {"b"}),  # a needle with a newline
        ('said "hi" \\ ok', {"c"}),  # quotes and a backslash
        ("\x1b[0m", {"c"}),  # an escape sequence
        ("nowhere at all", set()),
        ("meta", set()),  # JSON keys are not text
    ],
)
def test_text_search(store: SessionStore, needle: str, which: set[str]) -> None:
    ids = _corpus(store)
    assert {r.id for r in store.search(needle)} == {ids[w] for w in which}


def test_text_search_in_an_ascii_escaped_file(store: SessionStore) -> None:
    sid = new_session(store)
    # a lone surrogate makes the file fall back to ASCII escapes (\u00df for ß)
    store.append_turn(sid, {"user": "Straße \ud800", "left": reply("x")})
    assert b"\\u00df" in store.path_for(sid).read_bytes()
    assert [r.id for r in store.search("STRASSE")] == [sid]


def test_listing_cache_is_used_for_unchanged_files(store: SessionStore) -> None:
    sid = new_session(store)
    store.append_turn(sid, {"user": "first title"})
    path = store.path_for(sid)
    old = time.time_ns() - 3600 * 10**9  # an hour ago: not racy
    os.utime(path, ns=(old, old))
    assert store.list_sessions()[0].title == "first title"
    assert (store.root / CACHE_NAME).exists()
    # Change the file in place behind the cache's back, keeping size, inode and mtime: the
    # cached summary is still served, which shows the file was not parsed again.
    raw = path.read_bytes().replace(b"first title", b"FIRST TITLE")
    with open(path, "r+b") as fh:
        fh.write(raw)
    os.utime(path, ns=(old, old))
    assert store.list_sessions()[0].title == "first title"
    os.utime(path, ns=(old, old + 1))  # any change of the key: read again
    assert store.list_sessions()[0].title == "FIRST TITLE"


def test_listing_cache_rereads_racy_entries(store: SessionStore) -> None:
    sid = new_session(store)
    store.append_turn(sid, {"user": "first title"})
    path = store.path_for(sid)
    future = time.time_ns() + 3600 * 10**9  # always within the racy window
    os.utime(path, ns=(future, future))
    assert store.list_sessions()[0].title == "first title"
    raw = path.read_bytes().replace(b"first title", b"FIRST TITLE")
    with open(path, "r+b") as fh:
        fh.write(raw)
    os.utime(path, ns=(future, future))
    assert store.list_sessions()[0].title == "FIRST TITLE"


def test_listing_follows_changes_and_survives_a_broken_cache(store: SessionStore) -> None:
    ids = _corpus(store)
    assert len(store.list_sessions()) == 3
    store.set_mark(ids["c"], "t1", "left", "format")
    assert store.list_sessions(kind="format")[0].id == ids["c"]
    store.path_for(ids["a"]).unlink()
    assert {r.id for r in store.list_sessions()} == {ids["b"], ids["c"]}
    (store.root / CACHE_NAME).write_text("{ not json")
    assert {r.id for r in store.list_sessions()} == {ids["b"], ids["c"]}
    assert store.take_warnings() == []  # the cache is not a session: nothing quarantined
    assert not (store.root / "quarantine").exists()


def test_stale_temp_files_are_ignored_and_cleaned(store: SessionStore) -> None:
    sid = new_session(store)
    store.append_turn(sid, {"user": "q"})
    stale = store.root / f".{sid}.json.abc123.tmp"
    fresh = store.root / f".{sid}.json.def456.tmp"
    stale.write_text('{"half": ')
    fresh.write_text('{"half": ')
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert [r.id for r in store.list_sessions()] == [sid]
    assert not stale.exists() and fresh.exists()


def test_threads_do_not_lose_appends(store: SessionStore) -> None:
    sid = new_session(store)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            own = SessionStore(store.root)
            for i in range(15):
                tid = own.append_turn(sid, {"user": f"thread {n} turn {i}"})
                own.set_mark(sid, tid, "left", "other", note=f"{n}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    turns = store.load_session(sid).turns
    assert len(turns) == 60
    assert {t.user for t in turns} == {f"thread {n} turn {i}" for n in range(4) for i in range(15)}
    assert [t.turn_id for t in turns] == [f"t{i}" for i in range(1, 61)]
    assert all(t.mark("left") is not None for t in turns)


def test_corrections_context_follows_that_side(store: SessionStore) -> None:
    sid = new_session(store, system="sys")
    t1 = store.append_turn(sid, {"user": "u1", "left": reply("L1"), "right": reply("R1")})
    t2 = store.append_turn(sid, {"user": "u2", "left": reply("L2"), "right": reply("R2")})
    t3 = store.append_turn(sid, {"user": "u3", "left": reply("L3"), "right": reply("R3")})
    store.set_rewrite(sid, t1, "left", "L1 fixed")
    store.set_mark(sid, t3, "left", ["reasoning_step", "forgot_context"], note="n", step="analogy")
    store.set_rewrite(sid, t3, "left", "L3 fixed")
    store.set_rewrite(sid, t2, "right", "R2 fixed")

    corrections = store.corrections()
    assert [c.id for c in corrections] == [f"{sid}/{t1}/left", f"{sid}/{t2}/right",
                                           f"{sid}/{t3}/left"]
    c3 = corrections[2]
    assert list(c3.context) == [
        Message("system", "sys"), Message("user", "u1"), Message("assistant", "L1 fixed"),
        Message("user", "u2"), Message("assistant", "L2"),
    ]
    assert (c3.user, c3.original, c3.rewrite) == ("u3", "L3", "L3 fixed")
    assert (c3.kinds, c3.note, c3.step) == (("reasoning_step", "forgot_context"), "n", "analogy")
    assert c3.messages[-1] == Message("assistant", "L3 fixed")
    assert c3.prompt_messages[-1] == Message("user", "u3")
    c2 = corrections[1]
    assert [m.content for m in c2.context] == ["sys", "u1", "R1"]
    assert corrections[0].kinds == () and corrections[0].context == (Message("system", "sys"),)

    assert [c.id for c in store.corrections(kind="forgot_context")] == [c3.id]
    assert [c.hash for c in store.corrections([sid])] == [c.hash for c in corrections]
    store.set_rewrite(sid, t3, "left", "L3 fixed again")
    assert store.corrections(kind="analogy") == []
    assert store.corrections(kind="reasoning_step")[0].hash != c3.hash


def test_preference_pairs(store: SessionStore) -> None:
    sid = new_session(store)
    t1 = store.append_turn(sid, {"user": "u1", "left": reply("L1"), "right": reply("R1")})
    t2 = store.append_turn(sid, {"user": "u2", "left": reply("L2"), "right": reply("R2")})
    t3 = store.append_turn(sid, {"user": "u3", "left": reply("same"), "right": reply("same")})
    store.set_preference(sid, t2, "right")
    store.set_preference(sid, t3, "left")  # identical replies: no pair
    store.set_rewrite(sid, t1, "right", "R1 fixed")
    pairs = store.preference_pairs()
    assert [(p.turn_id, p.source, p.chosen_side) for p in pairs] == [
        (t1, "rewrite", "right"), (t2, "preference", "right")]
    rewrite_pair, pref = pairs
    assert (rewrite_pair.chosen, rewrite_pair.rejected) == ("R1 fixed", "R1")
    assert (pref.chosen, pref.rejected) == ("R2", "L2")
    assert [m.content for m in pref.prompt] == ["u1", "R1 fixed", "u2"]
    assert [p.source for p in store.preference_pairs(include_rewrites=False)] == ["preference"]


def test_core_imports_no_ui_or_heavy_libraries() -> None:
    code = (
        "import sys, qconsole.store, qconsole.store.export, qconsole.commands.sessions\n"
        "bad = [m for m in ('textual', 'datasets', 'torch', 'transformers') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True)
    assert out.stdout.strip() == ""
