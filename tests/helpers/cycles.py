"""Real ledger files and real stored evaluation runs for the cycle tests, from counts a person
can check by hand (no model involved: the numbers under test are the bookkeeping's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qconsole.cycles.ledger import STEP_NAMES, Ledger, ledger_path
from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.store import RunStore, save_items, update_manifest


def held_out_items(topic: str, n: int, base_right: int, adapter_right: int,
                   adapter_unread: int = 0) -> list[ItemResult]:
    """``n`` held-out items of ``topic``: the first ``base_right`` right for the base, the
    first ``adapter_right`` right for the adapter; of the adapter's wrong ones, the last
    ``adapter_unread`` have no readable answer (a 'format' failure)."""
    out = []
    for i in range(n):
        b, a = i < base_right, i < adapter_right
        unread = not a and i >= n - adapter_unread
        out.append(ItemResult(
            item_id=f"heldout-{topic}:{i:04d}", suite=f"heldout-{topic}", base_correct=b,
            adapter_correct=a, topic=topic, distance="in-domain",
            meta={"kind": "gym",
                  "base": {"strict": False, "flexible": b, "answer": "1"},
                  "adapter": {"strict": a, "flexible": a, "answer": None if unread else "2"}}))
    return out


def stored_run(evals: Path, run_id: str, adapter: str, items: list[ItemResult]) -> Any:
    store = RunStore(evals)
    run = store.create({"run_id": run_id, "model": {"name": "test-model"},
                        "adapter": {"name": adapter, "created": run_id},
                        "suites": [], "settings": {"max_tokens": 64}})
    save_items(run, items)
    update_manifest(run, status="complete")
    return run


def ledger_with_cycles(workspace: Path, evals: Path, cycles: list[dict[str, Any]],
                       plan_name: str = "hand", topics: dict[str, str] | None = None
                       ) -> Ledger:
    """A ledger whose cycles are finished, each naming its stored run. ``cycles``: dicts with
    ``topics`` (trained), ``items`` (ItemResults) and optionally ``corrections`` (int)."""
    ledger = Ledger.open(ledger_path(workspace, plan_name), plan_name=plan_name,
                         plan_hash="f" * 64, plan_path="plan.yaml",
                         topics=topics or {})
    for k, spec in enumerate(cycles, start=1):
        ledger.cycle(k, topics=spec["topics"])
        adapter = f"{plan_name}-c{k}"
        run_id = f"cycle-{plan_name}-c{k}"
        stored_run(evals, run_id, adapter, spec["items"])
        results = {
            "probe": {"items": 0},
            "check": {"selected": []},
            "corrections": {"corrections": [
                {"id": f"s{k}-{i}/t1/left", "session": f"s{k}-{i}", "item": f"p{i}",
                 "topic": spec["topics"][0], "source": "reference"}
                for i in range(spec.get("corrections", 0))],
                "sources": {"reference": spec.get("corrections", 0)}},
            "train": {"adapters": [{"seed": 0, "name": adapter, "seconds": 60.0}]},
            "evaluate": {"runs": [{"seed": 0, "adapter": adapter, "run_id": run_id}]},
            "record": {},
        }
        for name in STEP_NAMES:
            ledger.start_step(k, name)
            ledger.finish_step(k, name, results[name])
    return ledger
