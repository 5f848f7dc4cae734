"""The results document of a run: ``results.json`` (lm-eval-like), lm-eval's own summaries, the
forgetting check and the table, rewritten after every suite so a stopped run is still readable
(marked partial)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from qconsole.evaluation.store import (
    RESULTS,
    now_iso,
    save_items,
    save_judge_items,
    update_manifest,
    write_json,
)
from qconsole.evaluation.suites import IN_DOMAIN_SIMILARITY, SIMILARITY_LABEL

if TYPE_CHECKING:
    from qconsole.evaluation.setup import EvalContext


def forgetting_summary(ctx: EvalContext) -> dict[str, Any] | None:
    from qconsole.evaluation.cycles import forgetting_check

    panel = [r for r in ctx.items if r.meta.get("panel") and not r.meta.get("leak")]
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


def run_table(ctx: EvalContext) -> list[dict[str, Any]]:
    rows = [c.to_dict() for c in ctx.comparisons.values()]
    forgetting = ctx.forgetting
    if forgetting:
        rows.append({**forgetting["comparison"], "forgetting": {
            k: v for k, v in forgetting.items() if k != "comparison"}})
    return rows


def save_document(ctx: EvalContext, status: str, error: str | None = None) -> None:
    from qconsole.evaluation.bleed import bleed_by_suite, format_bleed, unrelated_records
    from qconsole.evaluation.rows import leak_lines, result_fields

    forgetting = ctx.forgetting = forgetting_summary(ctx)
    save_items(ctx.run, ctx.items)
    if ctx.judge_items:
        save_judge_items(ctx.run, ctx.judge_items)
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
            **result_fields(c),
        }
        if name == IN_DOMAIN_SIMILARITY:
            results[name]["note"] = SIMILARITY_LABEL
    partial = status != "complete"
    shape = ctx.run.manifest.get("format_shape") or ()
    bleed = format_bleed(unrelated_records(ctx.items), shape)
    doc = {
        "run_id": ctx.run.run_id,
        "status": status,
        "partial": partial,
        "model": ctx.run.manifest.get("model"),
        "adapter": ctx.run.manifest.get("adapter"),
        "results": results,
        "comparisons": [c.to_dict() for c in ctx.comparisons.values()],
        "forgetting": forgetting,
        "leakage": {"corrections_indexed": len(ctx.leakage), "flagged": ctx.leaks,
                    "lines": leak_lines(ctx.items)},
        "format_bleed": bleed.to_dict() if bleed is not None else None,
        "format_bleed_by_suite": {k: b.to_dict()
                                  for k, b in bleed_by_suite(ctx.items, shape).items()},
        "warnings": ctx.warnings,
        "completed_suites": ctx.completed,
        "error": error,
        "base_cache": ctx.cache.stats() if ctx.cache is not None else None,
        "side_seconds": {k: round(v, 1) for k, v in ctx.side_seconds.items()},
        "skipped": ctx.skipped,
        "data_sources": ctx.sources,
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


def finish_document(ctx: EvalContext, status: str, error: str | None = None) -> None:
    try:
        save_document(ctx, status, error)
    except Exception as exc:  # never hide the original problem behind a save error
        ctx.emit("log", level="warning", message=f"could not store the run: {exc}")
