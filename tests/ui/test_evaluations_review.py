"""Review of a stored run shows both readings, the constant-answer baseline and its verdict,
leaked items on their own line and the format-bleed line (recomputed from per-item records)."""

from __future__ import annotations

from rich.console import Console

from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.store import RunStore, save_items, update_manifest
from qconsole.ui.screens.evaluations import run_detail


def _side(ok: bool, strict: bool, answer: str | None) -> dict:
    return {"strict": strict, "flexible": ok, "answer": answer}


def _items() -> list[ItemResult]:
    out = []
    for i in range(100):  # 77 "Yes"; the adapter says Yes 81 times and scores 68
        ref = "Yes" if i < 77 else "No"
        base = ("Yes" if i < 30 else None) if ref == "Yes" else ("No" if i < 84 else None)
        adapter = ("Yes" if i < 63 else "No") if ref == "Yes" else ("Yes" if i < 95 else "No")
        out.append(ItemResult(f"s{i}", "syllogism", base == ref, adapter == ref, reference=ref,
                              meta={"scorer": "gym", "base": _side(base == ref, False, base),
                                    "adapter": _side(adapter == ref, adapter == ref, adapter)}))
    out.append(ItemResult("c1", "chain_sum", False, True, reference="3",
                          meta={"leak": "s1/t1/left", "scorer": "gym"}))
    out.append(ItemResult("c2", "chain_sum", False, True, reference="30", meta={"scorer": "gym"}))
    out.append(ItemResult("g1", "general_qa", True, False, reference="yes",
                          base_reply="Yes, it is.", adapter_reply="2 = 2. The answer is 2.",
                          meta={"panel": True, "kind": "probes", "scorer": "boolean",
                                "base": _side(True, True, "yes"),
                                "adapter": _side(False, False, None)}))
    return out


def test_review_shows_readings_baseline_leaks_and_bleed(tmp_path):
    store = RunStore(tmp_path / "evals")
    run = store.create({"model": {"name": "m"}, "adapter": {"name": "chain50"}, "suites": [],
                        "settings": {}, "format_shape": ["equation", "arithmetic", "answer cue"]})
    save_items(run, _items())
    update_manifest(run, status="complete")
    console = Console(record=True, width=220)
    for part in run_detail(store.runs()[0]):
        console.print(part)
    text = console.export_text()
    syllogism = next(line for line in text.splitlines() if line.startswith("syllogism"))
    assert "37.0" in syllogism and "68.0" in syllogism  # flexible headline
    assert "0.0→68.0" in syllogism and "+37.0" in syllogism  # strict, format gap
    assert "77.0" in syllogism and "not above baseline" in syllogism
    chain = next(line for line in text.splitlines() if line.startswith("chain_sum"))
    assert chain.replace("│", " ").split()[1] == "1"  # the leaked item is left out of the row
    assert "leakage: 1 item(s) of chain_sum" in text and "c1" in text  # ... and listed
    assert "format bleed: 100% of the adapter's replies" in text
