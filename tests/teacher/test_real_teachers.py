"""The teacher's actions with a real small teacher (SmolLM2-135M-Instruct) on real replies of
the embedded base model, in-process and through a real llama_cpp.server on loopback.

A 135M teacher is weak: these tests check that every action runs end to end, that what it
says is read honestly (a draft it could not format is flagged, an unreadable verdict is an
inconsistent pair), and that nothing reaches the store without the person's decision."""

from __future__ import annotations

import re

import pytest

from qconsole.chat.side import ChatSide
from qconsole.prompts import template_for_model
from qconsole.sampling import GREEDY
from qconsole.store import SessionStore
from qconsole.store.failure_kinds import KIND_BY_KEY
from qconsole.teacher.controller import TeacherController
from qconsole.teacher.judge import judge_pair
from qconsole.teacher.scripts import find_script

SHORT = GREEDY.__class__(**{**GREEDY.to_dict(), "max_tokens": 40})
QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"
WRONG = "3 + 5 = 8. 8 + 2 = 10. The answer is 10."


@pytest.fixture
def sides(backend):
    template = template_for_model(backend.info, "auto")
    return {"left": ChatSide("left", backend, template, model_name="gemma"),
            "right": ChatSide("right", backend, template, model_name="gemma")}


def test_play_a_route_into_both_sides_and_decide_the_proposals(tmp_path, sides, local_teacher):
    store = SessionStore(tmp_path / "sessions")
    ctl = TeacherController(store, teacher=local_teacher)
    seen = []
    result = ctl.play(find_script("route-fairness"), sides, SHORT, on_turn=seen.append)
    assert [t.turn.id for t in seen] == ["rule", "analogy", "verdict", "verdict-again"]
    session = store.load_session(result.session_id)
    assert len(session.turns) == 4
    for turn, played in zip(session.turns, result.turns, strict=True):
        assert turn.reply("left").text == played.replies["left"]
        assert turn.reply("right").text == played.replies["right"]
        assert not turn.marks  # proposals only, nothing marked yet
    props = ctl.proposals(result.session_id)
    assert props == [p for t in result.turns for p in t.proposals]
    assert props, "the base model passes the whole fairness route: the checks see nothing"
    for p in props:
        assert p.status == "pending" and p.store_turn_id and p.reason
        assert p.step in ("generalise", "analogy", "judgement")
    first = ctl.accept_mark(result.session_id, 0)
    mark = store.load_session(result.session_id).turn(first.store_turn_id).mark(first.side)
    assert mark is not None and mark.kind == first.kind and mark.step == first.step
    assert mark.note == first.reason
    if len(props) > 1:
        dropped = ctl.drop_mark(result.session_id, 1)
        assert dropped.status == "dropped"
        again = store.load_session(result.session_id).turn(dropped.store_turn_id)
        if dropped.store_turn_id != first.store_turn_id or dropped.side != first.side:
            assert again.mark(dropped.side) is None
    with pytest.raises(Exception, match="already accepted"):
        ctl.accept_mark(result.session_id, 0)


def test_draft_next_question_kind_and_judge_with_a_local_teacher(tmp_path, local_teacher):
    store = SessionStore(tmp_path / "sessions")
    ctl = TeacherController(store, teacher=local_teacher)
    sid = store.create_session({"title": "apples"})
    tid = store.append_turn(sid, {"user": QUESTION, "left": {"text": WRONG}})
    store.set_mark(sid, tid, "left", "reasoning_step", note="adds what was given away")
    draft = ctl.draft(sid, tid, "left", reference="6")
    assert re.fullmatch(r"[0-9a-f]{16}", draft.prompt_hash)
    assert draft.teacher == "SmolLM2-135M-Instruct.Q4_1 (local)"
    assert draft.corrected.strip()
    assert not store.load_session(sid).turn(tid).rewrite("left")  # nothing stored yet
    edited = "3 + 5 = 8, 8 - 2 = 6. The answer is 6."
    prov = ctl.save_draft(sid, tid, "left", draft, edited)
    correction = store.corrections()[0]
    assert correction.rewrite == edited and correction.provenance == prov
    assert prov["accepted"] == "edited" and prov["prompt_hash"] == draft.prompt_hash
    unchanged = ctl.save_draft(sid, tid, "left", draft, draft.corrected)
    assert unchanged["accepted"] == "unchanged"
    question = ctl.next_question_for(sid)
    assert question and "\n" not in question
    kind = ctl.propose_kind(QUESTION, WRONG, "6")
    assert kind is None or kind in KIND_BY_KEY
    verdict = judge_pair(local_teacher, QUESTION, WRONG, edited, reference="6")
    assert verdict.winner in ("a", "b", "tie", "inconsistent")
    assert verdict.agreed == (verdict.winner != "inconsistent")
    from qconsole.evaluation.results import ItemResult

    records = [ItemResult("in-domain:1", "in-domain", False, True, prompt=QUESTION,
                          reference=edited, base_reply=WRONG, adapter_reply=edited),
               ItemResult("in-domain:2", "in-domain", False, False, prompt=QUESTION,
                          base_reply=WRONG, adapter_reply=None)]  # no adapter reply: skipped
    report = ctl.judge_items(records)
    assert report.n == 1 and report.agreement_rate in (0.0, 1.0)
    assert report.count("a") + report.count("b") + report.count("tie") + report.count(
        "inconsistent") == 1
    assert "agreement" in report.lines()[1]


def test_teacher_variants_are_parsed_filtered_and_stored_as_synthetic(tmp_path, local_teacher):
    store = SessionStore(tmp_path / "sessions")
    ctl = TeacherController(store, teacher=local_teacher)
    sid = store.create_session({"title": "apples"})
    tid = store.append_turn(sid, {"user": QUESTION, "left": {"text": WRONG}})
    store.set_mark(sid, tid, "left", "reasoning_step")
    with pytest.raises(Exception, match="no corrected reply yet"):
        ctl.variants(sid, tid, "left", 3)
    store.set_rewrite(sid, tid, "left", "3 + 5 = 8, 8 - 2 = 6. The answer is 6.")
    variants = ctl.variants(sid, tid, "left", 3)
    kept = [v for v in variants if v.kept]
    assert len(kept) <= 3
    for v in variants:
        assert v.source == "teacher" and v.prompt_hash
        assert v.kept or v.dropped
    ids = ctl.store_variants(sid, tid, "left", kept)
    assert len(ids) == len(kept)
    synthetic = [c for c in store.corrections() if c.synthetic]
    assert sorted(c.user for c in synthetic) == sorted(v.prompt for v in kept)
    for c in synthetic:
        assert c.provenance["of"] == f"{sid}/{tid}/left"
        assert c.provenance["teacher"] == local_teacher.name


def test_gym_failure_variants_need_no_teacher(tmp_path, sides):
    store = SessionStore(tmp_path / "sessions")
    ctl = TeacherController(store)  # no teacher configured
    assert not ctl.has_teacher
    result = ctl.play(find_script("deduction-vs-analogy"), {"left": sides["left"]}, SHORT)
    sums = next(t for t in result.turns if t.turn.id == "sums-1")
    variants = ctl.variants(result.session_id, sums.store_turn_id, "left", 10)
    kept = [v for v in variants if v.kept]
    assert len(kept) == 10 and all(v.source == "gym:chain_sum" for v in kept)
    ids = ctl.store_variants(result.session_id, sums.store_turn_id, "left", kept[:8])
    assert len(ids) == 8
    assert sum(c.synthetic for c in store.corrections()) == 8
    with pytest.raises(Exception, match="no teacher is configured"):
        ctl.next_question_for(result.session_id)


@pytest.mark.slow
def test_a_served_teacher_gets_the_same_request_and_answers(teacher_server, local_teacher):
    from qconsole.teacher.config import TeacherSpec
    from qconsole.teacher.model import open_teacher

    served = open_teacher(TeacherSpec(url=teacher_server, model="smollm2", max_tokens=160))
    assert served.where == "remote" and served.name.startswith("smollm2 @ 127.0.0.1")
    instruction = "Name the capital of France in one word."
    remote = served.ask(instruction, max_tokens=12)
    local = local_teacher.ask(instruction, max_tokens=12)
    assert remote and local
    assert remote == local  # the same model, the same single message, greedy
    verdict = judge_pair(served, QUESTION, WRONG, "3 + 5 = 8, 8 - 2 = 6. The answer is 6.",
                         reference="6")
    assert verdict.winner in ("a", "b", "tie", "inconsistent")


def test_smollm2_prompt_keeps_its_opening_im_start(smollm2_path, local_teacher):
    """The BOS bug: SmolLM2's BOS is "<|im_start|>", llama.cpp adds none for it, and the chat
    template renderer used to drop it, so the first message lost its opening token."""
    from qconsole.models.gguf_info import read_gguf_info
    from qconsole.prompts import Message

    info = read_gguf_info(smollm2_path)
    assert info.bos_token == "<|im_start|>" and info.add_bos_token is False
    text = template_for_model(info, "chat").render([Message("user", "hi")])
    assert text.startswith("<|im_start|>system\n")
    ids = local_teacher.backend.tokenize(text)
    assert ids[0] == local_teacher.backend.llm.token_bos()  # once, from the text, not added
    assert ids[1] != ids[0]
