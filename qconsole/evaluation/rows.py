"""One results-table row per suite, as every view shows it: both readings, the constant-answer
baseline, and the leaked items left out.

Why one place: the table ``qconsole eval`` prints, the stored ``results.json``, the report, the
console's review and ``--json`` must say the same thing. Each row is a
:class:`~qconsole.evaluation.stats.PairedComparison` under the headline reading (flexible,
qconsole.evaluation.readings) whose ``strict`` holds the same items under the strict reading,
whose ``baseline`` is the constant-answer baseline (qconsole.evaluation.baselines; the verdict
"improved" must beat it) and whose ``details`` say how many leaked items were left out.

Items flagged as repeating a training correction (``meta["leak"]``, qconsole.evaluation.leakage)
prove nothing about generalisation: they are left out of the row and summed up on their own
line (:func:`leak_lines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from qconsole.evaluation.baselines import constant_baseline
from qconsole.evaluation.readings import by_reading, has_readings
from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.stats import PairedComparison, compare


def is_leak(record: ItemResult) -> bool:
    return bool(record.meta.get("leak"))


def compare_suite(records: Iterable[ItemResult], suite: str | None = None
                  ) -> PairedComparison | None:
    """The row of one suite; None when every item leaked (see :func:`leak_lines`)."""
    records = list(records)
    kept = [r for r in records if not is_leak(r)]
    if not kept:
        return None
    baseline = constant_baseline(kept)
    share = baseline.share if baseline is not None else None
    flexible = compare(by_reading(kept, "flexible"), suite, baseline=share)
    strict = None
    if any(has_readings(r) for r in kept):
        strict = compare(by_reading(kept, "strict"), suite, baseline=share)
    details: dict[str, Any] = {"leaked_out": len(records) - len(kept)}
    if baseline is not None:
        details["baseline"] = baseline.to_dict()
    return replace(flexible, strict=strict, details=details)


def suite_rows(items: Iterable[ItemResult]) -> list[PairedComparison]:
    """One row per suite, in first-seen order (suites whose every item leaked are skipped)."""
    groups: dict[str, list[ItemResult]] = {}
    for r in items:
        groups.setdefault(r.suite, []).append(r)
    rows = [compare_suite(rs, suite=name) for name, rs in groups.items()]
    return [r for r in rows if r is not None]


def result_fields(c: PairedComparison) -> dict[str, Any]:
    """The keys a row adds to ``results.json`` / ``--json``: ``strict`` and ``flexible`` (the
    headline), ``format_gap`` (strict diff minus flexible diff: format learning), the
    ``baseline`` and how many leaked items were left out."""
    return {
        "strict": c.strict.headline() if c.strict is not None else None,
        "flexible": c.headline(),
        "headline": "flexible",
        "format_gap": c.format_gap,
        "format_gap_label": "format learning (strict diff minus flexible diff)",
        "baseline": c.details.get("baseline"),
        "leaked_out": c.details.get("leaked_out", 0),
    }


def leak_lines(items: Sequence[ItemResult]) -> list[str]:
    """One line per suite with leaked items: how many, how each side did on them, which."""
    by_suite: dict[str, list[ItemResult]] = {}
    for r in items:
        if is_leak(r):
            by_suite.setdefault(r.suite, []).append(r)
    lines = []
    for suite, rs in by_suite.items():
        base = sum(r.base_correct for r in rs)
        adapter = sum(r.adapter_correct for r in rs)
        ids = ", ".join(r.item_id for r in rs[:12]) + (" ..." if len(rs) > 12 else "")
        lines.append(f"leakage: {len(rs)} item(s) of {suite} repeat training corrections and are "
                     f"left out of its row (on them: base {base}/{len(rs)}, adapter "
                     f"{adapter}/{len(rs)}): {ids}")
    return lines
