"""Setting an evaluation run up: the model and adapter, the stored run, the suites' items.

:func:`setup_run` loads the model once into a llama.cpp engine (qconsole.inference.llama_engine),
resolves the adapter to a GGUF LoRA, reads the corrections (for in-domain items and leakage)
and creates the run folder (qconsole.evaluation.store). :func:`prepare_suites` turns every
suite spec into its items (generated prompts, or lm-eval tasks), so the run knows its size
before the first model call. :class:`EvalContext` is what the later steps share.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.base_cache import BaseCache, Decoding
from qconsole.evaluation.leakage import LeakageCheck
from qconsole.evaluation.request import EvalRequest, default_suites
from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.store import RunStore, StoredRun
from qconsole.evaluation.suites import (
    IN_DOMAIN,
    IN_DOMAIN_SIMILARITY,
    SIMILARITY_LABEL,
    GenItem,
    SuiteSpec,
)
from qconsole.jobs.events import Emit


def eval_threads(request: EvalRequest) -> int:
    """CPU threads for the run (see :func:`qconsole.inference.threads.job_threads`)."""
    from qconsole.inference.threads import job_threads

    return request.threads or job_threads(background=request.background)


@dataclass
class Prepared:
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
class EvalContext:
    request: EvalRequest
    emit: Emit
    cancel: threading.Event
    run: StoredRun
    engine: Any
    adapter_gguf: Path | None
    template: Any
    max_tokens: int
    leakage: LeakageCheck
    suites: list[SuiteSpec] = field(default_factory=list)
    corrections: list[Any] = field(default_factory=list)
    template_named: Callable[[str], Any] | None = None
    items: list[ItemResult] = field(default_factory=list)
    judge_items: list[ItemResult] = field(default_factory=list)  # judge-only probes, both sides
    forgetting: dict[str, Any] | None = None
    comparisons: dict[str, Any] = field(default_factory=dict)
    lm_eval: dict[str, dict[str, Any]] = field(default_factory=lambda: {"base": {},
                                                                         "adapter": {}})
    warnings: list[str] = field(default_factory=list)
    leaks: list[dict[str, str]] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    cache: BaseCache | None = None
    parallel: int = 1
    skipped: list[dict[str, str]] = field(default_factory=list)  # suites without data
    sources: dict[str, str] = field(default_factory=dict)  # benchmark suite -> data source
    # wall seconds spent on each side: the base's share is a one-time cost per model once
    # the base cache holds its answers (a cycle's time is judged without it)
    side_seconds: dict[str, float] = field(default_factory=lambda: {"base": 0.0,
                                                                    "adapter": 0.0})
    _pool: Any = None

    def decoding(self) -> Decoding:
        """The decoding settings of this run's generated replies (part of the cache key)."""
        return Decoding(max_tokens=self.max_tokens, stop=tuple(self.template.stop),
                        n_ctx=self.engine.n_ctx)

    def pool(self) -> Any:
        """``parallel`` engines over the model, one thread each (made on first use)."""
        if self._pool is None:
            from qconsole.inference.engine_pool import EnginePool

            threads = self.engine.backend.n_threads
            self._pool = EnginePool(self.engine, self.parallel,
                                    threads_each=max(1, threads // self.parallel))
        return self._pool

    def close(self) -> None:
        """Free the model, the pool's engines and the cache."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self.cache is not None:
            self.cache.close()
        self.engine.close()
        self.engine.backend.close()


def setup_run(request: EvalRequest, emit: Emit, cancel: threading.Event) -> EvalContext:
    from qconsole.config import load_config
    from qconsole.inference.llama_engine import LlamaEngine
    from qconsole.models.resolve import resolve_model
    from qconsole.prompts import template_for_model

    config = load_config()
    model = resolve_model(request.model or config.model, aliases=config.models)
    adapter_info, adapter_gguf, trained_ids = resolve_adapter(request.adapter, model.path)
    corrections = load_corrections(request, trained_ids)
    suites = request.suites or default_suites()
    names = [s.name for s in suites]
    if len(set(names)) != len(names):
        raise QConsoleError(f"suite names must be unique: {', '.join(names)}")

    threads = eval_threads(request)
    parallel = max(1, request.parallel or threads)  # default: one engine per thread
    engine: Any
    if request.engine == "vllm":  # vLLM batches by itself; its answers never enter the cache
        from qconsole.evaluation.vllm_engine import VllmEngine

        engine = VllmEngine(model.path, n_ctx=request.n_ctx or max(config.n_ctx, 2048),
                            adapter_dir=Path(adapter_info["path"]) if adapter_info else None)
        parallel, request = 1, replace(request, cache=False)
    else:
        engine = LlamaEngine(model.path, n_ctx=request.n_ctx or max(config.n_ctx, 2048),
                             n_threads=threads)
    info = engine.backend.info

    def template_named(choice: str) -> Any:
        if choice not in ("auto", "transcript", "chat"):
            choice = "auto"
        return template_for_model(info, choice)

    template = template_named(request.template or config.template)
    max_tokens = request.max_tokens or config.sampling.max_tokens
    store = RunStore(request.evals_root)
    manifest: dict[str, Any] = {
        "model": {"spec": model.spec, "name": model.name, "path": str(model.path)},
        "adapter": adapter_info,
        "suites": [s.to_dict() for s in suites],
        "settings": {"limit": request.limit, "data_dir": request.data_dir,
                     "template": template.name, "max_tokens": max_tokens,
                     "n_ctx": engine.n_ctx, "threads": threads,
                     "forgetting_threshold": request.forgetting_threshold,
                     "decoding": "greedy", "parallel": parallel, "base_cache": request.cache,
                     "engine": request.engine},
        "request": request.to_dict(),
    }
    from qconsole.evaluation.bleed import shape_signature

    manifest["format_shape"] = list(shape_signature(c.rewrite for c in corrections))
    if request.run_id:
        manifest["run_id"] = request.run_id
    try:
        run = store.create(manifest)
    except FileExistsError as exc:
        engine.close()
        engine.backend.close()
        raise QConsoleError(f"evaluation run {request.run_id!r} exists already") from exc
    cache = None
    if request.cache:
        from qconsole.models.fingerprint import file_fingerprint

        cache = BaseCache(request.cache_path, file_fingerprint(model.path))
    ctx = EvalContext(request, emit, cancel, run, engine, adapter_gguf, template, max_tokens,
                      LeakageCheck.from_corrections(corrections), suites=suites,
                      corrections=corrections, template_named=template_named, cache=cache,
                      parallel=parallel)
    if cache is not None and cache.problem:
        ctx.warnings.append(cache.problem)
    return ctx


def resolve_adapter(spec: str | None, base: Path
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


def load_corrections(request: EvalRequest, trained_ids: list[str] | None) -> list[Any]:
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


def prepare_suites(ctx: EvalContext) -> list[Prepared]:
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

    out: list[Prepared] = []
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
                out.append(Prepared(spec, gen_items=checked))
            if similar:
                sim_spec = SuiteSpec(name=IN_DOMAIN_SIMILARITY, kind="in-domain",
                                     distance="in-domain")
                out.append(Prepared(sim_spec, gen_items=similar))
                ctx.warnings.append(f"{len(similar)} corrected turn(s) state no final answer: "
                                    f"{IN_DOMAIN_SIMILARITY} is a {SIMILARITY_LABEL}")
        elif spec.kind in ("probes", "gym"):
            fields: dict[str, Any] = {**asdict(spec), "limit": limit}
            if spec.kind == "probes" and spec.task:  # a benchmark slice: local data or skipped
                from qconsole.evaluation.benchmark_slice import slice_file

                path, where = slice_file(spec.task, ctx.request.data_dir)
                if path is None:
                    _skip(ctx, spec, where)
                    continue
                fields["path"] = str(path)
                ctx.sources[spec.name] = where
            items, warnings = load_generation_suite(SuiteSpec(**fields), renderer(ctx.template))
            ctx.warnings.extend(warnings)
            out.append(Prepared(spec, gen_items=items))
        else:
            prepared = _prepare_benchmark(ctx, spec, limit)
            if prepared is not None:
                out.append(prepared)
    return out


def _prepare_benchmark(ctx: EvalContext, spec: SuiteSpec, limit: int | None
                       ) -> Prepared | None:
    """The suite's lm-eval tasks, or None (recorded in ``ctx.skipped``) when its data is not
    available or lm-eval cannot load it: the rest of the run goes on."""
    from qconsole.evaluation.benchmark_data import check_benchmarks
    from qconsole.evaluation.benchmarks import (
        BenchmarkTask,
        build_tasks,
        count_items,
        primary_metric,
        resolve_benchmarks,
    )

    request = ctx.request
    try:
        if spec.path:  # a local multiple-choice file
            from qconsole.evaluation.mc_file import mc_task_config

            cfg = mc_task_config(spec.path, spec.task or spec.name)
            metric, filt = primary_metric(cfg)
            tasks = [BenchmarkTask(suite=spec.name, task=cfg["task"],
                                   output_type="multiple_choice", metric=metric, filter=filt,
                                   num_fewshot=spec.num_fewshot, config=cfg)]
            source = "local"
        else:
            (status,) = check_benchmarks([spec.task or ""], data_dir=request.data_dir,
                                         include_path=request.include_path,
                                         use_hub=request.use_hub)
            if not status.available:
                _skip(ctx, spec, status.detail)
                return None
            shots = {spec.task or "": spec.num_fewshot} if spec.num_fewshot is not None else None
            tasks = resolve_benchmarks([spec.task or ""], data_dir=status.data_dir,
                                       num_fewshot=shots, include_path=request.include_path)
            source = status.line()
        built = build_tasks(tasks)
    except QConsoleError as exc:
        _skip(ctx, spec, str(exc))
        return None
    p = Prepared(spec, bench_tasks=tasks, built=built)
    p.bench_counts = count_items(built, limit)
    ctx.sources[spec.name] = source
    return p


def _skip(ctx: EvalContext, spec: SuiteSpec, reason: str) -> None:
    ctx.skipped.append({"suite": spec.name, "reason": reason})
    ctx.warnings.append(f"skipped {spec.name}: {reason}")
