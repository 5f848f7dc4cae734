"""The A/B section from a real session store: blind votes and sighted preferences apart, the
same figures in the review lines and in ``qconsole report``."""

from __future__ import annotations

from pathlib import Path

from qconsole.evaluation.ab_report import lines, summarize_store
from qconsole.paths import sessions_dir
from qconsole.store import SessionStore
from qconsole.store.votes import assignment_for


def _turn(store: SessionStore, sid: str, adapter: str, seed: int | None) -> str:
    turn: dict = {
        "user": "Is it fair?",
        "left": {"text": "base reply", "model": "gemma"},
        "right": {"text": f"{adapter} reply", "model": "gemma",
                  "adapter": {"name": adapter, "fingerprint": "f" * 8}},
    }
    if seed is not None:
        turn["blind"] = {"seed": seed}
    return store.append_turn(sid, turn)


def _vote_for(store: SessionStore, sid: str, tid: str, seed: int, winner: str) -> None:
    """Vote for side ``winner`` ("left"/"right"), whichever label it had, or a tie."""
    if winner in ("tie", "both_bad"):
        store.set_vote(sid, tid, winner)
        return
    label = "a" if assignment_for(seed)["A"] == winner else "b"
    store.set_vote(sid, tid, label)


def fill(store: SessionStore) -> None:
    sid = store.create_session({})
    # fair-1: 7 blind wins, 2 losses, 1 tie; seeds 0..9 land both ways (both labels used)
    plan = ["right"] * 7 + ["left"] * 2 + ["tie"]
    for seed, winner in enumerate(plan):
        tid = _turn(store, sid, "fair-1", seed)
        _vote_for(store, sid, tid, seed, winner)
    # a vote undone and cast again after the reveal: left out of the blind figures
    tid = _turn(store, sid, "fair-1", 99)
    _vote_for(store, sid, tid, 99, "left")
    store.undo_last(sid)
    _vote_for(store, sid, tid, 99, "right")
    # sighted: fair-1 preferred 3 times of 4
    for pref in ("right", "right", "right", "left"):
        store.set_preference(sid, _turn(store, sid, "fair-1", None), pref)


def test_blind_and_sighted_figures_apart(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    fill(store)
    assert {assignment_for(s)["A"] for s in range(10)} == {"left", "right"}
    s = summarize_store(store)
    (blind,) = s.blind
    assert (blind.contestant, blind.wins, blind.losses, blind.ties) == ("fair-1", 7, 2, 1)
    assert s.n_after_reveal == 1 and s.n_blind == 10
    (sighted,) = s.sighted
    assert (sighted.wins, sighted.losses) == (3, 1) and s.n_sighted == 4
    assert s.ranking == []  # one adapter: the head-to-head says it all
    text = "\n".join(lines(s))
    # 7/9: Wilson [45.3%, 93.7%]; sign test 2 * (1 + 9 + 36) / 512 = 0.1797
    assert "fair-1 vs base: 7-2 (1 tie, 0 both bad), win rate 77.8% [45.3%, 93.7%]" in text
    assert "sign test p = 0.18" in text
    assert "1 vote(s) re-cast after the reveal" in text
    assert "fair-1 vs base: 3-1" in text.split("Sighted")[1]


def test_bradley_terry_ranking_when_two_adapters_met(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    sid = store.create_session({})
    for seed, (adapter, winner) in enumerate(
            [("a1", "right")] * 3 + [("a1", "left")] + [("a2", "left")] * 3 + [("a2", "right")]):
        tid = _turn(store, sid, adapter, seed)
        _vote_for(store, sid, tid, seed, winner)
    s = summarize_store(store, bootstrap=200, seed=3)
    assert [r.name for r in s.ranking] == ["a1", "base", "a2"]
    assert "Bradley-Terry ranking" in "\n".join(lines(s))


def test_report_has_the_ab_section_without_any_evaluation_run(tmp_path: Path, capsys) -> None:
    from qconsole.cli import main

    fill(SessionStore(sessions_dir()))
    out = tmp_path / "r.md"
    assert main(["report", "--evals", str(tmp_path / "evals"), "-o", str(out)]) == 0
    text = out.read_text()
    assert "## A/B judgements" in text and "### Blind votes (10)" in text
    assert "win rate 77.8% [45.3%, 93.7%]" in text
    assert "### Sighted preferences (4)" in text
