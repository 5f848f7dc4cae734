"""Schema versions and bad files: upgrades, files from a newer qconsole, corrupt files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from qconsole.errors import QConsoleError
from qconsole.store import SCHEMA_VERSION, SessionStore
from qconsole.store.schema import upgrade

V1_ID = "20240101-090000-0a0b0c"

# A session as schema 1 wrote it: one `kind` per mark, a rewrite as a bare string, no undo log.
V1_FILE = {
    "meta": {"1": {
        "schema_version": 1, "id": V1_ID, "created": "2024-01-01T09:00:00+00:00",
        "title": "", "models": {"left": "gemma", "right": "gemma"},
        "adapters": {"right": {"name": "old-adapter", "fingerprint": "0f"}},
        "template": "transcript", "settings": {"temperature": 0.7}, "system": "", "extra": {},
    }},
    "turns": {
        "1": {
            "turn_id": "t1", "index": 1, "user": "What is fairness?",
            "created": "2024-01-01T09:00:01+00:00",
            "replies": {"left": {"text": "Fairness is a quote.", "model": "gemma"},
                        "right": {"text": "Equal treatment.", "model": "gemma",
                                  "adapter": "old-adapter"}},
            "marks": {"left": {"kind": "sophistry", "note": "quoted"}},
            "rewrites": {"left": "Fairness is treating like cases alike."},
            "preference": "right",
        },
        "2": {
            "turn_id": "t2", "index": 2, "user": "And justice?",
            "created": "2024-01-01T09:00:05+00:00",
            "replies": {"left": {"text": "Justice.", "model": "gemma"}},
            "marks": {}, "rewrites": {}, "preference": None,
        },
    },
}


def write(path: Path, data: dict) -> bytes:
    raw = json.dumps(data).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return raw


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions")


def test_upgrade_function_does_not_modify_its_input() -> None:
    original = copy.deepcopy(V1_FILE)
    data, version = upgrade(V1_FILE)
    assert original == V1_FILE
    assert version == 1 and data["meta"]["1"]["schema_version"] == SCHEMA_VERSION == 3
    turn = data["turns"]["1"]
    assert turn["marks"]["left"]["kinds"] == ["sophistry"]
    assert turn["rewrites"]["left"] == [
        {"text": "Fairness is treating like cases alike.", "at": "2024-01-01T09:00:01+00:00"}]
    assert data["events"] == {}
    again, v = upgrade(data)
    assert again is data and v == SCHEMA_VERSION


def test_old_file_reads_upgraded_without_being_rewritten(store: SessionStore) -> None:
    path = store.root / f"{V1_ID}.json"
    raw = write(path, V1_FILE)
    session = store.load_session(V1_ID)
    assert session.schema_version == SCHEMA_VERSION and not session.read_only
    t1, t2 = session.turns
    assert t1.mark("left").kinds == ("sophistry",) and t1.mark("left").note == "quoted"
    assert t1.rewrite("left") == "Fairness is treating like cases alike."
    assert t1.preference == "right" and t2.user == "And justice?"
    (row,) = store.list_sessions()
    assert (row.n_marks, row.n_rewrites, row.kinds) == (1, 1, ("sophistry",))
    assert row.adapters == ("old-adapter",)
    assert [c.rewrite for c in store.corrections()] == ["Fairness is treating like cases alike."]
    assert path.read_bytes() == raw  # reading never rewrites


def test_old_file_is_upgraded_on_write_and_kept_as_backup(store: SessionStore) -> None:
    path = store.root / f"{V1_ID}.json"
    raw = write(path, V1_FILE)
    store.set_mark(V1_ID, "t2", "left", "forgot_context")
    on_disk = json.loads(path.read_text())
    assert on_disk["meta"]["1"]["schema_version"] == SCHEMA_VERSION
    assert on_disk["turns"]["1"]["marks"]["left"]["kinds"] == ["sophistry"]
    backup = store.root / "backup" / f"{V1_ID}.schema1.json"
    assert backup.read_bytes() == raw
    session = store.load_session(V1_ID)
    assert session.turns[1].mark("left").kinds == ("forgot_context",)
    assert session.turns[0].rewrite("left") == "Fairness is treating like cases alike."
    assert store.undo_last(V1_ID).op == "mark"
    assert store.undo_last(V1_ID) is None  # schema 1 kept no undo log


def newer_file(sid: str) -> dict:
    data = copy.deepcopy(V1_FILE)
    data["meta"]["1"].update(schema_version=SCHEMA_VERSION + 1, id=sid, hologram={"x": 1})
    data["turns"]["1"]["marks"] = {"left": {"kinds": ["analogy"], "confidence": 0.9}}
    data["turns"]["1"]["rewrites"] = {"left": [{"text": "new", "at": "", "author": "me"}]}
    data["future_table"] = {"1": {"anything": True}}
    return data


def test_newer_file_opens_read_only_and_is_never_rewritten(store: SessionStore) -> None:
    sid = "20300101-000000-feed00"
    path = store.root / f"{sid}.json"
    raw = write(path, newer_file(sid))
    mtime = path.stat().st_mtime_ns
    session = store.load_session(sid)
    assert session.read_only
    assert "newer qconsole" in session.warnings[0] and "read-only" in session.warnings[0]
    assert session.turns[0].mark("left").kinds == ("analogy",)
    assert session.turns[0].rewrite("left") == "new"
    (row,) = store.list_sessions()
    assert row.read_only and row.schema_version == SCHEMA_VERSION + 1
    for write_op in (
        lambda: store.append_turn(sid, {"user": "x"}),
        lambda: store.set_mark(sid, "t1", "right", "other"),
        lambda: store.set_rewrite(sid, "t1", "right", "r"),
        lambda: store.set_preference(sid, "t1", "left"),
        lambda: store.undo_last(sid),
        lambda: store.update_side(sid, "t1", "left", {"text": "y"}),
    ):
        with pytest.raises(QConsoleError, match="newer qconsole"):
            write_op()
    assert path.read_bytes() == raw and path.stat().st_mtime_ns == mtime
    assert not (store.root / "quarantine").exists()
    assert any("newer qconsole" in w for w in store.take_warnings())


def test_newer_file_in_an_unknown_shape_is_listed_not_quarantined(store: SessionStore) -> None:
    sid = "20300101-000000-feed01"
    path = store.root / f"{sid}.json"
    raw = write(path, {"meta": {"1": {"schema_version": 7, "id": sid}}, "turns": ["a list"]})
    (row,) = store.list_sessions(include_empty=True)
    assert row.read_only and "newer" in row.title
    with pytest.raises(QConsoleError, match="newer qconsole|upgrade qconsole"):
        store.load_session(sid)
    assert path.read_bytes() == raw


@pytest.mark.parametrize(
    "content",
    [
        b'{"meta": {"1": {"schema_version": 2, "id": "x"',  # cut short
        b"not json at all",
        b"",
        b"\xff\xfe\x00garbage",  # not UTF-8
        b"[1, 2, 3]",  # JSON, not an object
        b'{"_default": {}}',  # a TinyDB file, but not a session
        b'{"meta": {"1": {"schema_version": 2, "id": "x"}}, "turns": {"1": "oops"}}',
    ],
)
def test_corrupt_file_is_quarantined_and_others_still_open(
    store: SessionStore, content: bytes
) -> None:
    good = [store.create_session({}) for _ in range(3)]
    for sid in good:
        store.append_turn(sid, {"user": f"hello {sid}"})
    bad = "20250101-000000-badbad"
    bad_path = store.root / f"{bad}.json"
    bad_path.write_bytes(content)

    rows = store.list_sessions()
    assert {r.id for r in rows} == set(good)
    (warning,) = store.take_warnings()
    assert f"{bad}.json" in warning and "quarantine" in warning
    assert "every other session" in warning.lower()
    assert not bad_path.exists()
    (moved,) = (store.root / "quarantine").iterdir()
    assert moved.read_bytes() == content  # set aside untouched, for a person to repair
    for sid in good:
        assert store.load_session(sid).turns[0].user == f"hello {sid}"
    assert {r.id for r in store.list_sessions()} == set(good)
    assert store.take_warnings() == []


def test_loading_a_corrupt_file_quarantines_it_with_a_clear_error(store: SessionStore) -> None:
    sid = store.create_session({})
    store.append_turn(sid, {"user": "hi"})
    store.path_for(sid).write_text('{"meta": ')  # hand-edited into invalid JSON
    with pytest.raises(QConsoleError, match="cannot be read.*moved it to .*quarantine"):
        store.load_session(sid)
    with pytest.raises(QConsoleError, match="no session"):
        store.append_turn(sid, {"user": "again"})


def test_writing_to_a_corrupt_file_quarantines_it_and_writes_nothing(
    store: SessionStore,
) -> None:
    sid = store.create_session({})
    store.path_for(sid).write_text("{{{")
    with pytest.raises(QConsoleError, match="quarantine"):
        store.append_turn(sid, {"user": "x"})
    assert not store.path_for(sid).exists()
    assert (store.root / "quarantine").iterdir().__next__().read_text() == "{{{"
