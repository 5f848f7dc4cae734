"""Preference pairs from real store files (rewrites, sighted preferences, blind votes), their
de-duplication, and their tokens: a pair's prompt and chosen reply are exactly the SFT example
of the same turn (the embedded model's real tokenizer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qconsole.prompts import Message, template_for
from qconsole.training.dataset import ChatTokenizer, NothingToTrain, build_training_set
from qconsole.training.dpo_data import build_pair_set, tokenize_pair
from qconsole.training.examples import examples_from_store
from qconsole.training.preference_pairs import (
    PreferenceExample,
    pairs_from_store,
    select_pairs,
)

QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"
ANSWER = "3 + 5 = 8, and 8 - 2 = 6. The answer is 6."


def _store(root: Path):
    from qconsole.store import SessionStore

    return SessionStore(root, durable=False)


def _session(store, turns: list[tuple[str, str, str]]) -> tuple[str, list[str]]:
    sid = store.create_session({"title": "t", "template": "transcript"})
    ids = [store.append_turn(sid, {"user": u, "left": {"text": left}, "right": {"text": right}})
           for u, left, right in turns]
    return sid, ids


def test_pairs_from_rewrites_and_sighted_preferences(tmp_path: Path):
    store = _store(tmp_path / "sessions")
    sid, (t1, t2, t3, t4) = _session(store, [
        ("2+2?", "5", "4"),
        ("and 3+3?", "7", "6"),
        ("same?", "yes", "yes"),  # identical replies: a preference says nothing
        ("space?", "no", "no "),
    ])
    store.set_rewrite(sid, t1, "left", "2 + 2 = 4.")
    store.set_preference(sid, t2, "right")
    store.set_preference(sid, t3, "left")
    store.set_preference(sid, t4, "left")  # differ only in whitespace the template strips
    selection, warnings = pairs_from_store(tmp_path / "sessions")
    assert warnings == []
    assert [(p.source, p.chosen, p.rejected) for p in selection.pairs] == [
        ("rewrite", "2 + 2 = 4.", "5"),
        ("preference", "6", "7"),
    ]
    rewrite, pref = selection.pairs
    assert (rewrite.session_id, rewrite.turn_id, rewrite.chosen_side) == (sid, t1, "left")
    assert rewrite.correction_id == f"{sid}/{t1}/left" and pref.correction_id is None
    assert (pref.chosen_side, pref.rejected_side) == ("right", "left")
    # the preferred side's conversation as SFT rebuilds it: its own earlier reply
    assert pref.context == (Message("user", "2+2?"), Message("assistant", "4"))
    assert selection.identical == 1 and selection.by_source == {"rewrite": 1, "preference": 1}
    only_rewrites, _ = pairs_from_store(tmp_path / "sessions", sources=("rewrite",))
    assert [p.source for p in only_rewrites.pairs] == ["rewrite"]


def _vote(store, sid: str, turn_id: str, vote: str, *, a: str = "left") -> None:
    """Show ``turn_id`` blind with ``a`` as A (the assignment as stored), then vote."""
    b = "right" if a == "left" else "left"
    store.start_blind(sid, turn_id, 7, {"A": a, "B": b})
    store.set_vote(sid, turn_id, vote)


def test_blind_votes_give_winner_over_loser_and_ties_give_nothing(tmp_path: Path):
    store = _store(tmp_path / "sessions")
    sid, (t1, t2, t3, t4, t5) = _session(store, [
        ("Name a primary colour.", "Banana.", "Blue."),
        ("2+2?", "4", "5"),
        ("tie?", "x", "y"),
        ("bad?", "p", "q"),
        ("again?", "good", "worse"),
    ])
    _vote(store, sid, t1, "a", a="right")  # A was the right pane: right won
    _vote(store, sid, t2, "b", a="right")  # B was left: left won
    _vote(store, sid, t3, "tie")
    _vote(store, sid, t4, "both_bad")
    _vote(store, sid, t5, "b", a="right")  # left won, then undone and re-cast with names seen
    store.undo_last(sid)
    store.set_vote(sid, t5, "b")
    selection, _ = pairs_from_store(tmp_path / "sessions")
    got = [(p.turn_id, p.source, p.chosen, p.rejected, p.chosen_side) for p in selection.pairs]
    assert got == [
        (t1, "blind", "Blue.", "Banana.", "right"),
        (t2, "blind", "4", "5", "left"),
        (t5, "preference", "good", "worse", "left"),  # after the reveal: a sighted judgement
    ]
    assert selection.by_source == {"preference": 1, "blind": 2}
    # a pair's context is the winner's own conversation, as SFT rebuilds it: left won t2, so
    # its context holds left's earlier reply (which lost t1)
    assert selection.pairs[1].context == (Message("user", "Name a primary colour."),
                                          Message("assistant", "Banana."))


def test_a_blind_vote_and_a_sighted_preference_for_the_same_reply_are_one_pair(tmp_path: Path):
    store = _store(tmp_path / "sessions")
    sid, (t1,) = _session(store, [("2+2?", "4", "5")])
    store.set_preference(sid, t1, "left")
    _vote(store, sid, t1, "a", a="left")
    selection, _ = pairs_from_store(tmp_path / "sessions")
    assert [p.source for p in selection.pairs] == ["blind"] and selection.duplicates == 1


def test_a_preferred_rewritten_side_is_chosen_with_its_rewrite(tmp_path: Path):
    store = _store(tmp_path / "sessions")
    sid, (t1,) = _session(store, [(QUESTION, "3+2=5", "8")])
    store.set_rewrite(sid, t1, "right", ANSWER)
    store.set_preference(sid, t1, "right")
    selection, _ = pairs_from_store(tmp_path / "sessions")
    by_source = {p.source: p for p in selection.pairs}
    assert (by_source["preference"].chosen, by_source["preference"].rejected) == (ANSWER, "3+2=5")
    assert (by_source["rewrite"].chosen, by_source["rewrite"].rejected) == (ANSWER, "8")


def test_the_same_pair_twice_is_kept_once(tmp_path: Path):
    store = _store(tmp_path / "sessions")
    for _ in range(2):  # two sessions with the very same exchange and rewrite
        sid, (t1,) = _session(store, [(QUESTION, "3+2=5", "3+2=5")])
        store.set_rewrite(sid, t1, "left", ANSWER)
    selection, _ = pairs_from_store(tmp_path / "sessions")
    assert len(selection.pairs) == 1 and selection.duplicates == 1
    a = PreferenceExample((), "q", "a", "b", "preference")
    b = PreferenceExample((), "q", "a", "b", "blind")  # same pair, other evidence: one pair
    assert a.hash == b.hash and len(select_pairs([a, b]).pairs) == 1
    with pytest.raises(ValueError, match="unknown preference pair source"):
        PreferenceExample((), "q", "a", "b", "guess")


def test_no_pairs_is_an_empty_selection(tmp_path: Path):
    store = _store(tmp_path / "sessions")
    _session(store, [("hi", "hello", "hey")])  # nothing marked, preferred or voted
    selection, _ = pairs_from_store(tmp_path / "sessions")
    assert selection.pairs == [] and selection.by_source == {}


@pytest.fixture(scope="module")
def chat_tok(embedded_model_path) -> ChatTokenizer:
    from qconsole.hf.gguf_model import load_hf_tokenizer
    from qconsole.training.dataset import token_rule_from_gguf

    tok = load_hf_tokenizer(embedded_model_path)
    return ChatTokenizer(tok, token_rule_from_gguf(embedded_model_path, tok))


def test_a_rewrite_pair_tokenises_exactly_as_its_sft_example(tmp_path: Path, chat_tok):
    store = _store(tmp_path / "sessions")
    sid, (t1, t2) = _session(store, [("Hello! Can you help?", "No.", "Sure."),
                                     (QUESTION, "3+2=5", "7")])
    store.set_rewrite(sid, t1, "left", "Of course. Ask me anything.")
    store.set_rewrite(sid, t2, "left", ANSWER)
    template = template_for("transcript")
    [sft] = [e for e in build_training_set(
        examples_from_store(tmp_path / "sessions")[0], template, chat_tok).examples
        if e.example.target == ANSWER]
    selection, _ = pairs_from_store(tmp_path / "sessions")
    [pair] = [p for p in selection.pairs if p.chosen == ANSWER]
    tp = tokenize_pair(pair, template, chat_tok, 1024)
    assert tp is not None
    assert tp.prompt == sft.prompt and tp.chosen_text == sft.completion
    assert tp.prompt_ids + tp.chosen_ids == sft.input_ids
    assert tp.side("chosen").labels == sft.labels
    assert tp.rejected_text == " 3+2=5\nUser:"
    assert chat_tok.decode(tp.rejected_ids) == tp.rejected_text


def test_pair_set_shares_one_prompt_fitted_to_the_longer_reply(chat_tok):
    template = template_for("transcript")
    history = tuple(m for i in range(30) for m in
                    (Message("user", f"question {i} " + "word " * 20), Message("assistant", "ok")))
    long_reply = "word " * 100
    fits = PreferenceExample(history, QUESTION, ANSWER, long_reply, "preference")
    too_long = PreferenceExample((), "hi", "ok", "word " * 400, "blind")
    pair_set = build_pair_set(select_pairs([fits, too_long]), template, chat_tok,
                              max_seq_len=256)
    [tp] = pair_set.pairs
    assert len(tp.prompt_ids) + max(len(tp.chosen_ids), len(tp.rejected_ids)) <= 256
    assert tp.truncated and QUESTION in tp.prompt and "question 0 " not in tp.prompt
    s = pair_set.summary
    assert (s.examples, s.truncated, s.dropped, s.by_source) == (1, 1, 1, {"preference": 1})
    assert "1 preference pairs (1 preference), objective dpo" in s.lines()[0]
    [preview] = pair_set.preview(1)
    assert preview.completion == " " + ANSWER + "\nUser:" and preview.rejected.startswith(" word")
    with pytest.raises(NothingToTrain, match="no preference pair"):
        build_pair_set(select_pairs([too_long]), template, chat_tok, max_seq_len=256)
