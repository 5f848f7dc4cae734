"""Results tables and the ``qconsole report`` document, recomputed from stored per-item records.

Why recompute: the stored per-item records are the source of truth (qconsole.evaluation.store);
the table printed by ``qconsole eval``, the console's review and this report all run the same
statistics (qconsole.evaluation.stats) on them, so they can never disagree.

The report is Markdown (PNG charts written beside it in ``<name>_files/``) or a single HTML file
with the charts inlined, so it can be mailed or archived as is. Charts need matplotlib; without
it the report says so and keeps every table. A run that is not complete is never shown as
final: its heading says partial and why.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.readings import FORMAT_GAP_LABEL
from qconsole.evaluation.stats import PairedComparison
from qconsole.evaluation.store import StoredRun, stored_cycles
from qconsole.evaluation.suites import IN_DOMAIN_SIMILARITY, SIMILARITY_LABEL
from qconsole.text_safety import safe_text

FORGETTING_ROW = "forgetting panel"


# -- numbers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """One run's rows, recomputed from its items."""

    run: StoredRun
    rows: list[PairedComparison]
    forgetting: Any | None  # cycles.ForgettingCheck
    leaks: list[str] = field(default_factory=list)  # one line per suite with leaked items
    bleed: Any | None = None  # bleed.FormatBleed
    bleed_by_suite: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return not self.run.is_final


def summarize(run: StoredRun) -> RunSummary:
    """Rows under both readings (headline flexible), leaks left out and listed, the
    forgetting panel and the format-bleed line, all from the stored per-item records."""
    from qconsole.evaluation.bleed import bleed_by_suite, format_bleed, unrelated_records
    from qconsole.evaluation.cycles import forgetting_check
    from qconsole.evaluation.rows import is_leak, leak_lines, suite_rows

    items = run.items()
    rows = suite_rows(items)
    panel = [r for r in items if r.meta.get("panel") and not is_leak(r)]
    forgetting = None
    if panel:
        threshold = float((run.manifest.get("settings") or {}).get("forgetting_threshold", 2.0))
        forgetting = forgetting_check(panel, threshold, suite=FORGETTING_ROW)
    shape = run.manifest.get("format_shape") or ()
    bleed = format_bleed(unrelated_records(items), shape)
    return RunSummary(run, rows, forgetting, leak_lines(items), bleed, bleed_by_suite(items, shape))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _ci(ci: Sequence[float], signed: bool = False) -> str:
    lo, hi = ci
    if signed:
        return f"[{100 * lo:+.1f}, {100 * hi:+.1f}]"
    return f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def _p(p: float) -> str:
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def row_cells(c: PairedComparison) -> list[str]:
    f = c.flips
    s = c.strict
    return [
        c.suite,
        str(c.n),
        f"{_pct(c.base_acc)} {_ci(c.base_ci)}",
        f"{_pct(c.adapter_acc)} {_ci(c.adapter_ci)}",
        f"{100 * c.diff:+.1f} {_ci(c.diff_ci, signed=True)}",
        _p(c.p_value),
        f"+{f.fixed} / -{f.regressed}",
        "-" if s is None else f"{_pct(s.base_acc)} -> {_pct(s.adapter_acc)} ({100 * s.diff:+.1f})",
        "-" if c.format_gap is None else f"{100 * c.format_gap:+.1f}",
        "-" if c.baseline is None else _pct(c.baseline),
        c.label,
    ]


HEADERS = ["suite", "n", "base % [95% CI]", "adapter % [95% CI]", "diff pp [95% CI]",
           "McNemar p", "flips fixed/regr.", "strict base->adapter (diff)", "format gap pp",
           "const. baseline %", "verdict"]


def table_rows(summary: RunSummary) -> list[list[str]]:
    rows = [row_cells(c) for c in summary.rows]
    if summary.forgetting is not None:
        fc = summary.forgetting
        cells = row_cells(fc.comparison)
        cells[-1] = f"{fc.status} (threshold {fc.threshold_points:g} pp)"
        rows.append(cells)
    return rows


def format_table(summary: RunSummary) -> str:
    """The results table as aligned plain text (what ``qconsole eval`` prints)."""
    rows = [HEADERS, *([safe_text(c, inline=True) for c in r] for r in table_rows(summary))]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [safe_text(n) for n in _notes(summary)]
    return "\n".join(lines + ([""] + notes if notes else []))


def _notes(summary: RunSummary) -> list[str]:
    run = summary.run
    notes = []
    if summary.partial:
        notes.append(f"PARTIAL: this run is {run.status}; only finished suites are shown "
                     f"({', '.join(run.manifest.get('completed_suites') or []) or 'none'}).")
        if run.manifest.get("error"):
            notes.append(f"error: {run.manifest['error']}")
    if not run.adapter_name:
        notes.append("No adapter: the base was run twice (a determinism check: every "
                     "difference must be 0).")
    if any(c.suite == IN_DOMAIN_SIMILARITY for c in summary.rows):
        notes.append(f"{IN_DOMAIN_SIMILARITY}: {SIMILARITY_LABEL}.")
    from qconsole.evaluation.judge_scoring import load_judgement

    judged = load_judgement(run.path)  # `qconsole eval --judge`: the teacher's verdicts
    if judged is not None:
        notes.extend(judged.lines())
    if any(c.clustered for c in summary.rows):
        notes.append("Intervals of suites with items sharing a dialogue are clustered.")
    if any(c.strict is not None for c in summary.rows):
        notes.append("Scores are the flexible reading (the answer read where a base model puts "
                     "it); 'strict' needs the cue \"The answer is X.\" or the probe's own "
                     f"format; format gap = {FORMAT_GAP_LABEL}.")
    for c in summary.rows:
        b = c.details.get("baseline")
        if b:
            from qconsole.evaluation.baselines import Baseline

            notes.append(f"{c.suite}: constant-answer baseline: {Baseline.from_dict(b).describe()}"
                         "; 'improved' needs the adapter above it.")
    notes.extend(summary.leaks)
    if summary.bleed is not None:
        notes.append(summary.bleed.describe() + " (the panel's generated part)")
    if summary.bleed_by_suite:
        notes.append("format bleed by suite (the trained shape where the prompt did not ask for "
                     "it; on the trained family itself it is what was taught): " + ", ".join(
                         f"{k} {b.short()}" for k, b in summary.bleed_by_suite.items()))
    notes.extend(f"warning: {w}" for w in run.manifest.get("warnings") or [])
    return notes


# -- charts ---------------------------------------------------------------------------------------


def _pyplot() -> Any | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def suite_chart(summary: RunSummary) -> bytes | None:
    """Base vs adapter accuracy per suite, with 95% intervals."""
    plt = _pyplot()
    if plt is None or not summary.rows:
        return None
    rows = summary.rows
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(rows) + 1.5), 3.2))
    xs = range(len(rows))
    for offset, side, color in ((-0.18, "base", "#8c8c8c"), (0.18, "adapter", "#3b7dd8")):
        acc = [getattr(c, f"{side}_acc") for c in rows]
        cis = [getattr(c, f"{side}_ci") for c in rows]
        err = [[a - lo for a, (lo, _) in zip(acc, cis, strict=True)],
               [hi - a for a, (_, hi) in zip(acc, cis, strict=True)]]
        ax.bar([x + offset for x in xs], acc, width=0.36, yerr=err, capsize=3, color=color,
               label=side if summary.run.adapter_name or side == "base" else "base (again)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([c.suite for c in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)
    ax.set_title(summary.run.label(), fontsize=9)
    data = _png(fig)
    plt.close(fig)
    return data


def cycles_chart(matrix: Any) -> bytes | None:
    """Adapter accuracy per topic over cycles (dashed: the base on the same items)."""
    plt = _pyplot()
    if plt is None or not matrix.cycles:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for j, topic in enumerate(matrix.topics):
        pts = [(c, row[j]) for c, row in zip(matrix.cycles, matrix.adapter, strict=True)
               if row[j] is not None]
        if not pts:
            continue
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=topic)
        base = [(c, row[j]) for c, row in zip(matrix.cycles, matrix.base, strict=True)
                if row[j] is not None]
        ax.plot([p[0] for p in base], [p[1] for p in base], linestyle="--", alpha=0.5,
                color=line.get_color())
    ax.set_xlabel("cycle")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_xticks(list(matrix.cycles))
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("accuracy over cycles (dashed: base)", fontsize=9)
    data = _png(fig)
    plt.close(fig)
    return data


# -- the document ---------------------------------------------------------------------------------


@dataclass
class _Doc:
    """Markdown or HTML, written the same way."""

    fmt: str
    images: dict[str, bytes]
    parts: list[str]

    def h(self, level: int, text: str) -> None:
        text = safe_text(text, inline=True)
        if self.fmt == "md":
            self.parts.append(f"{'#' * level} {text}\n")
        else:
            self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def p(self, text: str) -> None:
        text = safe_text(text)
        self.parts.append(f"{text}\n" if self.fmt == "md" else f"<p>{html.escape(text)}</p>")

    def bullets(self, lines: Iterable[str]) -> None:
        lines = [safe_text(line, inline=True) for line in lines]
        if not lines:
            return
        if self.fmt == "md":
            self.parts.append("".join(f"- {line}\n" for line in lines))
        else:
            self.parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines)
                              + "</ul>")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        headers = [safe_text(h, inline=True) for h in headers]
        rows = [[safe_text(c, inline=True) for c in r] for r in rows]
        if self.fmt == "md":
            def esc(x: str) -> str:
                return str(x).replace("|", "\\|").replace("\n", " ")
            out = ["| " + " | ".join(map(esc, headers)) + " |",
                   "|" + "|".join("---" for _ in headers) + "|"]
            out += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
            self.parts.append("\n".join(out) + "\n")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r)
                           + "</tr>" for r in rows)
            self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
                              "</table>")

    def image(self, name: str, data: bytes | None, alt: str) -> None:
        if data is None:
            return
        if self.fmt == "md":
            self.images[name] = data
            self.parts.append(f"![{safe_text(alt, inline=True)}]({{files}}/{name})\n")
        else:
            b64 = base64.b64encode(data).decode("ascii")
            alt = html.escape(safe_text(alt, inline=True))
            self.parts.append(f'<img alt="{alt}" src="data:image/png;base64,{b64}">')


def _flip_examples(run: StoredRun, limit: int = 3) -> list[str]:
    out = []
    for want, label in (((False, True), "fixed"), ((True, False), "regressed")):
        picked = [r for r in run.items() if (r.base_correct, r.adapter_correct) == want][:limit]
        for r in picked:
            text = (r.meta.get("user_text") or r.prompt or "").strip().replace("\n", " ")
            out.append(f"{label}: {r.suite} {r.item_id}: {text[:120]!r} -> base "
                       f"{(r.base_reply or '')[:60]!r}, adapter {(r.adapter_reply or '')[:60]!r}")
    return out


def _cycles_section(doc: _Doc, runs: list[StoredRun],
                    given: tuple[list[Any], list[Any]] | None = None) -> None:
    from qconsole.evaluation.cycles import accuracy_matrix, gem_metrics

    cycles, infos = given if given is not None else stored_cycles(runs)
    doc.h(2, "Cycles")
    if given is not None:
        doc.p("From the cycle ledger: each cycle's own evaluation run, the same held-out "
              "suites in every cycle.")
    if not cycles:
        doc.p("No complete run with an adapter yet: each training plus its evaluation makes a "
              "cycle.")
        return
    matrix = accuracy_matrix(cycles)
    gem = gem_metrics(matrix)
    doc.bullets(f"cycle {i.cycle}: adapter {i.adapter} (made {i.adapter_created or '?'}), "
                f"run {i.run_id}" for i in infos)
    headers = ["cycle", *[f"{t}{' *' if t in matrix.trained_at else ''}" for t in matrix.topics]]
    rows = []
    for k, c in enumerate(matrix.cycles):
        cells = [str(c)]
        for j in range(len(matrix.topics)):
            a, b = matrix.adapter[k][j], matrix.base[k][j]
            cells.append("-" if a is None else f"{_pct(a)} (base {_pct(b or 0.0)}, "
                                               f"n={matrix.counts[k][j]})")
        rows.append(cells)
    doc.table(headers, rows)
    doc.p("* trained topic. Cells: adapter accuracy % after that cycle (flexible reading), the "
          "base on the same items, and n; leaked items left out.")

    def fmt(x: float | None, topics: Sequence[str]) -> str:
        return "n/a (no topic qualifies)" if x is None else (
            f"{100 * x:+.1f} pp over {', '.join(topics)}")
    strict = gem_metrics(accuracy_matrix(cycles, reading="strict"))

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    def pp(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:+.1f} pp"
    doc.bullets([
        f"ACC (mean final accuracy): {pct(gem.acc)} (strict reading {pct(strict.acc)})",
        f"BWT (backward transfer): {fmt(gem.bwt, gem.bwt_topics)} (strict {pp(strict.bwt)})",
        f"FWT (forward transfer): {fmt(gem.fwt, gem.fwt_topics)} (strict {pp(strict.fwt)})",
    ])
    doc.image("cycles.png", cycles_chart(matrix), "accuracy over cycles")


def _ab_section(doc: _Doc, ab: Any) -> None:
    """Blind A/B votes and sighted preferences (``ab_report.ABSummary``), kept apart."""
    from qconsole.evaluation.ab_report import h2h_line, rating_line

    doc.h(2, "A/B judgements")
    if ab.empty:
        doc.p("No A/B votes yet: ctrl+b in the console turns blind mode on; 1-4 vote.")
        return
    doc.h(3, f"Blind votes ({ab.n_blind})")
    doc.p("Names hidden until the vote, sides drawn per turn. Win rate over decisive votes "
          "(ties and both-bad counted apart), 95% Wilson interval, exact two-sided sign test.")
    doc.bullets([h2h_line(h) for h in ab.blind] or ["none"])
    if ab.ranking:
        doc.p("Bradley-Terry ranking (MM fit, half a virtual win each way per pair; Elo scale "
              "with the base at 0; seeded bootstrap 95% intervals):")
        doc.bullets([rating_line(r) for r in ab.ranking])
    if ab.n_after_reveal:
        doc.p(f"{ab.n_after_reveal} vote(s) cast again after the names were shown: left out.")
    doc.h(3, f"Sighted preferences ({ab.n_sighted})")
    doc.p("Cast knowing which pane was the adapter; reported apart from the blind votes.")
    doc.bullets([h2h_line(h) for h in ab.sighted] or ["none"])


def build_report(
    runs: Sequence[StoredRun],
    output: str | Path,
    *,
    fmt: str | None = None,
    cycles_from: Sequence[StoredRun] | None = None,
    ab: Any | None = None,
    cycles: tuple[list[Any], list[Any]] | None = None,
) -> Path:
    """Write the report of ``runs`` (and the cycles of ``cycles_from``, default: ``runs``;
    the A/B judgements of ``ab``, an ``ab_report.ABSummary``, when given).
    ``cycles`` (CycleResults, CycleInfo lists, e.g. from a cycle ledger) replaces the cycles
    guessed from each adapter's latest run."""
    output = Path(output).expanduser()
    fmt = fmt or ("html" if output.suffix.lower() in (".html", ".htm") else "md")
    if fmt not in ("md", "html"):
        raise QConsoleError(f"report format must be md or html, not {fmt!r}")
    doc = _Doc(fmt, {}, [])
    doc.h(1, "qconsole evaluation report")
    doc.p(f"Generated {datetime.now(UTC).isoformat(timespec='seconds')}; {len(runs)} run(s). "
          "Accuracy with 95% Wilson intervals; the difference is adapter minus base on the same "
          "items, with a paired 95% interval; McNemar's exact test on the flips.")
    if _pyplot() is None:
        doc.p("Charts are missing: matplotlib is not installed (pip install matplotlib).")
    for run in runs:
        summary = summarize(run)
        model = (run.manifest.get("model") or {}).get("name", "?")
        status = "" if run.is_final else f" — PARTIAL ({run.status})"
        doc.h(2, f"Run {run.run_id}{status}")
        settings = run.manifest.get("settings") or {}
        doc.bullets([
            f"model: {model}",
            f"adapter: {run.adapter_name or 'none (base vs base)'}",
            f"created: {run.created}; finished: {run.manifest.get('finished') or '-'}",
            f"limit: {settings.get('limit')}; data: {settings.get('data_dir') or 'hub'}; "
            f"decoding: {settings.get('decoding', 'greedy')}; template: "
            f"{settings.get('template')}",
        ])
        if summary.rows:
            doc.table(HEADERS, table_rows(summary))
        else:
            doc.p("No suite finished.")
        doc.bullets(_notes(summary))
        if summary.forgetting is not None:
            fc = summary.forgetting
            panel = ", ".join(dict.fromkeys(r.suite for r in run.items() if r.meta.get("panel")))
            flag = " — FLAGGED on this adapter" if fc.flagged else ""
            doc.p(f"Forgetting panel ({panel}): {fc.diff_points:+.1f} pp, {fc.status}{flag}")
        doc.image(f"{run.run_id}.png", suite_chart(summary), f"suites of {run.run_id}")
        examples = _flip_examples(run)
        if examples:
            doc.h(3, "Examples of flips")
            doc.bullets(examples)
    _cycles_section(doc, list(cycles_from if cycles_from is not None else runs), cycles)
    if ab is not None:
        _ab_section(doc, ab)
    return _write(doc, output)


def _write(doc: _Doc, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    if doc.fmt == "md":
        files = output.with_name(f"{output.stem}_files")
        if doc.images:
            files.mkdir(exist_ok=True)
            for name, data in doc.images.items():
                (files / name).write_bytes(data)
        text = "\n".join(doc.parts).replace("{files}", files.name)
    else:
        style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
                 "table{border-collapse:collapse;font-size:90%}"
                 "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}"
                 "img{max-width:100%}")
        text = ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                f"<title>qconsole evaluation report</title><style>{style}</style></head><body>"
                + "\n".join(doc.parts) + "</body></html>")
    output.write_text(text, encoding="utf-8")
    return output

