"""The judge inside evaluation (`qconsole eval --judge`): which records it scores, how its
verdicts are counted (a win only when both orders agree), the report's lines beside the
word-overlap placeholder, and the real SmolLM2 teacher as the judge."""

from __future__ import annotations

from dataclasses import dataclass

from qconsole.evaluation.judge_scoring import (
    judge_records,
    judged_item,
    load_judgement,
    save_judgement,
)
from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.suites import SIMILARITY_LABEL

Q = "What is honesty?"


def rec(item_id, suite, base, adapter, *, ok=(False, True), **meta):
    return ItemResult(item_id, suite, ok[0], ok[1], prompt=Q, reference=meta.pop("ref", None),
                      base_reply=base, adapter_reply=adapter, meta=meta)


RECORDS = [
    rec("s1", "in-domain-similarity", "A word.", "Telling the truth.", scorer="similarity",
        label=SIMILARITY_LABEL, ref="Honesty is telling the truth."),
    rec("s2", "in-domain-similarity", "Telling the truth.", "A word.", ok=(True, False),
        scorer="similarity", label=SIMILARITY_LABEL, ref="Honesty is telling the truth."),
    rec("s3", "in-domain-similarity", "A word.", "Also a word.", scorer="similarity",
        label=SIMILARITY_LABEL, ref="Honesty is telling the truth."),
    rec("p1", "probes", "Quote: 'honesty'", "It is telling the truth.", scorer="contains",
        judge="A definition, not a quotation."),
    rec("r1", "in-domain", "6", "7", scorer="numeric", ref="6"),  # a rule scores it: skipped
    rec("l1", "in-domain-similarity", "a", "b", scorer="similarity", leak="c1"),  # leaked
    rec("m1", "in-domain-similarity", "a", None, scorer="similarity"),  # no adapter reply
]


@dataclass
class Verdict:
    first: str | None
    second: str | None
    winner: str


def truth_judge(question, base, adapter, reference, rubric):
    """A rule as the judge (counting is what is tested here): the reply that says "truth"
    wins in both orders; when both or neither do, order 1 is preferred both times, so the
    two orders disagree, as a position-biased judge does."""
    b, a = "truth" in base, "truth" in adapter
    if a != b:
        return Verdict("2" if a else "1", "1" if a else "2", "b" if a else "a")
    return Verdict("1", "1", "inconsistent")


def test_only_free_text_and_rubric_items_are_judged():
    assert [r.item_id for r in RECORDS if judged_item(r)] == ["s1", "s2", "s3", "p1"]
    assert judged_item(RECORDS[0]) == ("Honesty is telling the truth.", None)
    assert judged_item(RECORDS[3]) == (None, "A definition, not a quotation.")


def test_counts_agreement_and_lines():
    seen = []
    j = judge_records(RECORDS, truth_judge, name="rule-judge", on_item=seen.append)
    assert seen == [1, 2, 3, 4]
    s = j.suites["in-domain-similarity"]
    assert (s.n, s.adapter_wins, s.base_wins, s.ties, s.inconsistent) == (3, 1, 1, 0, 1)
    assert abs(s.agreement_rate - 2 / 3) < 1e-9
    assert (s.rule_base, s.rule_adapter) == (1, 2)
    assert j.suites["probes"].adapter_wins == 1
    lines = j.lines()
    assert lines[0] == ("judge · in-domain-similarity (rule-judge, both orders, 3 items): "
                        "adapter wins 1, base wins 1, ties 0, orders disagree 1; agreement 67%")
    assert lines[1] == (f"    secondary, placeholder ({SIMILARITY_LABEL}): base 1/3, "
                        "adapter 2/3")
    assert lines[3] == "    secondary, rule: base 0/1, adapter 1/1"


def test_the_report_shows_the_judge_beside_the_placeholder(tmp_path):
    from qconsole.evaluation.report import format_table, summarize
    from qconsole.evaluation.results import write_jsonl
    from qconsole.evaluation.store import ITEMS, RunStore, load_run

    run = RunStore(tmp_path / "evals").create({"model": {"name": "m"}, "status": "complete"})
    write_jsonl(run.path / ITEMS, RECORDS[:3])
    assert load_judgement(run.path) is None
    save_judgement(run.path, judge_records(RECORDS, truth_judge, name="rule-judge"))
    text = format_table(summarize(load_run(run.path)))
    assert f"in-domain-similarity: {SIMILARITY_LABEL}." in text  # the placeholder stays
    assert "judge · in-domain-similarity (rule-judge, both orders, 3 items)" in text
    assert load_judgement(run.path).suites["probes"].n == 1


def test_smollm2_judges_in_both_orders(local_teacher):
    from qconsole.teacher.eval_judge import pair_judge

    j = judge_records(RECORDS, pair_judge(local_teacher), name=local_teacher.name)
    s = j.suites["in-domain-similarity"]
    assert s.n == 3 and s.adapter_wins + s.base_wins + s.ties + s.inconsistent == 3
    for item in s.items:  # each order's verdict is kept, and a win needs both to agree
        assert item["first"] in ("1", "2", "tie", None)
        if item["winner"] in ("a", "b"):
            assert item["first"] != item["second"]  # the same reply, in the other position
    assert 0.0 <= s.agreement_rate <= 1.0


def test_eval_judge_without_a_teacher_stops_before_the_run(capsys):
    from qconsole.cli import main

    rc = main(["eval", "--judge", "--tasks", "none", "--panel", "none", "--no-in-domain",
               "--gym", "chain_sum", "--limit", "2"])
    assert rc == 2
    assert "no teacher is configured" in capsys.readouterr().err


JUDGE_PROBES = """\
suite: rubric
topic: honesty
items:
  - id: sum
    prompt: "What is 2 + 3? End with The answer is X."
    checker: numeric
    answer: 5
  - id: honesty
    prompt: "What is honesty? Answer in one sentence."
    judge: "A definition in the model's own words, not a quotation."
"""


def test_the_runner_asks_judge_only_probes_of_both_sides_and_eval_judge_scores_them(
        tmp_path, smollm2_path):
    """A real run (the embedded base on both sides): the judge-only item is generated for
    base and adapter, stored apart from the rule items (no row counts it), and `eval --judge`'s
    judge_run (the real SmolLM2) judges it with its rubric."""
    from qconsole.evaluation.report import summarize
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.runner import run_evaluation
    from qconsole.evaluation.store import RunStore, load_run
    from qconsole.evaluation.suites import probe_suite
    from qconsole.teacher.config import TeacherSpec
    from qconsole.teacher.eval_judge import judge_run

    probes = tmp_path / "rubric.yaml"
    probes.write_text(JUDGE_PROBES, encoding="utf-8")
    run_evaluation(EvalRequest(model="default", max_tokens=12, threads=1,
                               suites=[probe_suite(str(probes))]))
    (run,) = RunStore().runs()
    assert [r.item_id for r in run.items()] == ["sum"]  # rule rows: the rule item only
    (judged,) = run.judge_items()
    assert judged.item_id == "honesty" and judged.base_reply and judged.adapter_reply
    assert judged.meta["judge"].startswith("A definition") and judged.meta["scorer"] == "judge"
    assert [c.n for c in summarize(load_run(run.path)).rows if c.suite == "rubric"] == [1]

    judgement = judge_run(load_run(run.path),
                          TeacherSpec(spec="smollm2", n_ctx=2048, max_tokens=160))
    s = judgement.suites["rubric"]
    assert s.n == 1 and s.judge_only == 1
    assert s.lines("t")[1] == "    1 judge-only item(s): no rule to compare with"
    assert load_judgement(run.path).suites["rubric"].items[0]["item_id"] == "honesty"
