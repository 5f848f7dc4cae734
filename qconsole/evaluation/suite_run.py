"""Running one prepared suite: base, then adapter, on the same items; paired records out.

Each suite runs fully for the base and then for the adapter, so every finished suite is a
complete paired comparison and the run can be stored after it (qconsole.evaluation.document).
Generated suites go through the engine's greedy generation and qconsole's checkers
(qconsole.evaluation.suites.score_reply); benchmarks through lm-eval
(qconsole.evaluation.benchmarks). Without an adapter the "adapter" pass is the base again after
dropping the KV cache: every difference must then be exactly zero.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from qconsole.evaluation.document import save_document
from qconsole.evaluation.generate import generate_items
from qconsole.evaluation.progress import Progress
from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.setup import EvalContext, Prepared
from qconsole.evaluation.suites import (
    JUDGE_SCORER,
    SIMILARITY_LABEL,
    SuiteSpec,
    score_reply,
)


def run_suite(ctx: EvalContext, p: Prepared, progress: Progress) -> None:
    spec = p.spec
    ctx.emit("phase", phase="suite", suite=spec.name)
    progress.begin_suite(spec.name, p.n_items)
    if spec.kind == "benchmark":
        records = _benchmark_suite(ctx, p, progress)
    else:
        records = _generation_suite(ctx, p, progress)
    progress.end_suite()
    _flag_leaks(ctx, spec, records)
    judge_only = [r for r in records if r.meta.get("scorer") == JUDGE_SCORER]
    records = [r for r in records if r.meta.get("scorer") != JUDGE_SCORER]
    ctx.judge_items.extend(judge_only)  # no rule row counts them; `eval --judge` scores them
    ctx.items.extend(records)
    ctx.completed.append(spec.name)
    from qconsole.evaluation.rows import compare_suite

    comparison = compare_suite(records, suite=spec.name)  # both readings, leaks left out
    if comparison is not None:
        ctx.comparisons[spec.name] = comparison
    save_document(ctx, "running")
    if comparison is not None:
        ctx.emit("suite_done", suite=spec.name, comparison=comparison.to_dict())


@contextmanager
def on_side(ctx: EvalContext, side: str) -> Iterator[None]:
    """Switch to ``side`` (the adapter, or None for the base; the KV cache is dropped either
    way) and add the wall time spent there to ``ctx.side_seconds``."""
    ctx.engine.set_adapter(ctx.adapter_gguf if side == "adapter" else None)
    started = time.monotonic()
    try:
        yield
    finally:
        ctx.side_seconds[side] = ctx.side_seconds.get(side, 0.0) + time.monotonic() - started


def _generation_suite(ctx: EvalContext, p: Prepared, progress: Progress) -> list[ItemResult]:
    replies: dict[str, dict[str, Any]] = {"base": {}, "adapter": {}}
    for side in ("base", "adapter"):
        progress.update(side, 0, force=True)
        def on_done(n: int, side: str = side) -> None:
            progress.update(side, n)

        with on_side(ctx, side):
            answers = generate_items(ctx, p.gen_items, side, on_done)
        for item in p.gen_items:
            gen, cached = answers[item.item_id]
            reply = gen.text.strip()
            correct, details = score_reply(item, reply)
            details = {**details, "finish": gen.finish_reason}
            if cached:
                details["cached"] = True
            replies[side][item.item_id] = (correct, reply, details)
        progress.update(side, len(p.gen_items), force=True)
    records = []
    for item in p.gen_items:
        b_ok, b_reply, b_det = replies["base"][item.item_id]
        a_ok, a_reply, a_det = replies["adapter"][item.item_id]
        meta = {**dict(item.meta), "kind": p.spec.kind, "scorer": item.scorer,
                "user_text": item.user_text, "base": b_det, "adapter": a_det,
                "panel": p.spec.panel}
        if item.scorer == "similarity":
            meta["label"] = SIMILARITY_LABEL
        records.append(ItemResult(
            item_id=item.item_id, suite=p.spec.name, base_correct=b_ok, adapter_correct=a_ok,
            topic=item.topic, distance=item.distance, cluster=item.cluster, prompt=item.prompt,
            reference=item.reference, base_reply=b_reply, adapter_reply=a_reply, meta=meta,
        ))
    return records


def _benchmark_suite(ctx: EvalContext, p: Prepared, progress: Progress) -> list[ItemResult]:
    from qconsole.evaluation.benchmarks import (
        evaluate,
        llama_lm,
        lm_eval_summary,
        outcomes,
        reading_outcomes,
    )

    limit = p.spec.limit or ctx.request.limit
    per_side: dict[str, dict[str, Any]] = {}
    for side in ("base", "adapter"):
        progress.update(side, 0, force=True)

        def on_progress(done: int, total: int, side: str = side) -> None:
            progress.update(side, p.n_items * done / max(1, total))

        with on_side(ctx, side):
            lm = ctx.engine.lm_eval_model() if ctx.request.engine == "vllm" else llama_lm(
                ctx.engine, progress=on_progress, cancel=ctx.cancel,
                cache=ctx.cache if side == "base" else None,
                pool=ctx.pool if ctx.parallel > 1 else None)
            built = p.built if side == "base" else None  # a Task keeps per-run state
            results = evaluate(lm, p.bench_tasks, limit=limit, built=built)
        p.built = None
        per_side[side] = results
        summary = lm_eval_summary(results)
        merged = ctx.lm_eval[side]
        for key, value in summary.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            else:
                merged[key] = value
        progress.update(side, p.n_items, force=True)
    records = []
    for task in p.bench_tasks:
        base = outcomes(per_side["base"], task)
        adapter = outcomes(per_side["adapter"], task)
        readings = {side: reading_outcomes(per_side[side], task) for side in per_side}
        for doc_id in sorted(set(base) & set(adapter)):
            b, a = base[doc_id], adapter[doc_id]
            extra = {"base": dict(b.extra), "adapter": dict(a.extra)}
            right = {"base": b.correct, "adapter": a.correct}
            for side, by_doc in readings.items():  # gsm8k_cot: strict-match, flexible-extract
                if by_doc is not None and doc_id in by_doc:
                    extra[side].update(by_doc[doc_id])
                    right[side] = bool(by_doc[doc_id]["flexible"])  # the headline
            records.append(ItemResult(
                item_id=f"{task.task}:{doc_id}", suite=p.spec.name, base_correct=right["base"],
                adapter_correct=right["adapter"], topic=p.spec.topic or p.spec.name,
                distance=p.spec.distance, cluster=None, prompt=b.prompt, reference=b.reference,
                base_reply=b.reply, adapter_reply=a.reply,
                meta={"kind": "benchmark", "task": task.task, "doc_id": doc_id,
                      "metric": task.metric, "filter": task.filter, "source": task.source,
                      "panel": p.spec.panel, **extra},
            ))
    return records


def _flag_leaks(ctx: EvalContext, spec: SuiteSpec, records: list[ItemResult]) -> None:
    """Mark transfer or benchmark items that repeat a training correction (compared on content,
    qconsole.evaluation.leakage); they are left out of the suite's row and listed."""
    if spec.kind == "in-domain" or not len(ctx.leakage):
        return
    index = {r.item_id: i for i, r in enumerate(records)}
    hits = []
    for leak in ctx.leakage.leaks(records):
        i = index[leak.item_id]
        r = records[i]
        records[i] = ItemResult(**{**asdict(r), "meta": {**dict(r.meta), "leak": leak.correction,
                                                         "leak_how": leak.how}})
        hits.append(leak.to_dict())
    if hits:
        ctx.leaks.extend({"suite": spec.name, **h} for h in hits)
        message = (f"leakage: {len(hits)} item(s) of {spec.name} repeat training corrections "
                   f"(e.g. {hits[0]['item_id']} ~ {hits[0]['correction']}); left out of its "
                   "row, listed on their own line")
        ctx.warnings.append(message)
        ctx.emit("log", level="warning", message=message)

