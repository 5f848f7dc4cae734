"""The evaluation runner's model-free parts: suites, scoring rules, leakage, lm-eval task
definitions over local data, the run store and its cycles, and ``qconsole eval``'s options."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from qconsole.errors import QConsoleError
from qconsole.evaluation.checkers import Checker
from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.store import RunStore, save_items, stored_cycles, update_manifest
from qconsole.evaluation.suites import (
    IN_DOMAIN,
    IN_DOMAIN_SIMILARITY,
    SuiteSpec,
    checker_for_rewrite,
    in_domain_items,
    score_reply,
    word_f1,
)
from qconsole.prompts import Message, TranscriptTemplate


class FakeCorrection:
    """The fields of qconsole.store.Correction the suites read."""

    def __init__(self, sid: str, tid: str, user: str, rewrite: str, kinds=("reasoning",),
                 context=()):
        self.session_id, self.turn_id, self.side = sid, tid, "left"
        self.user, self.rewrite, self.original = user, rewrite, "wrong"
        self.kinds, self.template, self.hash = tuple(kinds), "transcript", f"h-{tid}"
        self.context = tuple(context)

    @property
    def id(self) -> str:
        return f"{self.session_id}/{self.turn_id}/{self.side}"

    @property
    def prompt_messages(self):
        return [*self.context, Message("user", self.user)]


def test_checker_for_rewrite_reads_the_final_answer():
    assert checker_for_rewrite("4 - 3 = 1, 1 - 4 = -3. The answer is -3.") == Checker(
        "numeric", answer="-3")
    assert checker_for_rewrite("Step one.\n#### 1,234") == Checker("numeric", answer="1,234")
    assert checker_for_rewrite("So the answer is: Socrates.") == Checker(
        "exact", answer="Socrates")
    assert checker_for_rewrite("Honesty is telling the truth even when it costs you.") is None


def test_in_domain_items_are_asked_as_the_chat_asked_them():
    template = TranscriptTemplate()
    ctx = (Message("user", "Hi"), Message("assistant", "Hello."))
    corrections = [
        FakeCorrection("s1", "t2", "What is 4 - 3 - 4?", "4 - 3 = 1, 1 - 4 = -3. The answer is -3.",
                       context=ctx),
        FakeCorrection("s1", "t3", "What is honesty?", "Telling the truth when it costs."),
    ]
    items = in_domain_items(corrections, lambda name: lambda ms: template.render(ms))
    checked, similar = items
    assert checked.suite == IN_DOMAIN and checked.scorer == "numeric"
    assert checked.prompt == template.render([*ctx, Message("user", "What is 4 - 3 - 4?")])
    assert checked.cluster == "s1" and checked.distance == "in-domain"
    assert checked.topic == "reasoning" and checked.item_id == "s1/t2/left"
    assert similar.suite == IN_DOMAIN_SIMILARITY and similar.scorer == "similarity"
    assert score_reply(checked, "1 - 4 is -3. The answer is -3.")[0]
    assert not score_reply(checked, "The answer is 3.")[0]
    ok, details = score_reply(similar, "Honesty is telling the truth when it costs.")
    assert ok and details["scorer"] == "similarity"


def test_word_f1_by_hand():
    # reply words: the cat sat (3); reference: the cat ran away (4); common 2
    # P = 2/3, R = 2/4, F1 = 2PR/(P+R) = (2 * 1/3) / (7/6) = 4/7
    assert word_f1("The cat sat", "the cat ran away") == pytest.approx(4 / 7)
    assert word_f1("", "x") == 0.0


def test_leakage_flags_copies_and_near_copies():
    from qconsole.evaluation.leakage import EvalText, find_leaks

    train = FakeCorrection(
        "s1", "t1", "A train leaves the station at nine and travels sixty miles an hour "
        "for three hours, how far does it go?", "180 miles. The answer is 180.")
    items = [
        EvalText("copy", "a train leaves the station at nine and travels sixty miles an hour "
                 "for three hours, how far does it go"),
        EvalText("near", "Question: A train leaves the station at nine and travels sixty miles "
                 "an hour for three hours, how far does it go? Think."),
        EvalText("other", "What is the capital of France?"),
    ]
    leaks = {leak.item_id: leak for leak in find_leaks(items, [train])}
    assert set(leaks) == {"copy", "near"}
    assert leaks["copy"].correction == "s1/t1/left" and leaks["copy"].how == "content"
    assert leaks["near"].how.startswith("overlap")


def test_suite_spec_round_trip_and_validation():
    spec = SuiteSpec(name="gsm8k_cot", kind="benchmark", task="gsm8k_cot", num_fewshot=4)
    assert SuiteSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(QConsoleError):
        SuiteSpec(name="x", kind="benchmark")
    with pytest.raises(QConsoleError):
        SuiteSpec.from_dict({"name": "x", "kind": "gym", "gym": {"preset": "chain_sum"},
                             "bogus": 1})


def test_eval_request_round_trip():
    from qconsole.evaluation.request import EvalRequest, default_suites

    req = EvalRequest(adapter="fair-1", suites=default_suites(), limit=5)
    back = EvalRequest.from_dict(json.loads(json.dumps(req.to_dict())))
    assert back == req
    names = [s.name for s in back.suites]
    assert names == ["in-domain", "gsm8k_cot", "mmlu", "hellaswag", "arc_challenge",
                     "winogrande", "general_qa", "gsm8k_slice"]
    assert [s.panel for s in back.suites][-5:] == [True] * 5
    assert [s.kind for s in back.suites[-2:]] == ["probes", "probes"]  # the generated part
    assert back.suites[-1].task == "gsm8k" and not back.suites[-1].path  # found at setup


# -- lm-eval tasks over local data ---------------------------------------------------------------


def test_local_tasks_reuse_stock_definitions(benchmark_data):
    from qconsole.evaluation.benchmarks import build_tasks, count_items, resolve_benchmarks

    tasks = resolve_benchmarks(["gsm8k_cot", "hellaswag", "winogrande", "arc_challenge"],
                               data_dir=benchmark_data, num_fewshot={"gsm8k_cot": 2})
    by = {t.task: t for t in tasks}
    assert (by["gsm8k_cot"].metric, by["gsm8k_cot"].filter) == ("exact_match", "strict-match")
    assert by["hellaswag"].metric == "acc_norm" and by["winogrande"].metric == "acc"
    cfg = by["hellaswag"].config
    assert cfg["dataset_path"] == "json" and cfg["validation_split"] == "validation"
    assert cfg["training_split"] is None  # no train file: dropped, never fetched
    assert callable(cfg["process_docs"])  # the stock !function, resolved by lm-eval's loader
    assert by["gsm8k_cot"].config["doc_to_text"].startswith("Q: ")
    built = build_tasks(tasks)
    assert built["gsm8k_cot"].config.num_fewshot == 2
    assert count_items(built, 3) == {"gsm8k_cot": 3, "hellaswag": 3, "winogrande": 3,
                                     "arc_challenge": 3}
    doc = built["hellaswag"].eval_docs[0]
    assert doc["query"].startswith("Roof shingle removal: A man is sitting on a roof.")


def _filtered_samples(task, replies: list[str]) -> list[dict]:
    """lm-eval's per-sample logs of ``replies`` to the task's first documents: its own filters
    (Task.apply_filters) and metric (process_results), gathered as lm-eval's evaluator does."""
    task.build_all_requests(limit=len(replies), rank=0, world_size=1)
    for inst, reply in zip(task.instances, replies, strict=True):
        inst.resps = [reply]
    task.apply_filters()
    samples = []
    for inst in task.instances:
        for key, filtered in inst.filtered_resps.items():
            metrics = task.process_results(inst.doc, [filtered])
            samples.append({"doc_id": inst.doc_id, "doc": inst.doc, "filter": key,
                            "target": task.doc_to_target(inst.doc), "resps": [inst.resps],
                            "filtered_resps": [filtered], **metrics})
    return samples


def test_gsm8k_cot_carries_both_filters_into_the_readings(benchmark_data):
    from qconsole.evaluation.benchmarks import build_tasks, reading_outcomes, resolve_benchmarks

    (task,) = resolve_benchmarks(["gsm8k_cot"], data_dir=benchmark_data)
    assert task.filters == ("strict-match", "flexible-extract") and task.has_readings
    built = build_tasks([task])
    replies = [  # the first four GSM8K answers are 18, 3, 70000, 540
        "16 - 3 - 4 = 9. 9 * 2 = 18. The answer is 18.",  # both
        "2 / 2 = 1, 2 + 1 = 3 bolts.",  # no cue: flexible only
        "The answer is 7. Checking: 80000 + 50000 = 130000, 2.5 * 80000 = 200000, 70000",
        "3 * 3 = 9, 9 * 60 = 540 meters; 540 + 1 = 541",  # the last number is wrong
    ]
    results = {"samples": {"gsm8k_cot": _filtered_samples(built["gsm8k_cot"], replies)}}
    got = reading_outcomes(results, task)
    assert [(got[d]["strict"], got[d]["flexible"]) for d in range(4)] == [
        (True, True), (False, True), (False, True), (False, False)]
    assert got[0]["answer"] == got[0]["strict_answer"] == "18"
    assert got[1]["strict_answer"] is None and got[1]["answer"] == "3"
    assert got[3]["answer"] == "541"
    (arc,) = resolve_benchmarks(["arc_challenge"], data_dir=benchmark_data)
    assert not arc.has_readings and reading_outcomes(results, arc) is None


def test_local_mmlu_splits_one_file_by_subject(benchmark_data):
    from qconsole.evaluation.benchmarks import build_tasks, resolve_benchmarks

    tasks = resolve_benchmarks(["mmlu"], data_dir=benchmark_data)
    assert len(tasks) == 57 and {t.suite for t in tasks} == {"mmlu"}
    anatomy = [t for t in tasks if t.task == "mmlu_anatomy"]
    built = build_tasks(anatomy)
    docs = built["mmlu_anatomy"].eval_docs
    assert len(docs) == 135 and {d["subject"] for d in docs} == {"anatomy"}


def test_missing_local_data_is_one_clear_error(tmp_path):
    from qconsole.evaluation.benchmarks import resolve_benchmarks

    with pytest.raises(QConsoleError, match="piqa_validation.jsonl"):
        resolve_benchmarks(["piqa"], data_dir=tmp_path)
    with pytest.raises(QConsoleError, match="unknown lm-eval task"):
        resolve_benchmarks(["no_such_task_x"], data_dir=tmp_path)


# -- the store -----------------------------------------------------------------------------------


def _item(i: int, suite: str, b: bool, a: bool, topic: str, distance: str | None = None,
          **meta) -> ItemResult:
    return ItemResult(f"{suite}:{i}", suite, b, a, topic=topic, distance=distance, meta=meta)


def _stored_run(store: RunStore, adapter: str | None, created: str, items, status="complete",
                topics=None):
    run = store.create({"model": {"name": "m"}, "adapter": {"name": adapter, "created": created,
                        "trained_topics": topics} if adapter else None,
                        "settings": {"forgetting_threshold": 2.0}})
    save_items(run, items)
    update_manifest(run, status=status, created=created)
    return run


def test_crashed_run_reads_as_crashed_and_is_not_final(tmp_path):
    store = RunStore(tmp_path / "evals")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    run = store.create({"model": {"name": "m"}, "adapter": None, "pid": int(dead.stdout)})
    again = store.get(run.run_id)
    assert again.status == "crashed" and not again.is_final
    alive = store.create({"model": {"name": "m"}, "adapter": None, "pid": os.getpid()})
    assert store.get(alive.run_id).status == "running"


def test_stored_cycles_order_and_topics(tmp_path):
    from qconsole.evaluation.cycles import accuracy_matrix, gem_metrics

    store = RunStore(tmp_path / "evals")
    c1 = [_item(0, "in-domain", False, True, "sums", "in-domain"),
          _item(1, "logic", False, False, "logic", "far")]
    c2 = [_item(0, "in-domain", False, True, "logic", "in-domain"),
          _item(1, "sums", False, True, "sums", "near")]
    _stored_run(store, "second", "2025-01-02T00:00:00+00:00", c2)
    _stored_run(store, "first", "2025-01-01T00:00:00+00:00", c1)
    _stored_run(store, "broken", "2025-01-03T00:00:00+00:00", c1, status="cancelled")
    cycles, infos = stored_cycles(store.runs())
    assert [i.adapter for i in infos] == ["first", "second"]  # cancelled runs are no cycle
    assert [c.trained_topics for c in cycles] == [("sums",), ("logic",)]
    m = accuracy_matrix(cycles)
    assert m.r(1, "sums") == 1.0 and m.r(2, "logic") == 1.0 and m.r(1, "logic") == 0.0
    gem = gem_metrics(m)
    assert gem.acc == 1.0  # both topics right after cycle 2
    assert gem.bwt == 0.0  # sums: R[2] - R[1] = 1 - 1
    assert gem.fwt == 0.0  # logic before training: adapter 0 vs base 0


# -- qconsole eval options -------------------------------------------------------------------------


def _parse(argv: list[str]) -> argparse.Namespace:
    from qconsole.cli import build_parser

    return build_parser().parse_args(["eval", *argv])


def test_eval_options_build_the_request(tmp_path):
    from qconsole.commands.eval import build_request

    probes = tmp_path / "truth.yaml"
    probes.write_text("suite: truth\ndistance: far\nitems:\n  - prompt: Is 2 > 1?\n"
                      "    answer: 'yes'\n")
    req = build_request(_parse([
        "--adapter", "fair-1", "--tasks", "gsm8k_cot", "--panel", "hellaswag",
        "--probes", str(probes), "--gym", "chain_sum", "--gym",
        '{"preset": "syllogism", "distance": "far", "size": 5}', "--fewshot", "gsm8k_cot=4",
        "--limit", "7", "--out", str(tmp_path / "run1"), "--data-dir", str(tmp_path),
    ]))
    names = [s.name for s in req.suites]
    assert names == ["in-domain", "truth", "chain_sum", "syllogism", "gsm8k_cot", "hellaswag"]
    by = {s.name: s for s in req.suites}
    assert by["gsm8k_cot"].num_fewshot == 4 and by["hellaswag"].panel
    assert by["syllogism"].distance == "far" and by["truth"].kind == "probes"
    assert (req.limit, req.adapter, req.run_id) == (7, "fair-1", "run1")
    assert req.evals_root == str(tmp_path)
    none = build_request(_parse(["--tasks", "none", "--panel", "none", "--no-in-domain",
                                 "--gym", "chain_sum"]))
    assert [s.name for s in none.suites] == ["chain_sum"]
    with pytest.raises(QConsoleError, match="fewshot"):
        build_request(_parse(["--fewshot", "mmlu=x"]))
