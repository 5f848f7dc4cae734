"""The before/after table of an evaluation, as the console shows it: suite, base, adapter,
difference with its 95% interval, McNemar p, flips, the strict reading beside the flexible
headline, the format gap (format learning), and the constant-answer baseline of closed answer
sets. Regressions red, gains green, differences that are not significant say so, a gain that
does not beat always giving the majority answer is yellow. Rows are PairedComparison dicts
(evaluation/stats.py, built by evaluation/rows.py)."""

from __future__ import annotations

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

from qconsole.text_safety import visible_text

STYLE = {"regressed": "bold red", "improved": "bold green", "not significant": "dim",
         "not above baseline": "bold yellow"}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _strict(r: dict) -> str:
    s = r.get("strict")
    if not isinstance(s, dict):
        return "—"
    base, adapter = s.get("acc,base", s.get("base_acc")), s.get("acc,adapter", s.get("adapter_acc"))
    return f"{_pct(base)}→{_pct(adapter)}"


def comparison_table(rows: list[dict], *, title: str | None = None) -> Table:
    table = Table(title=title, expand=True, show_edge=False, pad_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("suite", "left"), ("n", "right"), ("base %", "right"), ("adapter %", "right"),
        ("diff pp", "right"), ("95% CI", "right"), ("p", "right"), ("fixed/regr.", "right"),
        ("strict %", "right"), ("format pp", "right"), ("const. %", "right"), ("", "left"))
    for col, justify in columns:
        table.add_column(col, justify=justify, no_wrap=col != "suite")
    for r in rows:
        label = str(r.get("label", ""))
        style = STYLE.get(label, "")
        lo, hi = (r.get("diff_ci") or [None, None])[:2]
        flips = r.get("flips") or {}
        p = r.get("p_value")
        diff = r.get("diff")
        gap = r.get("format_gap")
        table.add_row(
            Text(visible_text(str(r.get("suite", "")))),
            str(r.get("n", "")),
            _pct(r.get("base_acc")),
            _pct(r.get("adapter_acc")),
            Text(f"{100 * diff:+.1f}" if diff is not None else "—", style=style),
            f"[{_pct(lo)}, {_pct(hi)}]" if lo is not None else "—",
            "—" if p is None else (f"{p:.3f}" if p >= 0.001 else "<0.001"),
            f"{flips.get('fixed', 0)}/{flips.get('regressed', 0)}",
            _strict(r),
            "—" if gap is None else f"{100 * gap:+.1f}",
            _pct(r.get("baseline")),
            Text(label, style=style),
        )
    return table
