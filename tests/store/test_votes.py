"""Blind A/B turns in the store: the seeded draw, the vote, undo, restart, the read records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qconsole.errors import QConsoleError
from qconsole.store import SessionStore
from qconsole.store.model import BlindVote
from qconsole.store.votes import assignment_for


def reply(text: str, adapter: dict | None = None) -> dict:
    out: dict = {"text": text, "model": "gemma-3-270m", "template": "transcript"}
    if adapter is not None:
        out["adapter"] = adapter
    return out


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions")


def blind_turn(store: SessionStore, sid: str, seed: int, user: str = "Is it fair?") -> str:
    return store.append_turn(sid, {
        "user": user, "left": reply("base says no"),
        "right": reply("adapter says yes", {"name": "fair-1", "fingerprint": "ab12"}),
        "blind": {"seed": seed},
    })


def test_assignment_is_a_seeded_coin_that_lands_both_ways() -> None:
    draws = [assignment_for(seed)["A"] for seed in range(200)]
    assert draws == [assignment_for(seed)["A"] for seed in range(200)]  # same seed, same draw
    # a fair coin: 200 draws land left between 72 and 128 times with p > 0.9999
    assert 72 <= draws.count("left") <= 128
    for seed in range(20):
        a = assignment_for(seed)
        assert {a["A"], a["B"]} == {"left", "right"}


def test_vote_is_stored_with_assignment_and_survives_a_restart(store: SessionStore) -> None:
    sid = store.create_session({})
    seed = next(s for s in range(100) if assignment_for(s)["A"] == "right")
    tid = blind_turn(store, sid, seed)
    store.set_vote(sid, tid, "a")
    turn = SessionStore(store.root).load_session(sid).turn(tid)  # a fresh store: disk only
    blind = turn.blind
    assert isinstance(blind, BlindVote)
    assert (blind.seed, blind.assignment, blind.vote) == (seed, {"A": "right", "B": "left"}, "a")
    assert blind.voted_at and blind.shown_at and blind.revealed_at == blind.voted_at
    assert not blind.after_reveal
    assert (blind.winner_side(), blind.loser_side()) == ("right", "left")
    assert turn.preference is None  # a blind vote is not a sighted preference
    (row,) = store.list_sessions()
    assert row.n_votes == 1


def test_winner_and_loser_for_every_vote() -> None:
    blind = BlindVote(seed=1, assignment={"A": "left", "B": "right"})
    cases = {"a": ("left", "right"), "b": ("right", "left"), "tie": (None, None),
             "both_bad": (None, None), None: (None, None)}
    for vote, expected in cases.items():
        b = BlindVote(blind.seed, blind.assignment, vote=vote)
        assert (b.winner_side(), b.loser_side()) == expected, vote


def test_undo_reverts_the_vote_to_the_one_before(store: SessionStore) -> None:
    sid = store.create_session({})
    tid = blind_turn(store, sid, 7)
    store.set_vote(sid, tid, "tie")
    store.set_vote(sid, tid, "both_bad")
    change = SessionStore(store.root).undo_last(sid)  # after a restart
    assert change is not None and (change.op, change.turn_id) == ("blind_vote", tid)
    assert store.load_session(sid).turn(tid).blind.vote == "tie"
    assert store.undo_last(sid) is not None
    blind = store.load_session(sid).turn(tid).blind
    assert blind is not None and blind.vote is None and blind.voted_at is None
    assert blind.assignment == assignment_for(7)  # undo never touches what was shown
    assert blind.revealed_at  # nor the fact that the names were shown
    assert store.undo_last(sid) is None
    store.set_vote(sid, tid, "a")  # cast again, with the names known
    again = store.load_session(sid).turn(tid).blind
    assert again is not None and again.after_reveal
    (record,) = store.vote_records()
    assert record.after_reveal


def test_vote_records_name_the_contestants(store: SessionStore) -> None:
    sid = store.create_session({})
    seeds = [0, 1, 2, 3]
    tids = [blind_turn(store, sid, s, f"q{s}") for s in seeds]
    votes = ["a", "b", "tie", None]
    for tid, vote in zip(tids, votes, strict=True):
        if vote:
            store.set_vote(sid, tid, vote)
    records = store.vote_records()
    assert [r.turn_id for r in records] == tids[:3]  # the unvoted turn gives no record
    for r in records:
        assert r.contestants == {"left": "base", "right": "fair-1"}
        assert r.fingerprints == {"left": None, "right": "ab12"}
    first = records[0]
    assert first.winner == first.contestants[assignment_for(seeds[0])["A"]]
    assert records[1].winner == records[1].contestants[assignment_for(seeds[1])["B"]]
    assert records[2].winner is None and records[2].loser is None


def test_bad_vote_input_is_one_clear_line(store: SessionStore) -> None:
    sid = store.create_session({})
    plain = store.append_turn(sid, {"user": "hi", "left": reply("a"), "right": reply("b")})
    with pytest.raises(QConsoleError, match="not shown blind"):
        store.set_vote(sid, plain, "a")
    tid = blind_turn(store, sid, 3)
    with pytest.raises(QConsoleError, match="one of a, b, tie, both_bad"):
        store.set_vote(sid, tid, "A")
    with pytest.raises(QConsoleError, match="blind seed"):
        store.append_turn(sid, {"user": "x", "blind": {"seed": -1}})
    with pytest.raises(QConsoleError, match="put left and right"):
        store.start_blind(sid, plain, 1, {"A": "left", "B": "left"})
    with pytest.raises(QConsoleError, match="turn.blind"):
        store.append_turn(sid, {"user": "x", "blind": {"seed": 1, "colour": "red"}})


def test_start_blind_keeps_the_first_assignment(store: SessionStore) -> None:
    sid = store.create_session({})
    tid = store.append_turn(sid, {"user": "hi", "left": reply("a"), "right": reply("b")})
    first = store.start_blind(sid, tid, 11, {"A": "right", "B": "left"})
    again = store.start_blind(sid, tid, 12, {"A": "left", "B": "right"})
    assert again == first and store.load_session(sid).turn(tid).blind.seed == 11


def test_a_file_with_a_bad_blind_object_is_quarantined_not_trusted(store: SessionStore) -> None:
    sid = store.create_session({})
    tid = blind_turn(store, sid, 5)
    path = store.path_for(sid)
    data = json.loads(path.read_text())
    data["turns"]["1"]["blind"]["assignment"] = {"A": "left", "B": "middle"}
    path.write_text(json.dumps(data))
    with pytest.raises(QConsoleError, match="blind"):
        SessionStore(store.root).load_session(sid)
    assert tid == "t1"
