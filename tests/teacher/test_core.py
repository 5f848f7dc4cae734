"""The teacher's core without a teacher model: config, scripts, rule checks, readers of the
teacher's answers, overlap and leakage, reasoning-gym variants, the store round trip."""

from __future__ import annotations

import json

import pytest

from qconsole.config import load_config
from qconsole.errors import QConsoleError
from qconsole.teacher.checks import TurnContext, run_check, sentences, yes_no
from qconsole.teacher.config import NO_TEACHER, parse_teacher, require_teacher_spec
from qconsole.teacher.instructions import (
    read_draft,
    read_kind,
    read_pair_verdict,
    read_pass_fail,
    read_question,
    read_variants,
)
from qconsole.teacher.judge import _side
from qconsole.teacher.overlap import eval_index, is_near_duplicate, similarity
from qconsole.teacher.scripts import find_script, load_script_file, parse_script, script_files
from qconsole.teacher.variants import Variant, filter_variants, gym_variants, worked_arithmetic


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- config -------------------------------------------------------------------------------------


def test_no_teacher_says_how_to_set_one(isolated_workspace):
    assert parse_teacher(load_config().teacher) is None
    with pytest.raises(QConsoleError) as err:
        require_teacher_spec(load_config())
    assert one_line(err) == NO_TEACHER
    assert "[teacher]" in NO_TEACHER and "url" in NO_TEACHER and "spec" in NO_TEACHER


def test_teacher_tables_are_checked(isolated_workspace):
    (isolated_workspace / "qconsole.toml").write_text(
        '[teacher]\nurl = "http://127.0.0.1:9/v1"\nmodel = "m"\napi_key_env = "MY_KEY"\n'
        "max_tokens = 200\n", encoding="utf-8")
    spec = parse_teacher(load_config().teacher)
    assert spec is not None and spec.is_remote
    assert (spec.url, spec.model, spec.api_key_env, spec.max_tokens) == (
        "http://127.0.0.1:9/v1", "m", "MY_KEY", 200)
    (isolated_workspace / "qconsole.toml").write_text('teacher = "smollm2"\n', encoding="utf-8")
    spec = parse_teacher(load_config().teacher)
    assert spec is not None and spec.spec == "smollm2" and not spec.is_remote
    for table, needle in [
        ({"url": "http://h/v1", "spec": "x"}, "exactly one of"),
        ({}, None),
        ({"model": "m"}, "exactly one of"),
        ({"spec": "x", "temprature": 1}, "unknown key 'temprature'"),
        ({"url": "http://h/v1", "api_key": "sk-secret"}, "must not hold an API key"),
        ({"url": "ftp://h"}, "http://host:port/v1"),
        ({"spec": "x", "max_tokens": 2}, "at least 16"),
        ({"url": "http://h/v1", "threads": 2}, "threads is for a local teacher"),
    ]:
        if needle is None:
            assert parse_teacher(table) is None
            continue
        with pytest.raises(QConsoleError, match=needle) as err:
            parse_teacher(table)
        assert "sk-secret" not in one_line(err)


# -- scripts -----------------------------------------------------------------------------------


def test_every_shipped_script_loads_and_covers_the_issue():
    files = script_files()
    scripts = {name: load_script_file(path) for name, path in files.items()}
    for topic in ("fairness", "truth", "honesty", "justice"):
        route = scripts[f"route-{topic}"]
        assert [t.step for t in route.turns[:3]] == ["generalise", "analogy", "judgement"]
    checks = {c.check for s in scripts.values() for t in s.turns for c in t.checks}
    assert {"consistent_with", "max_sentences", "only_primes", "mentions_all", "gym"} <= checks
    families = {t.gym["family"] for t in scripts["deduction-vs-analogy"].turns}
    assert {"syllogism", "chain_sum"} <= families


def test_user_script_overrides_and_bad_scripts_are_one_line(isolated_workspace):
    folder = isolated_workspace / "teacher" / "scripts"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text(
        "name: mine\nturns:\n  - say: Hello\n    checks: [answers]\n", encoding="utf-8")
    assert find_script("mine").turns[0].say == "Hello"
    bad = {
        "turns: [{say: x}]": "needs a name",
        "name: a\nturns: [{say: x, gym: {family: chain_sum}}]": "exactly one of say",
        "name: a\nturns: [{say: x, checks: [nonsense]}]": "unknown check 'nonsense'",
        "name: a\nturns: [{say: x, checks: [{check: max_sentences}]}]": "needs n",
        "name: a\nturns: [{say: x, step: judging}]": "step must be one of",
        "name: a\nturns: [{say: x, checks: [{check: answers, kind: oops}]}]": "kind must be",
        "name: a\nturns: [{say: x, checks: [{check: consistent_with, turn: later}]}]":
            "earlier turn",
        "name: a\nturns: [{say: x, checks: [{check: answers, colour: red}]}]":
            "unknown option 'colour'",
        "name: [unclosed": "not valid YAML",
        "name: a\nturns: [{say: x, variants: 3}]": "variants must be a list",
        "name: a\nturns: [{say: x, variants: [{ask: y}]}]": "variant 1 takes only say, reply",
        "name: a\nturns: [{say: x, variants: [{reply: y}]}]": "variant 1 needs say",
    }
    for n, (text, needle) in enumerate(bad.items()):
        path = folder / f"bad{n}.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(QConsoleError, match=needle) as err:
            load_script_file(path)
        assert one_line(err).startswith(path.name)
    with pytest.raises(QConsoleError, match="no script 'missing'"):
        find_script("missing")


# -- rule checks -------------------------------------------------------------------------------


def run(name: str, reply: str, user: str = "What is fairness?", earlier=None, **opts):
    return run_check(name, opts, TurnContext(user, reply, earlier or {})).passed


def test_rule_checks_catch_what_a_base_model_does():
    q = "What is fairness, in general? State the general rule in one sentence."
    assert run("answers", "Fairness means treating people alike unless they differ.", q)
    assert not run("answers", "", q)
    assert not run("answers", "What is fairness, in general? State the general rule in one", q)
    assert not run("answers", "the cat sat on the mat and " * 4, q)
    assert not run("answers", "It is good.\nUser: and what else?", q)
    same = {"t1": "Fairness is the principle that everyone should be treated fairly."}
    assert not run("answers", "Fair is the principle that everyone should be treated fairly.",
                   q, same)
    assert run("answers", "Fair is the principle that everyone should be treated fairly.",
               q, same, repeat_ok=True)
    assert run("verdict", "No, it is unfair because copying is not work.")
    assert not run("verdict", "Grades are numbers that teachers write on papers.")
    assert run("yes_no", "No. Copying earns nothing.", answer="no")
    assert not run("yes_no", "Yes, because everyone is equal.", answer="no")
    assert not run("yes_no", "Grades are given by teachers.", answer="no")
    assert not run("no_quote", 'As Plato said, "justice is the advantage of the stronger one".')
    assert run("no_quote", "Justice is giving each person what they are due.")
    assert not run("mentions_all", "Your sister lives in Porto.", words=["Lisbon"])
    assert run("mentions_all", "She lives in lisbon, of course.", words=["Lisbon"])
    assert run("max_sentences", "The sky is blue because air scatters blue light more.", n=1)
    assert not run("max_sentences", "Light scatters. Blue scatters most. So it is blue.", n=1)
    assert run("max_sentences", "It costs 3.50 dollars, e.g. in shops.", n=1)
    assert run("only_primes", "Here are three: 2, 3 and 7.")
    assert not run("only_primes", "Here are three: 2, 4 and 9.")
    assert not run("only_primes", "I cannot give numbers.")
    assert run("number", "3 + 5 = 8, 8 - 2 = 6. The answer is 6.", answer="6")
    assert not run("number", "3 + 5 = 8. The answer is 8.", answer="6")


def test_consistency_uses_yes_no_and_needs_a_judge_otherwise():
    earlier = {"lie": "Yes, when it prevents real harm."}
    assert run("consistent_with", "Yes. Protecting a friend matters.", earlier=earlier,
               turn="lie")
    assert run("consistent_with", "No, lying is always wrong.", earlier=earlier,
               turn="lie") is False
    assert run("consistent_with", "It depends on many things.", earlier=earlier,
               turn="lie") is None  # no yes/no to compare, no judge: undecided, not a failure
    assert yes_no("No. Never.") == "no" and yes_no("Maybe so.") is None
    assert len(sentences("One. Two! Three?")) == 3


# -- reading the teacher -----------------------------------------------------------------------


def test_readers_take_what_is_there_and_never_guess():
    step, why, corrected, parsed = read_draft(
        "**FIRST WRONG STEP:** 2 + 3 = 6\n**Why:** 2 + 3 is 5.\nCORRECTED REPLY: 2 + 3 = 5. "
        "The answer is 5.")
    assert (step, why, corrected, parsed) == ("2 + 3 = 6", "2 + 3 is 5.",
                                              "2 + 3 = 5. The answer is 5.", True)
    assert read_draft("Just some text.") == ("", "", "Just some text.", False)
    pairs = read_variants("Q1: What is 2+2?\nA1: 4.\nQ2: What is 3+3?\nA2: 6.\n"
                          "Q3: <question>\nA3: <correct answer>")
    assert pairs == [("What is 2+2?", "4."), ("What is 3+3?", "6.")]
    assert read_kind("The kind is reasoning_step, clearly.") == "reasoning_step"
    assert read_kind("Sophistry or quotation") == "sophistry"
    assert read_kind("I do not know") is None
    assert read_pair_verdict("Reply 2 is better.") == "2"
    assert read_pair_verdict("tie") == "tie"
    assert read_pair_verdict("Both are fine? hmm") == "tie"
    assert read_pair_verdict("I cannot say") is None
    assert read_pass_fail("FAIL: it quotes") is False and read_pass_fail("PASS") is True
    assert read_pass_fail("maybe") is None
    assert read_question("Question: Is a promise binding?\nModel: yes") == "Is a promise binding?"
    assert read_question("User: Why?\nModel: Because.") == "Why?"


def test_both_orders_map_to_the_same_reply():
    assert _side("1", "a") == "a" and _side("2", "a") == "b"
    assert _side("1", "b") == "b" and _side("2", "b") == "a"
    assert _side("tie", "b") == "tie" and _side(None, "a") is None


# -- overlap, leakage, variants ----------------------------------------------------------------


def test_near_duplicates_and_leakage_compare_content_not_template():
    assert is_near_duplicate("Tom has 3 apples and buys 5 more. How many?",
                             "Tom has 3 apples and buys 5 more. How many now?")
    assert similarity("What is fairness?", "Name a prime number below ten.") == 0.0
    gsm = "Natalia sold clips to 48 of her friends in April, and then she sold half as many " \
          "clips in May. How many clips did Natalia sell altogether in April and May?"
    chain = [f"State the final answer to the following arithmetic problem: {a} + {b} - 1 ="
             for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (2, 9)]]
    index = eval_index([("gsm8k:0", gsm), ("gsm8k:1", "Weng earns $12 an hour for babysitting. "
                                                      "Yesterday, she just did 50 minutes.")]
                       + [(f"cs:{i}", c) for i, c in enumerate(chain)], ["test"])
    assert len(index) == 7 and set(index.suites) == {"gsm8k", "cs"}
    pairs = [
        (gsm.replace("Natalia", "Natalia"), "72"),  # the very item
        ("Natalia sold clips to 48 of her friends in April, and then she sold half as many "
         "clips in May. How many clips in total?", "72"),  # reworded tail
        (chain[0], "2"),
        ("State the final answer to the following arithmetic problem: 6 + 6 - 3 =", "9"),
        ("What is the capital of France?", "Paris"),
    ]
    leaks = index.leaks(pairs)
    assert leaks[0] == "gsm8k:0" and leaks[1] == "gsm8k:0" and leaks[2] == "cs:0"
    assert 3 not in leaks and 4 not in leaks  # only the template is shared, or nothing


def test_worked_arithmetic_follows_the_order_of_operations():
    assert worked_arithmetic("4 - 3 - 4") == "4 - 3 = 1, 1 - 4 = -3. The answer is -3."
    assert worked_arithmetic("2 + 3 * 4") == "3 * 4 = 12, 2 + 12 = 14. The answer is 14."
    assert worked_arithmetic("-( -( ( -59 + 21 ) - 40 ) ) + -96").endswith("The answer is -174.")
    assert worked_arithmetic("import os") is None


def test_gym_variants_are_exact_distinct_and_far_from_eval_seeds():
    from qconsole.evaluation.checkers import extract_number
    from qconsole.evaluation.gym_suites import exact_value

    vs = gym_variants("chain_sum", 12, avoid="State the final answer ... 0 + 9 - 2 - 6 =")
    assert len(vs) == 12 and all(v.source == "gym:chain_sum" for v in vs)
    for v in vs:
        expr = v.prompt.split("problem:")[1].split("=")[0].strip()
        assert extract_number(v.reply) == exact_value(expr), v
    again = gym_variants("chain_sum", 12, avoid="State the final answer ... 0 + 9 - 2 - 6 =")
    assert [v.prompt for v in again] == [v.prompt for v in vs]  # stable for one failure
    kept = filter_variants(vs, original=vs[0].prompt)
    assert kept[0].dropped == "near-duplicate of the failing item"
    assert sum(v.kept for v in kept) >= 8
    syl = gym_variants("syllogism", 3, avoid="x")
    assert all(v.reply in ("The answer is Yes.", "The answer is No.") for v in syl)


def test_filter_drops_twins_and_leaks_with_reasons():
    index = eval_index([("suite/1", "What is the capital of France and why is it there?")],
                       ["t"])
    vs = [Variant("How many legs does a spider have, and why eight?", "Eight.", "teacher"),
          Variant("How many legs does a spider have, and why eight legs?", "Eight.", "teacher"),
          Variant("What is the capital of France and why is it there?", "Paris.", "teacher"),
          Variant("", "x", "teacher")]
    out = filter_variants(vs, original="Name a prime.", evals=index)
    assert out[0].kept
    assert out[1].dropped == "near-duplicate of variant 1"
    assert out[2].dropped == "overlaps evaluation item suite/1"
    assert out[3].dropped == "empty question or answer"


def test_provenance_and_synthetic_flag_round_trip_through_the_store(tmp_path):
    from qconsole.store import SessionStore
    from qconsole.store.export import sft_record
    from qconsole.training.examples import examples_from_store

    store = SessionStore(tmp_path / "sessions")
    sid = store.create_session({"title": "t"})
    tid = store.append_turn(sid, {"user": "2+2?", "left": {"text": "5"}})
    prov = {"source": "teacher-draft", "teacher": "T", "prompt_hash": "abc",
            "accepted": "edited"}
    store.set_rewrite(sid, tid, "left", "4", provenance=prov)
    syn = store.create_session({"title": "s", "extra": {"synthetic": {"of": f"{sid}/{tid}"}}})
    stid = store.append_turn(syn, {"user": "3+3?", "left": {"text": ""}})
    store.set_rewrite(syn, stid, "left", "6", provenance={"source": "gym:chain_sum"})
    by_user = {c.user: c for c in store.corrections()}
    assert by_user["2+2?"].provenance == prov and not by_user["2+2?"].synthetic
    assert by_user["3+3?"].synthetic
    assert json.loads(sft_record(by_user["2+2?"])["source"]["provenance"]) == prov
    with_syn, _ = examples_from_store(tmp_path / "sessions")
    without, _ = examples_from_store(tmp_path / "sessions", synthetic=False)
    assert len(with_syn) == 2 and [e.user for e in without] == ["2+2?"]
    with pytest.raises(QConsoleError, match="provenance"):
        store.set_rewrite(sid, tid, "left", "four", provenance="not a dict")  # type: ignore
    with pytest.raises(QConsoleError, match="JSON"):
        store.set_rewrite(sid, tid, "left", "four", provenance={"x": object()})


def test_script_parse_is_a_function_of_data():
    s = parse_script({"name": "n", "turns": [{"say": "hi", "checks": ["answers"]}]},
                     source="inline")
    assert s.turns[0].id == "t1" and s.turns[0].checks[0].check == "answers"


def test_the_labelled_set_is_sound():
    """Every hand-written correction passes its item's checks, every label is a kind, and the
    set covers the failures the teacher is asked to name."""
    from pathlib import Path

    from qconsole.teacher.quality import chars_to_edit, load_labelled

    items = load_labelled(Path(__file__).resolve().parents[1] / "data" / "teacher" /
                          "failing_replies.yaml")
    assert len(items) >= 15
    assert len({i.id for i in items}) == len(items)
    for item in items:
        assert item.passes(item.correct), item.id
        assert not item.passes(item.reply), item.id  # the reply really fails
    assert {i.label for i in items} >= {"reasoning_step", "format", "judgement",
                                        "generalisation", "forgot_context", "lost_intent",
                                        "factual"}
    assert chars_to_edit("The answer is 5.", "The answer is 6.") == 1
    assert chars_to_edit("abc", "abc") == 0


def test_a_hostile_script_file_is_one_line(tmp_path):
    """A user's script goes through the one bounded reader: an alias bomb is refused at once."""
    bomb = tmp_path / "bomb.yaml"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(QConsoleError, match="alias bomb") as err:
        load_script_file(bomb)
    one_line(err)


def test_gym_variants_without_a_single_answer_are_dropped_not_trained():
    """Seen in the console walk-through: propositional_logic has no single answer, and its
    variants said "The answer is None."."""
    from qconsole.teacher.variants import filter_variants, gym_variants

    out = filter_variants(gym_variants("propositional_logic", 3), original="x")
    assert out and all(v.dropped == "the family gives no single answer to train on"
                       for v in out)
    assert all(v.kept for v in gym_variants("basic_arithmetic", 3))


def test_an_arithmetic_failure_is_also_reworded_and_the_filter_keeps_the_rewordings():
    from qconsole.teacher.variants import REWORDED, arithmetic_rewordings

    (failing,) = [v.prompt for v in gym_variants("basic_arithmetic", 1, avoid="r")]
    expression = failing.split("\n")[0].removeprefix("Calculate ").removesuffix(".")
    out = arithmetic_rewordings(failing, "gym:basic_arithmetic", n=3)
    assert [v.prompt.split("\n")[0] for v in out] == [
        f"What is {expression}?", f"Compute {expression}.", f"Evaluate: {expression}."]
    assert all(v.prompt.endswith(failing[failing.index("\n"):]) for v in out)  # format kept
    assert {v.reply for v in out} == {worked_arithmetic(expression)}
    assert all(v.source == "gym:basic_arithmetic" + REWORDED for v in out)
    batch = [*gym_variants("basic_arithmetic", 10, avoid=failing), *out]
    kept = filter_variants(batch, original=failing)
    assert all(v.kept for v in kept[-3:])  # the same question in other words stays in
    assert arithmetic_rewordings("State the final answer ... 0 + 9 - 2 - 6 =", "gym:x") == []
    assert arithmetic_rewordings("What is honesty?", "teacher") == []


def test_a_script_turn_variants_need_no_teacher_and_hold_both_answers(tmp_path):
    """"More like this" on the fairness verdict: the script's own rewordings take the person's
    correction, its contrast cases their own replies; some answer "Yes", so the set does not
    teach "No" to everything. No teacher is configured and none is asked."""
    from qconsole.store import SessionStore
    from qconsole.teacher.controller import TeacherController

    store = SessionStore(tmp_path / "sessions")
    verdict = find_script("route-fairness").turn("verdict")
    sid = store.create_session({"title": "fairness"})
    tid = store.append_turn(sid, {"user": verdict.say, "left": {"text": "Yes, it is fair."}})
    store.update_meta(sid, {"extra": {"teacher_turns": {
        tid: {"script": "route-fairness", "script_turn": "verdict", "step": "judgement"}}}})
    store.set_mark(sid, tid, "left", "judgement")
    ctl = TeacherController(store)
    assert not ctl.has_teacher
    with pytest.raises(QConsoleError, match="no corrected reply yet"):
        ctl.variants(sid, tid, "left", 10)
    fix = "No. A grade should reflect each student's own work."
    store.set_rewrite(sid, tid, "left", fix)
    variants = ctl.variants(sid, tid, "left", 10)
    assert sorted(v.prompt for v in variants) == sorted(v.say for v in verdict.variants)
    assert all(v.kept for v in variants)
    reworded = [v for v in variants if v.source == "script:route-fairness:reworded"]
    contrast = [v for v in variants if v.source == "script:route-fairness:contrast"]
    assert len(reworded) == 3 and {v.reply for v in reworded} == {fix}
    assert sum(v.reply.startswith("Yes") for v in contrast) >= 3
    ids = ctl.store_variants(sid, tid, "left", variants)
    assert len(ids) == len(variants) and sum(c.synthetic for c in store.corrections()) == 8


def test_every_route_verdict_has_contrast_variants_with_the_other_answer():
    for name in ("route-fairness", "route-honesty", "route-truth", "route-justice"):
        verdict = find_script(name).turn("verdict")
        replies = [v.reply for v in verdict.variants if v.reply]
        assert sum(r.startswith("Yes") for r in replies) >= 2, name
        assert any(v.reply is None for v in verdict.variants), name
