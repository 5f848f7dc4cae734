"""Steps 1 and 2 of a cycle: probe the current model, then check which items it failed.

Probe: the cycle's fresh probe items (reasoning-gym or a probe file) are asked of the model as
it stands before this cycle: the base in cycle 1, the previous cycle's adapter after that. One
side only (not a base-vs-adapter run: nothing is compared here), through the evaluation's own
machinery, so the prompt, the stop strings and the scoring are exactly the evaluation's; the
base side's answers come from the base cache when they are there. Every reply is kept in
``probes/cycle-<k>.jsonl`` beside the ledger: the items asked, and what the model said (the
original of each correction).

Check: each reply read both ways (qconsole.evaluation.readings); a failure is an item wrong
under the flexible reading (the lenient one: what is corrected is reasoning, not the
cue); per topic the first ``corrections.max`` failures are selected, in item order, and
with ``include_passed`` the rest of the quota is filled with items answered right (keeping
easy items in the mix, as Lion does).
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from qconsole.cycles.context import CycleContext


def _probe_specs(ctx: CycleContext, k: int) -> list[Any]:
    from qconsole.evaluation.suites import SuiteSpec

    specs = []
    for name in ctx.plan.cycle_topics()[k - 1]:
        topic = ctx.plan.topic(name)
        if topic.probes.gym is not None:
            cfg = ctx.plan.probe_gym(topic, k)
            specs.append(SuiteSpec(name=cfg["suite"], kind="gym", gym=cfg, topic=name))
        else:
            specs.append(SuiteSpec(name=f"probe-{name}", kind="probes", topic=name,
                                   path=str(ctx.plan.resolve(topic.probes.file))))
    return specs


def records_path(ctx: CycleContext, k: int) -> Path:
    return ctx.folder / "probes" / f"cycle-{k}.jsonl"


def probe_step(ctx: CycleContext, k: int) -> dict[str, Any]:
    from qconsole.evaluation.generate import generate_items
    from qconsole.evaluation.gym_suites import gym_oracle
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.setup import prepare_suites, setup_run
    from qconsole.evaluation.suites import score_reply

    adapter = ctx.model_before(k)
    ev = ctx.plan.model.evaluation
    attempt = ctx.ledger.attempts(k, "probe")
    scratch = ctx.folder / "probe-runs"
    request = EvalRequest(model=ctx.plan.model.model, adapter=adapter,
                          suites=_probe_specs(ctx, k), template=ctx.plan.model.template,
                          max_tokens=ev.probe_max_tokens or ev.max_tokens, threads=ctx.threads,
                          cache=True, cache_path=str(ctx.evals / ".cache" /
                                                     "eval-base-cache.sqlite"),
                          evals_root=str(scratch), sessions_root=str(ctx.sessions),
                          run_id=f"probe-c{k}-a{attempt}")
    shutil.rmtree(scratch, ignore_errors=True)  # an earlier attempt's, killed half way
    side = "adapter" if adapter else "base"
    ectx = setup_run(request, lambda kind, **f: None, ctx.cancel or threading.Event())
    records: list[dict[str, Any]] = []
    try:
        ectx.engine.set_adapter(ectx.adapter_gguf if adapter else None)
        for p in prepare_suites(ectx):
            def tick(n: int, suite: str = p.spec.name, total: int = len(p.gen_items),
                     done: dict[str, int] = {"n": 0}) -> None:  # noqa: B006 - per suite
                if n - done["n"] >= 20 or n == total:
                    done["n"] = n
                    ctx.say(f"  probe {suite}: {n}/{total}")

            answers = generate_items(ectx, p.gen_items, side, tick)
            for item in p.gen_items:
                gen, cached = answers[item.item_id]
                reply = gen.text.strip()
                correct, details = score_reply(item, reply)
                gold = item.reference
                if gold is None and item.checker is not None and item.checker.kind == "gym":
                    gold = gym_oracle(item.checker)
                elif gold is None and item.checker is not None:
                    gold = item.checker.answer
                records.append({
                    "item": item.item_id, "suite": p.spec.name, "topic": p.spec.topic,
                    "user_text": item.user_text, "reply": reply, "correct": bool(correct),
                    "strict": bool(details.get("strict")), "read": details.get("answer"),
                    "reference": gold, "finish": gen.finish_reason, "cached": cached,
                    "meta": {k2: v for k2, v in dict(item.meta).items()
                             if k2 in ("family", "seed", "index", "expression", "question")},
                })
        template = ectx.template.name
        model_name = ectx.run.manifest["model"]["name"]
    finally:
        ectx.close()
        shutil.rmtree(ectx.run.path, ignore_errors=True)
    path = records_path(ctx, k)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                   encoding="utf-8")
    tmp.replace(path)
    right = sum(r["correct"] for r in records)
    ctx.say(f"cycle {k}: probed {adapter or 'the base'} on {len(records)} items, "
            f"{right} right (flexible)")
    return {"model": adapter, "side": side, "items": len(records), "correct": right,
            "records": str(path.relative_to(ctx.folder)), "template": template,
            "model_name": model_name,
            "suites": sorted({r["suite"] for r in records})}


def read_records(ctx: CycleContext, k: int) -> list[dict[str, Any]]:
    step = ctx.ledger.step(k, "probe")
    if step is None:
        raise RuntimeError(f"cycle {k}: the probe step has not finished")
    path = ctx.folder / step["records"]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def select(records: list[dict[str, Any]], quota: int, include_passed: bool
           ) -> list[dict[str, Any]]:
    """The first ``quota`` failures, in order; then, with ``include_passed``, passed items."""
    failed = [r for r in records if not r["correct"]]
    chosen = failed[:quota]
    if include_passed and len(chosen) < quota:
        chosen += [r for r in records if r["correct"]][: quota - len(chosen)]
    return chosen


def check_step(ctx: CycleContext, k: int) -> dict[str, Any]:
    records = read_records(ctx, k)
    per_topic: dict[str, Any] = {}
    selected: list[str] = []
    for name in ctx.plan.cycle_topics()[k - 1]:
        topic = ctx.plan.topic(name)
        rs = [r for r in records if r["topic"] == name]
        chosen = select(rs, topic.corrections.max, topic.corrections.include_passed)
        selected.extend(r["item"] for r in chosen)
        per_topic[name] = {"asked": len(rs), "failed": sum(not r["correct"] for r in rs),
                           "strict_right": sum(r["strict"] for r in rs),
                           "selected": len(chosen)}
        ctx.say(f"cycle {k}: {name}: {per_topic[name]['failed']} of {len(rs)} failed; "
                f"{len(chosen)} selected for correction")
    return {"topics": per_topic, "selected": selected}
