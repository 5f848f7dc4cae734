"""One evaluation run: base and adapter over every suite, per-item results, honest comparisons.

Why one loaded model: the base and the adapter are compared on identical weights, the adapter
switched on the llama.cpp context (qconsole.evaluation.lm_backend). Each suite is run for the
base, then for the adapter, so that every finished suite is a complete paired comparison; the
run is stored after each suite (qconsole.evaluation.store), which is what makes a cancelled or
crashed run still show what it finished, marked partial.

Without an adapter the "adapter" pass is the base again, after dropping the KV cache: every
difference must then be exactly zero and nothing may flip. That is a real check of the
machinery (determinism, pairing, scoring), not a placeholder.

Runs in the console as a job (qconsole.jobs.start_job with :func:`eval_job_argv` of a request
written by :func:`save_request`)::

    qconsole eval --request <evals>/.requests/<id>.json --progress-jsonl -

writing the job protocol's JSON-lines events (qconsole.jobs.events): ``start`` (suites and their
item counts), ``phase`` (``load``, ``suite``), ``progress`` (``step``/``total_steps`` over the
whole run, plus ``suite``, ``side``, ``suite_done``, ``suite_total``, ``eta_s`` for the suite and
``run_eta_s``), ``log`` (warnings, leakage), ``suite_done`` (``suite`` and its ``comparison``),
then exactly one of ``done`` (``run_dir``, ``table``), ``cancelled`` or ``error`` (both with
``run_dir`` and ``partial: true``). SIGTERM or SIGINT cancels between two model calls.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.benchmarks import DEFAULT_BENCHMARKS, FORGETTING_PANEL
from qconsole.evaluation.lm_backend import default_eval_threads
from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.store import (
    RESULTS,
    RunStore,
    StoredRun,
    now_iso,
    save_items,
    update_manifest,
    write_json,
)
from qconsole.evaluation.suites import (
    IN_DOMAIN,
    IN_DOMAIN_SIMILARITY,
    SIMILARITY_LABEL,
    GenItem,
    LeakageIndex,
    SuiteSpec,
    benchmark_suite,
    score_reply,
)

DEFAULT_FORGETTING_THRESHOLD = 2.0  # points of pooled panel accuracy
EmitFn = Callable[..., Any]


@dataclass
class EvalRequest:
    """Everything a run needs; JSON-serialisable so the console can hand it to a subprocess."""

    model: str | None = None  # model spec (qconsole.models.resolve); None: the config's
    adapter: str | None = None  # registry name, PEFT dir or GGUF LoRA file; None: base vs base
    suites: list[SuiteSpec] = field(default_factory=list)
    limit: int | None = None  # default per-suite limit (a suite's own limit wins)
    data_dir: str | None = None  # local benchmark JSONL folder; None: the hub
    template: str | None = None  # prompt template; None: the config's
    max_tokens: int | None = None  # reply length for generation suites; None: the config's
    n_ctx: int | None = None
    threads: int | None = None
    forgetting_threshold: float = DEFAULT_FORGETTING_THRESHOLD
    evals_root: str | None = None
    sessions_root: str | None = None
    run_id: str | None = None
    engine: str = "llama.cpp"  # or "vllm" (qconsole/evaluation/vllm_engine.py)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["suites"] = [s.to_dict() for s in self.suites]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalRequest:
        known = set(cls.__dataclass_fields__)
        unknown = [k for k in data if k not in known]
        if unknown:
            raise QConsoleError(f"evaluation request: unknown key {unknown[0]!r}")
        d = dict(data)
        d["suites"] = [SuiteSpec.from_dict(s) for s in d.get("suites") or []]
        return cls(**d)


def default_suites(
    *,
    in_domain: bool = True,
    benchmarks: Iterable[str] = DEFAULT_BENCHMARKS,
    panel: Iterable[str] = FORGETTING_PANEL,
    extra: Iterable[SuiteSpec] = (),
) -> list[SuiteSpec]:
    """in-domain, then ``extra`` (probes, gym), then benchmarks, then the forgetting panel."""
    panel = list(dict.fromkeys(panel))
    out = [SuiteSpec(name=IN_DOMAIN, kind="in-domain", distance="in-domain")] if in_domain else []
    out.extend(extra)
    out.extend(benchmark_suite(t) for t in dict.fromkeys(benchmarks) if t not in panel)
    out.extend(benchmark_suite(t, panel=True) for t in panel)
    return out


# -- progress -----------------------------------------------------------------------------------


class Progress:
    """Per-suite progress and ETA, throttled to a few events a second."""

    def __init__(self, emit: EmitFn, total_items: int) -> None:
        self.emit = emit
        self.total_steps = 2 * total_items  # each item is asked of base and adapter
        self.steps_before = 0
        self.run_start = time.monotonic()
        self._last = 0.0
        self.suite = ""
        self.suite_total = 0
        self.suite_start = 0.0

    def begin_suite(self, suite: str, n_items: int) -> None:
        self.suite, self.suite_total = suite, n_items
        self.suite_start = time.monotonic()

    def update(self, side: str, done_items: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        offset = 0 if side == "base" else self.suite_total
        suite_done = offset + done_items
        suite_steps = 2 * self.suite_total
        step = self.steps_before + suite_done
        elapsed = now - self.suite_start
        eta = elapsed / suite_done * (suite_steps - suite_done) if suite_done > 0 else None
        run_elapsed = now - self.run_start
        run_eta = run_elapsed / step * (self.total_steps - step) if step > 0 else None
        self.emit(
            "progress",
            step=int(step),
            total_steps=self.total_steps,
            suite=self.suite,
            side=side,
            suite_done=int(suite_done),
            suite_total=suite_steps,
            eta_s=round(eta, 1) if eta is not None else None,
            run_eta_s=round(run_eta, 1) if run_eta is not None else None,
        )

    def end_suite(self) -> None:
        self.steps_before += 2 * self.suite_total


# -- the run ------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    spec: SuiteSpec
    gen_items: list[GenItem] = field(default_factory=list)
    bench_tasks: list[Any] = field(default_factory=list)
    bench_counts: dict[str, int] = field(default_factory=dict)
    built: dict[str, Any] | None = None

    @property
    def n_items(self) -> int:
        return len(self.gen_items) if self.spec.kind != "benchmark" else sum(
            self.bench_counts.values())


@dataclass
class _Context:
    request: EvalRequest
    emit: EmitFn
    cancel: threading.Event
    run: StoredRun
    engine: Any
    adapter_gguf: Path | None
    template: Any
    max_tokens: int
    leakage: LeakageIndex
    suites: list[SuiteSpec] = field(default_factory=list)
    corrections: list[Any] = field(default_factory=list)
    template_named: Callable[[str], Any] | None = None
    items: list[ItemResult] = field(default_factory=list)
    forgetting: dict[str, Any] | None = None
    comparisons: dict[str, Any] = field(default_factory=dict)
    lm_eval: dict[str, dict[str, Any]] = field(default_factory=lambda: {"base": {},
                                                                         "adapter": {}})
    warnings: list[str] = field(default_factory=list)
    leaks: list[dict[str, str]] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


def run_evaluation(
    request: EvalRequest,
    *,
    emit: EmitFn | None = None,
    cancel: threading.Event | None = None,
) -> StoredRun:
    """Run ``request``; return the stored run (status ``complete``, or raise after storing a
    ``cancelled``/``failed`` partial run). ``emit(kind, **fields)`` receives the events."""
    from qconsole.evaluation.lm_backend import EvalCancelled

    emit = emit or (lambda kind, **fields: None)
    cancel = cancel or threading.Event()
    run: StoredRun | None = None
    ctx: _Context | None = None
    try:
        emit("phase", phase="load")
        ctx = _setup(request, emit, cancel)
        run = ctx.run
        prepared = _prepare(ctx)
        update_manifest(run, item_counts={p.spec.name: p.n_items for p in prepared},
                        warnings=ctx.warnings)
        total = sum(p.n_items for p in prepared)
        emit("start", run_id=run.run_id, run_dir=str(run.path),
             model=run.manifest["model"]["name"], adapter=run.manifest.get("adapter"),
             suites=[{"name": p.spec.name, "kind": p.spec.kind, "items": p.n_items,
                      "panel": p.spec.panel} for p in prepared],
             total_items=total)
        for w in ctx.warnings:
            emit("log", level="warning", message=w)
        progress = Progress(emit, total)
        for p in prepared:
            _run_suite(ctx, p, progress)
        _finish(ctx, "complete")
        emit("done", run_id=run.run_id, run_dir=str(run.path), status="complete",
             table=_table(ctx), forgetting=ctx.forgetting)
        return run
    except (EvalCancelled, KeyboardInterrupt):
        if ctx is not None:
            _finish(ctx, "cancelled")
        emit("cancelled", run_dir=str(run.path) if run else None, partial=True,
             completed_suites=ctx.completed if ctx else [])
        raise
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not isinstance(exc, QConsoleError):
            message = f"{type(exc).__name__}: {message}"
        if ctx is not None:
            _finish(ctx, "failed", error=message)
        emit("error", message=message, run_dir=str(run.path) if run else None, partial=True)
        raise
    finally:
        if ctx is not None:
            ctx.engine.close()
            ctx.engine.backend.close()


def _setup(request: EvalRequest, emit: EmitFn, cancel: threading.Event) -> _Context:
    from qconsole.config import load_config
    from qconsole.evaluation.lm_backend import LlamaEngine
    from qconsole.models.resolve import resolve_model
    from qconsole.prompts import template_for_model

    config = load_config()
    model = resolve_model(request.model or config.model, aliases=config.models)
    adapter_info, adapter_gguf, trained_ids = _resolve_adapter(request.adapter, model.path)
    corrections = _corrections(request, trained_ids)
    suites = request.suites or default_suites()
    names = [s.name for s in suites]
    if len(set(names)) != len(names):
        raise QConsoleError(f"suite names must be unique: {', '.join(names)}")

    if request.engine == "vllm":
        from qconsole.evaluation.vllm_engine import VllmEngine

        engine: Any = VllmEngine(model.path, n_ctx=request.n_ctx or max(config.n_ctx, 2048),
                                 adapter_dir=Path(adapter_info["path"]) if adapter_info else None)
    else:
        engine = LlamaEngine(model.path, n_ctx=request.n_ctx or max(config.n_ctx, 2048),
                             n_threads=request.threads or default_eval_threads())
    info = engine.backend.info

    def template_named(choice: str) -> Any:
        if choice not in ("auto", "transcript", "chat"):
            choice = "auto"
        return template_for_model(info, choice)

    template = template_named(request.template or config.template)
    max_tokens = request.max_tokens or config.sampling.max_tokens
    store = RunStore(request.evals_root)
    manifest = {
        "model": {"spec": model.spec, "name": model.name, "path": str(model.path)},
        "adapter": adapter_info,
        "suites": [s.to_dict() for s in suites],
        "settings": {"limit": request.limit, "data_dir": request.data_dir,
                     "template": template.name, "max_tokens": max_tokens,
                     "n_ctx": engine.n_ctx, "threads": request.threads or default_eval_threads(),
                     "forgetting_threshold": request.forgetting_threshold,
                     "decoding": "greedy", "engine": request.engine},
        "request": request.to_dict(),
    }
    if request.run_id:
        manifest["run_id"] = request.run_id
    try:
        run = store.create(manifest)
    except FileExistsError as exc:
        engine.close()
        engine.backend.close()
        raise QConsoleError(f"evaluation run {request.run_id!r} exists already") from exc
    return _Context(request, emit, cancel, run, engine, adapter_gguf, template, max_tokens,
                    LeakageIndex.from_corrections(corrections), suites=suites,
                    corrections=corrections, template_named=template_named)


def _resolve_adapter(spec: str | None, base: Path
                     ) -> tuple[dict[str, Any] | None, Path | None, list[str] | None]:
    """(manifest info, GGUF LoRA path, ids of the corrections it was trained on or None)."""
    if not spec:
        return None, None, None
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ({"name": path.stem, "path": str(path.resolve()), "gguf": str(path.resolve()),
                 "created": None, "trained_topics": None}, path.resolve(), None)
    from qconsole.adapters.gguf_lora import ensure_gguf_lora
    from qconsole.adapters.registry import get_adapter, load_entry

    entry = load_entry(path, base) if path.is_dir() else get_adapter(spec, base)
    gguf = ensure_gguf_lora(entry, base_gguf=base)
    meta = entry.meta
    source = dict(meta.source) if meta else {}
    ids = source.get("correction_ids")
    info = {
        "name": entry.name,
        "path": str(entry.path),
        "gguf": str(gguf),
        "created": meta.created if meta else None,
        "trained_topics": source.get("topics"),
        "rank": entry.rank,
        "alpha": entry.alpha,
        "final_loss": meta.final_loss if meta else None,
    }
    return info, gguf, list(ids) if isinstance(ids, list) else None


def _corrections(request: EvalRequest, trained_ids: list[str] | None) -> list[Any]:
    """The corrected turns (all of them, or those the adapter's metadata names)."""
    from qconsole.paths import sessions_dir
    from qconsole.store import SessionStore

    root = Path(request.sessions_root).expanduser() if request.sessions_root else sessions_dir()
    if not root.is_dir():
        return []
    found = SessionStore(root).corrections()
    if trained_ids is not None:
        wanted = set(trained_ids)
        found = [c for c in found if c.id in wanted or c.hash in wanted]
    return found


def _prepare(ctx: _Context) -> list[_Prepared]:
    from qconsole.evaluation.benchmarks import build_tasks, count_items, resolve_benchmarks
    from qconsole.evaluation.suites import in_domain_items, load_generation_suite
    from qconsole.inference.context_budget import fit_to_context

    engine = ctx.engine
    template_named = ctx.template_named
    assert template_named is not None
    budget = max(16, engine.n_ctx - ctx.max_tokens)

    def renderer(template: Any) -> Callable[[Any], str]:
        def render(messages: Any) -> str:
            fit = fit_to_context(
                list(messages), lambda ms: template.render(ms, add_generation_prompt=True),
                lambda text: len(engine.tokenize(text)), budget)
            return fit.prompt
        return render

    out: list[_Prepared] = []
    for spec in ctx.suites:
        limit = spec.limit or ctx.request.limit
        if spec.kind == "in-domain":
            items = in_domain_items(ctx.corrections, lambda name: renderer(template_named(name)),
                                    limit=limit)
            if not items:
                ctx.warnings.append("no corrected turns in the sessions: in-domain skipped")
                continue
            checked = [i for i in items if i.suite == IN_DOMAIN]
            similar = [i for i in items if i.suite == IN_DOMAIN_SIMILARITY]
            if checked:
                out.append(_Prepared(spec, gen_items=checked))
            if similar:
                sim_spec = SuiteSpec(name=IN_DOMAIN_SIMILARITY, kind="in-domain",
                                     distance="in-domain")
                out.append(_Prepared(sim_spec, gen_items=similar))
                ctx.warnings.append(f"{len(similar)} corrected turn(s) state no final answer: "
                                    f"{IN_DOMAIN_SIMILARITY} is a {SIMILARITY_LABEL}")
        elif spec.kind in ("probes", "gym"):
            items, warnings = load_generation_suite(
                SuiteSpec(**{**asdict(spec), "limit": limit}), renderer(ctx.template))
            ctx.warnings.extend(warnings)
            out.append(_Prepared(spec, gen_items=items))
        else:
            shots = {spec.task: spec.num_fewshot} if spec.num_fewshot is not None else None
            tasks = resolve_benchmarks([spec.task or ""], data_dir=ctx.request.data_dir,
                                       num_fewshot=shots)
            built = build_tasks(tasks)
            p = _Prepared(spec, bench_tasks=tasks, built=built)
            p.bench_counts = count_items(built, limit)
            out.append(p)
    return out


def _run_suite(ctx: _Context, p: _Prepared, progress: Progress) -> None:
    spec = p.spec
    ctx.emit("phase", phase="suite", suite=spec.name)
    progress.begin_suite(spec.name, p.n_items)
    if spec.kind == "benchmark":
        records = _benchmark_suite(ctx, p, progress)
    else:
        records = _generation_suite(ctx, p, progress)
    progress.end_suite()
    _flag_leaks(ctx, spec, records)
    ctx.items.extend(records)
    ctx.completed.append(spec.name)
    from qconsole.evaluation.stats import compare

    comparison = compare(records, suite=spec.name)
    ctx.comparisons[spec.name] = comparison
    _save(ctx, "running")
    ctx.emit("suite_done", suite=spec.name, comparison=comparison.to_dict())


def _switch(ctx: _Context, side: str) -> None:
    ctx.engine.set_adapter(ctx.adapter_gguf if side == "adapter" else None)


def _generation_suite(ctx: _Context, p: _Prepared, progress: Progress) -> list[ItemResult]:
    order = sorted(p.gen_items, key=lambda i: i.prompt)  # shared prefixes sit next to each other
    replies: dict[str, dict[str, Any]] = {"base": {}, "adapter": {}}
    for side in ("base", "adapter"):
        _switch(ctx, side)
        progress.update(side, 0, force=True)
        for n, item in enumerate(order, start=1):
            gen = ctx.engine.generate_text(item.prompt, until=ctx.template.stop,
                                           max_tokens=ctx.max_tokens, cancel=ctx.cancel)
            reply = gen.text.strip()
            correct, details = score_reply(item, reply)
            replies[side][item.item_id] = (correct, reply, {**details,
                                                            "finish": gen.finish_reason})
            progress.update(side, n)
    records = []
    for item in p.gen_items:
        b_ok, b_reply, b_det = replies["base"][item.item_id]
        a_ok, a_reply, a_det = replies["adapter"][item.item_id]
        meta = {**dict(item.meta), "kind": p.spec.kind, "scorer": item.scorer,
                "user_text": item.user_text, "base": b_det, "adapter": a_det}
        if item.scorer == "similarity":
            meta["label"] = SIMILARITY_LABEL
        records.append(ItemResult(
            item_id=item.item_id, suite=p.spec.name, base_correct=b_ok, adapter_correct=a_ok,
            topic=item.topic, distance=item.distance, cluster=item.cluster, prompt=item.prompt,
            reference=item.reference, base_reply=b_reply, adapter_reply=a_reply, meta=meta,
        ))
    return records


def _benchmark_suite(ctx: _Context, p: _Prepared, progress: Progress) -> list[ItemResult]:
    from qconsole.evaluation.benchmarks import evaluate, lm_eval_summary, outcomes
    from qconsole.evaluation.lm_backend import llama_lm

    limit = p.spec.limit or ctx.request.limit
    per_side: dict[str, dict[str, Any]] = {}
    for side in ("base", "adapter"):
        _switch(ctx, side)
        progress.update(side, 0, force=True)

        def on_progress(done: int, total: int, side: str = side) -> None:
            progress.update(side, p.n_items * done / max(1, total))

        lm = (ctx.engine.lm_eval_model() if ctx.request.engine == "vllm"
              else llama_lm(ctx.engine, progress=on_progress, cancel=ctx.cancel))
        built = p.built if side == "base" else None  # a Task keeps per-run state: fresh ones
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
        for doc_id in sorted(set(base) & set(adapter)):
            b, a = base[doc_id], adapter[doc_id]
            records.append(ItemResult(
                item_id=f"{task.task}:{doc_id}", suite=p.spec.name, base_correct=b.correct,
                adapter_correct=a.correct, topic=p.spec.topic or p.spec.name,
                distance=p.spec.distance, cluster=None, prompt=b.prompt, reference=b.reference,
                base_reply=b.reply, adapter_reply=a.reply,
                meta={"kind": "benchmark", "task": task.task, "doc_id": doc_id,
                      "metric": task.metric, "filter": task.filter, "source": task.source,
                      "panel": p.spec.panel, "base": dict(b.extra), "adapter": dict(a.extra)},
            ))
    return records


def _flag_leaks(ctx: _Context, spec: SuiteSpec, records: list[ItemResult]) -> None:
    """Warn when a transfer or benchmark item overlaps a training correction."""
    if spec.kind == "in-domain" or not len(ctx.leakage):
        return
    hits = []
    for i, r in enumerate(records):
        text = r.prompt or ""
        if spec.kind != "benchmark":
            text = str(r.meta.get("question") or r.meta.get("user_text") or text)
        found = ctx.leakage.match(text)
        if found:
            records[i] = ItemResult(**{**asdict(r), "meta": {**dict(r.meta), "leak": found}})
            hits.append({"item_id": r.item_id, "correction": found})
    if hits:
        ctx.leaks.extend({"suite": spec.name, **h} for h in hits)
        message = (f"leakage: {len(hits)} item(s) of {spec.name} overlap training corrections "
                   f"(e.g. {hits[0]['item_id']} ~ {hits[0]['correction']}); they prove nothing")
        ctx.warnings.append(message)
        ctx.emit("log", level="warning", message=message)


def _forgetting(ctx: _Context) -> dict[str, Any] | None:
    from qconsole.evaluation.cycles import forgetting_check

    panel = [r for r in ctx.items if r.meta.get("panel")]
    if not panel:
        return None
    suites = list(dict.fromkeys(r.suite for r in panel))
    check = forgetting_check(panel, ctx.request.forgetting_threshold)
    return {
        "suites": suites,
        "threshold_points": check.threshold_points,
        "diff_points": check.diff_points,
        "status": check.status,
        "flagged": check.flagged,
        "significant": check.significant,
        "comparison": check.comparison.to_dict(),
    }


def _table(ctx: _Context) -> list[dict[str, Any]]:
    rows = [c.to_dict() for c in ctx.comparisons.values()]
    forgetting = ctx.forgetting
    if forgetting:
        rows.append({**forgetting["comparison"], "forgetting": {
            k: v for k, v in forgetting.items() if k != "comparison"}})
    return rows


def _save(ctx: _Context, status: str, error: str | None = None) -> None:
    forgetting = ctx.forgetting = _forgetting(ctx)
    save_items(ctx.run, ctx.items)
    suites_meta = {s["name"]: s for s in ctx.run.manifest.get("suites", [])}
    results: dict[str, Any] = {}
    for name, c in ctx.comparisons.items():
        spec = suites_meta.get(name, {})
        results[name] = {
            "alias": name,
            "kind": spec.get("kind", "in-domain"),
            "panel": bool(spec.get("panel")),
            "n": c.n,
            "acc,base": c.base_acc,
            "acc_ci,base": list(c.base_ci),
            "acc,adapter": c.adapter_acc,
            "acc_ci,adapter": list(c.adapter_ci),
            "diff": c.diff,
            "diff_ci": list(c.diff_ci),
            "p_value": c.p_value,
            "flips": asdict(c.flips),
            "label": c.label,
            "clustered": c.clustered,
        }
        if name == IN_DOMAIN_SIMILARITY:
            results[name]["note"] = SIMILARITY_LABEL
    partial = status != "complete"
    doc = {
        "run_id": ctx.run.run_id,
        "status": status,
        "partial": partial,
        "model": ctx.run.manifest.get("model"),
        "adapter": ctx.run.manifest.get("adapter"),
        "results": results,
        "comparisons": [c.to_dict() for c in ctx.comparisons.values()],
        "forgetting": forgetting,
        "leakage": {"corrections_indexed": len(ctx.leakage), "flagged": ctx.leaks},
        "warnings": ctx.warnings,
        "completed_suites": ctx.completed,
        "error": error,
    }
    write_json(ctx.run.path / RESULTS, doc)
    for side, data in ctx.lm_eval.items():
        if data:
            write_json(ctx.run.path / f"lm_eval_{side}.json", data)
    fields: dict[str, Any] = {"completed_suites": ctx.completed, "warnings": ctx.warnings,
                              "status": status, "error": error}
    if status in ("complete", "cancelled", "failed"):
        fields["finished"] = now_iso()
    update_manifest(ctx.run, **fields)


def _finish(ctx: _Context, status: str, error: str | None = None) -> None:
    try:
        _save(ctx, status, error)
    except Exception as exc:  # never hide the original problem behind a save error
        ctx.emit("log", level="warning", message=f"could not store the run: {exc}")


# -- running as a job ------------------------------------------------------------------------------


def quiet_libraries() -> None:
    """lm-eval and datasets log and draw progress bars; the events are the progress here."""
    import logging

    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for name in ("lm_eval", "lm-eval", "datasets", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cancel_on_signals() -> threading.Event:
    """An event set by SIGTERM (the job's cancel) or a first Ctrl-C; a second Ctrl-C stops at
    once. Only from the main thread (elsewhere the event is returned unconnected)."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return cancel

    def on_term(signum: int, frame: Any) -> None:
        cancel.set()

    def on_int(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)
    return cancel


def save_request(request: EvalRequest) -> Path:
    """Write ``request`` where the evals live (``.requests/``, never listed as a run)."""
    folder = RunStore(request.evals_root).root / ".requests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{id(request):x}.json"
    write_json(path, request.to_dict())
    return path


def eval_job_argv(request_path: str | os.PathLike[str]) -> list[str]:
    """The argv the console gives ``qconsole.jobs.start_job`` for a stored request."""
    return [sys.executable, "-m", "qconsole", "eval", "--request", str(request_path),
            "--progress-jsonl", "-"]
