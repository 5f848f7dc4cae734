"""The fast evaluation path gives the same answers as the plain one, on the real model.

- engines side by side (qconsole.inference.engine_pool) give one engine's replies token for
  token and its log-likelihoods bit for bit, for the base and for a LoRA;
- the base cache: a second run takes every base answer from the cache and every per-item
  result stays identical; a changed decoding setting misses;
- a user's lm-eval task folder (``include_path``) and a local multiple-choice file run through
  lm-eval's log-likelihood scoring in the same run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _random_lora(base: Path, out: Path) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from eval_cycle import random_gguf_lora
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return random_gguf_lora(base, out, r=8, b_std=0.02, seed=3)


@pytest.fixture(scope="module")
def engine(embedded_model_path):
    from qconsole.inference.llama_engine import LlamaEngine

    e = LlamaEngine(embedded_model_path, n_ctx=1024, n_threads=1)
    yield e
    e.close()
    e.backend.close()


def _gym_prompts(engine, n: int) -> list[list[int]]:
    from qconsole.evaluation.suites import gym_suite, load_generation_suite
    from qconsole.prompts import template_for_model

    template = template_for_model(engine.backend.info, "auto")
    items, _ = load_generation_suite(
        gym_suite({"preset": "chain_sum", "size": n, "seed": 77}),
        lambda ms: template.render(ms, add_generation_prompt=True))
    prompts = [engine.tokenize(i.prompt) for i in items]
    prompts.append(engine.tokenize("Once upon a time"))  # a prompt of another length and shape
    return prompts


def test_engines_side_by_side_equal_one_engine_alone(engine, embedded_model_path, tmp_path):
    from qconsole.inference.engine_pool import EnginePool

    prompts = _gym_prompts(engine, 7)
    lora = _random_lora(embedded_model_path, tmp_path / "lora.gguf")
    requests = [(p[:-3], p[-3:]) for p in prompts]  # a log-likelihood request per prompt
    requests += [(prompts[0][:-3], p[-2:]) for p in prompts[1:4]]  # shared contexts
    pool = EnginePool(engine, 2, threads_each=1)
    done: list[int] = []
    try:
        for adapter in (None, lora, None):  # and back: the pool follows the engine's adapter
            engine.set_adapter(adapter)
            single = [engine.generate(p, until=["\nUser:"], max_tokens=40) for p in prompts]
            both = pool.generate(prompts, until=["\nUser:"], max_tokens=40, on_done=done.append)
            assert [(g.text, g.tokens, g.finish_reason) for g in both] == \
                [(g.text, g.tokens, g.finish_reason) for g in single], adapter
            assert pool.score(requests) == engine.score(requests)  # bit for bit
        assert done[-1] == len(prompts)
        engine.set_adapter(lora)
        with_lora = pool.generate(prompts[:4], until=["\nUser:"], max_tokens=40)
        engine.set_adapter(None)
        without = pool.generate(prompts[:4], until=["\nUser:"], max_tokens=40)
        assert [g.text for g in with_lora] != [g.text for g in without]  # the LoRA is applied
        assert engine.backend.n_threads == 1  # given back after the pool's work
    finally:
        pool.close()
        engine.set_adapter(None)


def _user_tasks(tmp_path: Path) -> Path:
    folder = tmp_path / "my_tasks"
    folder.mkdir()
    (folder / "yesno.yaml").write_text(
        "task: my_yesno\ndataset_path: json\n"
        "dataset_kwargs:\n  data_files:\n    test: yesno.jsonl\n"
        "test_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: \"Question: {{question}}\\nAnswer:\"\n"
        "doc_to_choice: ['no', 'yes']\ndoc_to_target: label\n"
        "metric_list:\n  - metric: acc\n", encoding="utf-8")
    rows = [{"question": "Is fire hot?", "label": 1}, {"question": "Is ice hot?", "label": 0},
            {"question": "Do fish swim?", "label": 1}]
    (folder / "yesno.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _mc_file(tmp_path: Path) -> Path:
    path = tmp_path / "capitals.jsonl"
    rows = [{"input": "The capital of France is", "choices": ["Paris", "Rome", "Oslo"],
             "gold": 0},
            {"input": "The capital of Italy is", "choices": ["Paris", "Rome", "Oslo"],
             "gold": "Rome"},
            {"input": "Two plus two is", "choices": ["four", "five"], "gold": 0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _request(tmp_path: Path, lora: Path, data: Path, run_id: str, **over):
    from qconsole.evaluation.mc_file import mc_suite
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.suites import benchmark_suite, gym_suite

    suites = [gym_suite({"preset": "chain_sum", "size": 3, "seed": 91}),
              mc_suite(_mc_file(tmp_path)) if run_id == "first" else
              mc_suite(tmp_path / "capitals.jsonl"),
              benchmark_suite("my_yesno"),
              benchmark_suite("arc_easy", panel=True, limit=2)]
    fields = dict(model="default", adapter=str(lora), suites=suites, data_dir=str(data),
                  include_path=str(tmp_path / "my_tasks"), max_tokens=32, threads=1,
                  parallel=2, cache_path=str(tmp_path / "cache.sqlite"),
                  evals_root=str(tmp_path / "evals"), run_id=run_id, use_hub=False)
    fields.update(over)
    return EvalRequest(**fields)


def _records(run) -> dict[str, tuple]:
    return {f"{r.suite}/{r.item_id}": (r.base_correct, r.adapter_correct, r.base_reply,
                                       r.adapter_reply) for r in run.items()}


def test_base_cache_hits_next_time_with_identical_results(tmp_path, embedded_model_path,
                                                          benchmark_data):
    from qconsole.evaluation.runner import run_evaluation

    lora = _random_lora(embedded_model_path, tmp_path / "lora.gguf")
    _user_tasks(tmp_path)
    first = run_evaluation(_request(tmp_path, lora, benchmark_data, "first"))
    doc = first.results()
    assert doc["skipped"] == []
    assert {"chain_sum", "capitals", "my_yesno", "arc_easy"} <= set(doc["results"])
    assert doc["data_sources"]["my_yesno"].startswith("my_yesno: local (task folder")
    cache1 = doc["base_cache"]
    assert cache1["hits"] == 0 and cache1["misses"] > 0

    second = run_evaluation(_request(tmp_path, lora, benchmark_data, "second"))
    cache2 = second.results()["base_cache"]
    assert cache2["misses"] == 0 and cache2["hits"] == cache1["misses"]
    assert _records(second) == _records(first)
    gen = [r for r in second.items() if r.suite == "chain_sum"]
    assert all(r.meta["base"].get("cached") for r in gen)
    assert not any(r.meta["adapter"].get("cached") for r in gen)  # the adapter is asked again
    mc = {r.item_id: r for r in second.items() if r.suite == "capitals"}
    assert len(mc) == 3 and all("loglikelihoods" in r.meta["base"] for r in mc.values())

    # one key part changed (the reply length): the generated items miss, the others still hit
    third = run_evaluation(_request(tmp_path, lora, benchmark_data, "third", max_tokens=31))
    cache3 = third.results()["base_cache"]
    assert cache3["misses"] == len(gen)
    assert cache3["hits"] == cache1["misses"] - len(gen)

    # --no-cache: nothing looked up, same answers
    fourth = run_evaluation(_request(tmp_path, lora, benchmark_data, "fourth", cache=False))
    assert fourth.results()["base_cache"] is None
    assert _records(fourth) == _records(first)
