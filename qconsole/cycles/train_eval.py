"""Steps 4 and 5 of a cycle: a fresh adapter from the base on everything accumulated, then its
evaluation on the plan's fixed suites.

Train: one adapter per training seed, each FROM THE BASE on the corrections of cycles 1..k
(LLM2LLM and ReST-EM train every round from the base on the whole corpus rather than stacking
adapters), through the same pipeline as ``qconsole train``. Adapter names are deterministic
(plan, cycle, seed, plan hash): a training killed half way left nothing in the registry (the
pipeline installs with one atomic move) and is run again; one that finished before the kill is
found by name and kept.

Evaluate: each seed's adapter against the base on the held-out suite of EVERY topic (trained
or not yet: the topic-by-cycle matrix and forward transfer need all of them), the near and far
suites, and (first seed only: the panel is the slow part) the forgetting panel. The base side
comes from the base cache after the first cycle. Run ids are deterministic: a complete run is
kept, an unfinished one is removed and run again.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from typing import Any

from qconsole.cycles.context import CycleContext


def _settings(ctx: CycleContext, seed: int) -> Any:
    from qconsole.training.settings import settings_for

    training = ctx.plan.model.training
    values = {**dict(training.settings), "seed": seed}
    if ctx.threads and "threads" not in values:
        values["threads"] = ctx.threads
    return settings_for(training.preset, **values)


def train_step(ctx: CycleContext, k: int) -> dict[str, Any]:
    from qconsole.training.hardware import passive_openmp
    from qconsole.training.pipeline import run_training
    from qconsole.training.request import TrainRequest

    passive_openmp()
    sessions = ctx.accumulated_sessions(k)
    if not sessions:
        raise RuntimeError(f"cycle {k}: no corrections to train on")
    training = ctx.plan.model.training
    done = {a["seed"]: a for a in ctx.ledger.state(k, "train").get("partial", [])}
    adapters: list[dict[str, Any]] = []
    for seed in ctx.plan.seeds:
        name = ctx.adapter_name(k, seed)
        if (ctx.adapters / name).is_dir():
            entry = done.get(seed) or {"seed": seed, "name": name, "reused": True}
            ctx.say(f"cycle {k}: adapter {name} exists already; kept")
        else:
            ctx.say(f"cycle {k}: training {name} on {len(sessions)} correction sessions "
                    f"(seed {seed})")
            request = TrainRequest(
                model=ctx.plan.model.model, template=ctx.plan.model.template,
                settings=_settings(ctx, seed), sessions_dir=ctx.sessions,
                session_ids=sessions, include_synthetic=True,
                replay=ctx.plan.resolve(training.replay) if training.replay else None,
                replay_max=training.replay_max, name=name, adapters_root=ctx.adapters,
                verify=training.verify)

            def emit(kind: str, /, **fields: Any) -> None:
                if kind == "progress" and fields.get("step") == fields.get("total_steps"):
                    ctx.say(f"  step {fields.get('step')}/{fields.get('total_steps')} loss "
                            f"{fields.get('loss')}")
                elif kind == "log" and fields.get("level") == "warning":
                    ctx.say(f"  warning: {fields.get('message')}")

            started = time.monotonic()
            outcome = run_training(request, emit=emit, should_stop=ctx.cancel.is_set)
            wall = round(time.monotonic() - started, 1)
            fields = outcome.done_fields()
            if fields.get("adapter") != name:
                raise RuntimeError(f"training installed {fields.get('adapter')!r}, not {name!r}")
            entry = {"seed": seed, "name": name, "examples": fields.get("examples"),
                     "seconds": fields.get("seconds"), "final_loss": fields.get("final_loss"),
                     "steps": fields.get("steps"), "wall_seconds": wall,
                     "equivalence": (fields.get("equivalence") or {}).get("passed")}
        adapters.append(entry)
        ctx.ledger.set_step_state(k, "train", partial=adapters)
    return {"adapters": adapters, "sessions": len(sessions),
            "correction_ids": ctx.accumulated_ids(k)}


def eval_suites(ctx: CycleContext, *, panel: bool) -> list[Any]:
    from qconsole.evaluation.request import default_suites
    from qconsole.evaluation.suites import gym_suite

    ev = ctx.plan.model.evaluation
    gyms = [gym_suite(ctx.plan.heldout_gym(t)) for t in ctx.plan.topics]
    gyms += [gym_suite(cfg) for cfg in ctx.plan.transfer_gym()]
    if ev.fewshot:
        gyms = [replace(s, num_fewshot=ev.fewshot) for s in gyms]
    suites = default_suites(in_domain=False, benchmarks=(), panel=ev.panel if panel else (),
                            extra=gyms)
    if ev.panel_limit:
        suites = [replace(s, limit=ev.panel_limit) if s.panel and s.kind == "benchmark" else s
                  for s in suites]
    return suites


def evaluate_step(ctx: CycleContext, k: int) -> dict[str, Any]:
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.runner import run_evaluation
    from qconsole.evaluation.store import RunStore

    train = ctx.ledger.step(k, "train") or {}
    ev = ctx.plan.model.evaluation
    store = RunStore(ctx.evals)
    runs: list[dict[str, Any]] = []
    for n, adapter in enumerate(train.get("adapters", [])):
        run_id = ctx.run_id(k, adapter["seed"])
        path = store.root / run_id
        if path.is_dir():
            if store.get(run_id).is_final:
                ctx.say(f"cycle {k}: evaluation {run_id} is complete already; kept")
                runs.append({"seed": adapter["seed"], "adapter": adapter["name"],
                             "run_id": run_id, "panel": n == 0 and bool(ev.panel)})
                continue
            shutil.rmtree(path)  # an unfinished run: start it again
        request = EvalRequest(model=ctx.plan.model.model, adapter=adapter["name"],
                              suites=eval_suites(ctx, panel=n == 0),
                              template=ctx.plan.model.template, max_tokens=ev.max_tokens,
                              threads=ctx.threads, cache=True, evals_root=str(ctx.evals),
                              sessions_root=str(ctx.sessions), run_id=run_id, use_hub=False,
                              data_dir=_data_dir(ctx.plan))
        ctx.say(f"cycle {k}: evaluating {adapter['name']} ({len(request.suites)} suites)")

        def emit(kind: str, /, **fields: Any) -> None:
            if kind == "suite_done":
                c = fields.get("comparison") or {}
                ctx.say(f"  {fields.get('suite')}: base {100 * c.get('base_acc', 0):.1f}% "
                        f"adapter {100 * c.get('adapter_acc', 0):.1f}% (n={c.get('n')})")

        started = time.monotonic()
        stored = run_evaluation(request, emit=emit, cancel=ctx.cancel)
        runs.append({"seed": adapter["seed"], "adapter": adapter["name"], "run_id": run_id,
                     "panel": n == 0 and bool(ev.panel),
                     "wall_seconds": round(time.monotonic() - started, 1),
                     "base_pass_seconds": base_pass_seconds(stored.results())})
    verdicts = _verdicts(store.get(runs[0]["run_id"])) if runs else {}
    return {"runs": runs, "verdicts": verdicts}


def base_pass_seconds(results: dict[str, Any]) -> float:
    """The part of an evaluation's wall time spent computing the base's answers, which the
    base cache keeps for every later run on the same model: the base side's seconds, times the
    share of its requests that missed the cache (all of them in a plan's first evaluation,
    none after)."""
    base = float((results.get("side_seconds") or {}).get("base") or 0.0)
    cache = results.get("base_cache") or {}
    hits, misses = int(cache.get("hits") or 0), int(cache.get("misses") or 0)
    if hits + misses == 0:
        return round(base, 1) if results.get("base_cache") is None else 0.0
    return round(base * misses / (hits + misses), 1)


def check_panel_data(plan: Any) -> None:
    """Refuse, before anything slow starts, a plan whose log-likelihood panel has no data here:
    a cycle never uses the hub, and an evaluation would skip the benchmark with a warning, so a
    growth proof would run for an hour and report no forgetting panel."""
    from qconsole.errors import QConsoleError
    from qconsole.evaluation.benchmark_data import check_benchmarks
    from qconsole.evaluation.panel import is_generated_panel

    names = [n for n in plan.model.evaluation.panel if not is_generated_panel(n)]
    missing = [s for s in check_benchmarks(names, data_dir=_data_dir(plan), use_hub=False)
               if not s.available]
    if missing:
        m = missing[0]
        raise QConsoleError(
            f"plan {plan.name}: panel benchmark {m.name} has no data ({m.detail}); put its "
            "JSONL in evaluation.data_dir or $QCONSOLE_BENCHMARK_DATA, or drop it from the panel")


def _data_dir(plan: Any) -> str | None:
    """The plan's benchmark folder, else ``$QCONSOLE_BENCHMARK_DATA`` (an evaluation request
    without one looks only at installed package data and the hub, which a cycle never uses)."""
    from qconsole.evaluation.benchmark_data import default_data_dir

    ev = plan.model.evaluation
    if ev.data_dir:
        return str(plan.resolve(ev.data_dir))
    found = default_data_dir()
    return str(found) if found else None


def _verdicts(run: Any) -> dict[str, Any]:
    """Per suite: both readings' accuracies, the paired difference, its interval, p, verdict."""
    from qconsole.evaluation.rows import suite_rows

    out: dict[str, Any] = {}
    for row in suite_rows(run.items()):
        strict = row.strict
        out[row.suite] = {
            "n": row.n, "base": row.base_acc, "adapter": row.adapter_acc, "diff": row.diff,
            "diff_ci": list(row.diff_ci), "p": row.p_value, "label": row.label,
            "baseline": row.baseline,
            "strict": None if strict is None else {
                "base": strict.base_acc, "adapter": strict.adapter_acc, "diff": strict.diff,
                "p": strict.p_value, "label": strict.label},
        }
    return out
