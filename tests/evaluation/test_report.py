"""``qconsole report`` and the results table, from stored runs written by hand (no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.store import RunStore, save_items, update_manifest


def _items(suite: str, pairs: list[tuple[bool, bool]], topic: str, distance: str | None = None,
           panel: bool = False) -> list[ItemResult]:
    return [ItemResult(f"{suite}:{i}", suite, b, a, topic=topic, distance=distance,
                       prompt=f"question {i}", base_reply=f"b{i}", adapter_reply=f"a{i}",
                       meta={"panel": True} if panel else {})
            for i, (b, a) in enumerate(pairs)]


def _run(store: RunStore, adapter: str | None, created: str, items, status: str = "complete"):
    run = store.create({
        "model": {"name": "gemma"},
        "adapter": {"name": adapter, "created": created} if adapter else None,
        "settings": {"forgetting_threshold": 2.0, "limit": 10},
    })
    save_items(run, items)
    update_manifest(run, status=status, created=created, completed_suites=["in-domain"],
                    warnings=["leakage: 1 item(s) of transfer overlap training corrections"])
    return run


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    s = RunStore(tmp_path / "evals")
    fixed = [(False, True)] * 8 + [(True, True)] * 2
    _run(s, "sums-1", "2025-01-01T00:00:00+00:00",
         _items("in-domain", fixed, "sums", "in-domain")
         + _items("hellaswag", [(True, False), (True, True), (False, False), (True, True)],
                  "hellaswag", panel=True))
    _run(s, "logic-2", "2025-01-02T00:00:00+00:00",
         _items("in-domain", fixed, "logic", "in-domain")
         + _items("sums", [(False, True)] * 4, "sums", "near"))
    _run(s, "half", "2025-01-03T00:00:00+00:00", _items("in-domain", fixed[:3], "x"),
         status="cancelled")
    return s


def test_table_recomputed_from_items(store):
    from qconsole.evaluation.report import format_table, summarize

    first = store.runs()[0]
    summary = summarize(first)
    row = summary.rows[0]
    # 8 fixed, 0 regressed: McNemar p = 2 / 2^8
    assert (row.suite, row.n, row.flips.fixed, row.flips.regressed) == ("in-domain", 10, 8, 0)
    assert row.p_value == pytest.approx(2 / 256) and row.label == "improved"
    text = format_table(summary)
    assert "in-domain" in text and "+80.0" in text and "0.008" in text
    assert "forgetting panel" in text and "leakage" in text
    partial = summarize(store.runs()[-1])
    assert "PARTIAL" in format_table(partial)


def test_markdown_report_with_charts_and_cycles(store, tmp_path):
    pytest.importorskip("matplotlib")
    from qconsole.evaluation.report import build_report

    final = [r for r in store.runs() if r.is_final]
    out = build_report(final, tmp_path / "out" / "report.md", cycles_from=store.runs())
    text = out.read_text()
    assert "| in-domain | 10 |" in text
    assert "## Cycles" in text and "cycle 1: adapter sums-1" in text
    assert "BWT" in text and "FWT" in text and "half" not in text
    pngs = sorted(p.name for p in (tmp_path / "out" / "report_files").glob("*.png"))
    assert "cycles.png" in pngs and len(pngs) == 3
    for name in pngs:
        assert f"report_files/{name}" in text
        assert (tmp_path / "out" / "report_files" / name).read_bytes()[:4] == b"\x89PNG"


def test_html_report_is_self_contained_and_marks_partial(store, tmp_path):
    pytest.importorskip("matplotlib")
    from qconsole.cli import main

    out = tmp_path / "r.html"
    assert main(["report", "--evals", str(store.root), "--include-partial", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.count("data:image/png;base64,") == 4
    assert "PARTIAL (cancelled)" in text
    assert "src=\"report_files" not in text


def test_report_cli_lists_and_refuses_empty(tmp_path, capsys):
    from qconsole.cli import main

    assert main(["report", "--evals", str(tmp_path / "none"), "--list"]) == 0
    assert "no evaluation runs" in capsys.readouterr().out
    assert main(["report", "--evals", str(tmp_path / "none")]) == 2
    assert "qconsole eval" in capsys.readouterr().err
