"""The growth report of a plan's ledger, in Markdown, every figure computed from stored items.

Sections: what was run (and what was not), each cycle (corrections, adapter, time), the
held-out gain of each cycle's trained topics with its paired 95% interval and McNemar p, the
topic-by-cycle matrix with Wilson intervals, ACC / BWT / FWT (both readings), near and far
transfer, the forgetting panel (log-likelihood part, generated part, format bleed), error rate
per failure kind per cycle, the spread over training seeds, and the issue's targets each marked
met or missed with the measured figure. Nothing in it is typed by hand: rerunning the same
ledger writes the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qconsole.cycles.growth import Growth, spread
from qconsole.text_safety import safe_text

TARGET_GAIN = 0.30
TARGET_P_BASELINE = 0.05  # the adapter against the constant-answer baseline
TARGET_P = 0.001
TARGET_FORGETTING_POINTS = 1.0
TARGET_PANEL_ITEMS = 1500
TARGET_SEEDS = 3
TARGET_CYCLE_SECONDS = 12 * 60


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f} pp"


def _ci(ci: Sequence[float], signed: bool = True) -> str:
    f = "{:+.1f}" if signed else "{:.1f}"
    return f"[{f.format(100 * ci[0])}, {f.format(100 * ci[1])}]"


def _p(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def _minutes(s: float | None) -> str:
    if s is None:
        return "n/a"
    whole = round(s)  # round once, then split: 1079.6 s is 18 min 00 s, never 17 min 60 s
    return f"{whole // 60} min {whole % 60:02d} s"


class _Md:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def h(self, level: int, text: str) -> None:
        self.parts.append(f"{'#' * level} {safe_text(text, inline=True)}\n")

    def p(self, text: str) -> None:
        self.parts.append(safe_text(text) + "\n")

    def bullets(self, lines: Iterable[str]) -> None:
        lines = list(lines)
        if lines:
            self.parts.append("".join(f"- {safe_text(x, inline=True)}\n" for x in lines))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        def esc(x: str) -> str:
            return safe_text(str(x), inline=True).replace("|", "\\|")
        out = ["| " + " | ".join(map(esc, headers)) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
        self.parts.append("\n".join(out) + "\n")

    def code(self, text: str) -> None:
        self.parts.append("```\n" + text + "\n```\n")


_STEPS = ("probe", "check", "corrections", "train", "evaluate", "record")


def cycle_seconds(c: Any) -> float | None:
    """One full cycle: probe + check + corrections + train + evaluate + record, as measured."""
    vals = [c.wall_seconds.get(s) for s in _STEPS]
    return sum(v for v in vals if v is not None) if any(v is not None for v in vals) else None


def one_seed_seconds(c: Any) -> float | None:
    """The cycle as one training seed would run it: the shared steps, plus the first seed's own
    training and its evaluation (the one with the panel). None when the plan trains one seed
    (the whole cycle is that) or the ledger predates per-seed times."""
    first = getattr(c, "first_seed_seconds", None) or {}
    if len(getattr(c, "seed_runs", ())) < 2 or not {"train", "evaluate"} <= set(first):
        return None
    shared = [c.wall_seconds.get(s) for s in _STEPS if s not in ("train", "evaluate")]
    return sum(v for v in shared if v is not None) + first["train"] + first["evaluate"]


def base_pass(c: Any) -> float | None:
    """Seconds of the (first seed's) evaluation spent on base answers the cache lacked: the
    base's one-time pass over every suite, paid by a plan's first evaluation only."""
    return (getattr(c, "first_seed_seconds", None) or {}).get("base_pass")


def cached_cycle_seconds(c: Any) -> float | None:
    """The cycle as the 12-minute target reads it: one seed (or the whole cycle with one
    seed) with the base side cached, i.e. less the base's one-time pass where this cycle paid
    it. None where the ledger predates per-side times."""
    single = one_seed_seconds(c)
    s = cycle_seconds(c) if single is None else single
    first = base_pass(c)
    return None if s is None or first is None else s - first


def _what_ran(md: _Md, g: Growth, plan: Any | None) -> None:
    md.h(2, "What was run")
    c0 = g.cycles[0] if g.cycles else None
    lines = [f"plan {g.plan} (hash {g.plan_hash[:12]}), {len(g.cycles)} cycle(s) evaluated"]
    if c0 is not None:
        suites = [(s.get("name"), s.get("limit"), (s.get("gym") or {}).get("size"))
                  for s in c0.run.manifest.get("suites") or []]
        counts = c0.run.manifest.get("item_counts") or {}
        lines.append("suites of each cycle's evaluation (items): " + ", ".join(
            f"{n} ({counts[n]})" for n, _, _ in suites if n in counts))
        for c in g.cycles:
            lines.extend(f"cycle {c.cycle}: {w}" for w in c.run.manifest.get("warnings") or []
                         if w.startswith("skipped "))
        settings = c0.run.manifest.get("settings") or {}
        lines.append(f"model: {(c0.run.manifest.get('model') or {}).get('name')}; decoding "
                     f"greedy, max_tokens {settings.get('max_tokens')}")
        seeds = sorted({s for c in g.cycles for s, _ in c.seed_runs})
        lines.append(f"training seeds: {', '.join(map(str, seeds))}")
    if plan is not None:
        t = plan.model.training
        lines.append(f"training: preset {t.preset}, settings {dict(t.settings) or 'preset'}, "
                     "each cycle a fresh adapter from the base on all corrections so far")
        if t.replay:
            drawn = f"{t.replay_max} drawn per training" if t.replay_max else "all of it"
            lines.append(f"replay mixed into every training: {t.replay} ({drawn})")
    md.bullets(lines)


def _cycles(md: _Md, g: Growth) -> None:
    md.h(2, "Cycles")
    rows = []
    for c in g.cycles:
        rows.append([str(c.cycle), ", ".join(c.topics), f"{c.corrections} ("
                     + ", ".join(f"{k} {v}" for k, v in c.sources.items()) + ")",
                     c.adapter, _minutes(c.wall_seconds.get("probe")),
                     _minutes(c.train_seconds), _minutes(c.wall_seconds.get("evaluate")),
                     _minutes(cycle_seconds(c)), _minutes(one_seed_seconds(c)),
                     _minutes(base_pass(c)), _minutes(cached_cycle_seconds(c)), c.run.run_id])
    md.table(["cycle", "trained", "new corrections", "adapter", "probe", "training",
              "evaluation", "whole cycle", "one seed", "base's first pass",
              "one seed, base cached", "evaluation run"], rows)
    md.p("Training time is all seeds' training; the whole cycle is every step's wall time "
         "from the ledger (probe, check, corrections, train, evaluate, record); one seed is "
         "the cycle as a single training seed runs it (the shared steps, the first seed's "
         "training and its evaluation with the panel), n/a with one seed. The base's first "
         "pass is the part of that evaluation spent computing base answers the base cache did "
         "not hold yet: the base model never changes, so it is paid once per model (by the "
         "first cycle) and every later evaluation reads it from the cache. The last time "
         "column is the cycle without it, which the 12-minute target reads.")


def _gains(md: _Md, g: Growth) -> list[tuple[int, str, Any]]:
    md.h(2, "Held-out gain of each cycle's trained topic")
    rows, out = [], []
    for c in g.cycles:
        for t in c.topics:
            r = g.heldout_row(c, t)
            if r is None:
                continue
            out.append((c.cycle, t, r))
            s = r.strict
            rows.append([str(c.cycle), t, str(r.n), _pct(r.base_acc), _pct(r.adapter_acc),
                         _pp(r.diff), _ci(r.diff_ci), _p(r.p_value),
                         f"+{r.flips.fixed} / -{r.flips.regressed}", r.label,
                         "-" if s is None else f"{_pct(s.base_acc)} -> {_pct(s.adapter_acc)}",
                         _pct(r.baseline) if r.baseline is not None else "-"])
    md.table(["cycle", "topic", "n", "base", "adapter", "gain", "95% CI", "McNemar p",
              "fixed / regressed", "verdict", "strict reading", "constant baseline"], rows)
    md.p("Flexible reading (the answer read where a base model puts it) is the headline; the "
         "strict column needs the cue \"The answer is X.\". Items repeating a training "
         "correction are left out.")
    return out


def _matrix(md: _Md, g: Growth) -> Any:
    from qconsole.evaluation.stats import wilson_interval

    m = g.matrix()
    md.h(2, "Topic-by-cycle matrix (held-out, flexible)")
    rows = []
    base_row = ["base"]
    for j in range(len(m.topics)):
        b = next((m.base[k][j] for k in range(len(m.cycles)) if m.base[k][j] is not None), None)
        n = next((m.counts[k][j] for k in range(len(m.cycles)) if m.counts[k][j]), 0)
        base_row.append("-" if b is None else
                        f"{_pct(b)} {_ci(wilson_interval(round(b * n), n), False)}")
    for k, c in enumerate(m.cycles):
        cells = [f"after cycle {c}"]
        for j, t in enumerate(m.topics):
            a, n = m.adapter[k][j], m.counts[k][j]
            star = " *" if m.trained_at.get(t) == c else ""
            cells.append("-" if a is None else
                         f"{_pct(a)} {_ci(wilson_interval(round(a * n), n), False)}{star}")
        rows.append(cells)
    md.table(["", *m.topics], [base_row, *rows])
    md.p("Cells: accuracy with its 95% Wilson interval; * the cycle that trained the topic. "
         "The base row is the base on the same items (cached, identical every cycle).")
    return m


def _gem(md: _Md, g: Growth) -> Any:
    gem, strict = g.gem(), g.gem("strict")
    md.h(2, "ACC, BWT, FWT (GEM)")

    def used(topics: Sequence[str]) -> str:
        return f" over {', '.join(topics)}" if topics else " (no topic qualifies)"
    md.bullets([
        f"ACC (mean final accuracy){used(gem.acc_topics)}: {_pct(gem.acc)} "
        f"(strict {_pct(strict.acc)})",
        f"BWT (final minus just-trained, topics trained before the last cycle)"
        f"{used(gem.bwt_topics)}: {_pp(gem.bwt)} (strict {_pp(strict.bwt)})",
        f"FWT (the previous cycle's adapter minus the base, before the topic is trained)"
        f"{used(gem.fwt_topics)}: {_pp(gem.fwt)} (strict {_pp(strict.fwt)})",
    ])
    m = g.matrix()
    last = m.cycles[-1] if m.cycles else None
    per = []
    for t in gem.bwt_topics:
        ti = m.trained_at[t]
        per.append(f"BWT {t}: {_pct(m.r(ti, t))} after cycle {ti} -> {_pct(m.r(last, t))} after "
                   f"cycle {last} ({_pp((m.r(last, t) or 0) - (m.r(ti, t) or 0))})")
    for t in gem.fwt_topics:
        ti = m.trained_at[t]
        per.append(f"FWT {t}: cycle {ti - 1} adapter {_pct(m.r(ti - 1, t))} vs base "
                   f"{_pct(m.b(ti - 1, t))}")
    md.bullets(per)
    return gem


def _transfer(md: _Md, g: Growth) -> None:
    md.h(2, "Near and far transfer")
    rows = []
    for c in g.cycles:
        for r in g.transfer_rows(c):
            rows.append([str(c.cycle), r.suite, str(r.n), _pct(r.base_acc), _pct(r.adapter_acc),
                         _pp(r.diff), _ci(r.diff_ci), _p(r.p_value), r.label,
                         _pct(r.baseline) if r.baseline is not None else "-"])
    if not rows:
        md.p("No near or far suite in the plan.")
        return
    md.table(["cycle", "suite", "n", "base", "adapter", "diff", "95% CI", "p", "verdict",
              "constant baseline"], rows)
    md.p("near: the trained skill on other numbers or wording; far: a different skill. Neither "
         "is ever trained on.")


def _forgetting(md: _Md, g: Growth) -> list[tuple[int, Any, int]]:
    from qconsole.evaluation.cycles import forgetting_check
    from qconsole.evaluation.rows import is_leak

    md.h(2, "Forgetting panel")
    rows, out, notes = [], [], []
    for c in g.cycles:
        items = [r for r in c.run.items() if r.meta.get("panel") and not is_leak(r)]
        if not items:
            continue
        ll = [r for r in items if r.meta.get("kind") == "benchmark"]
        gen = [r for r in items if r.meta.get("kind") != "benchmark"]
        tasks = list(dict.fromkeys(r.suite for r in ll))
        # the pooled row is the target's; one row per benchmark shows where a change comes from
        by_task = [("one benchmark", [r for r in ll if r.suite == t]) for t in tasks
                   ] if len(tasks) > 1 else []
        for what, part in (("log-likelihood", ll), *by_task, ("generated", gen)):
            if not part:
                continue
            fc = forgetting_check(part, TARGET_FORGETTING_POINTS, suite=what)
            suites = ", ".join(dict.fromkeys(r.suite for r in part))
            rows.append([str(c.cycle), what, suites, str(fc.comparison.n),
                         _pct(fc.comparison.base_acc), _pct(fc.comparison.adapter_acc),
                         f"{fc.diff_points:+.1f}", _ci(fc.comparison.diff_ci),
                         _p(fc.comparison.p_value), fc.status])
            if what == "log-likelihood":
                out.append((c.cycle, fc, len(part)))
        summary = g.summary(c)
        if summary.bleed is not None:
            notes.append(f"cycle {c.cycle}: {summary.bleed.describe()}")
    if not rows:
        md.p("No forgetting panel was run.")
        return out
    md.table(["cycle", "part", "suites", "n", "base", "adapter", "diff (points)", "95% CI",
              "p", f"status (threshold {TARGET_FORGETTING_POINTS:g} point)"], rows)
    md.bullets(notes)
    return out


def _failure_kinds(md: _Md, g: Growth) -> None:
    md.h(2, "Error rate per failure kind")
    kinds: list[str] = []
    for c in g.cycles:
        for k in g.failure_rates(c):
            if k not in kinds:
                kinds.append(k)
    rows = []
    for c in g.cycles:
        rates = g.failure_rates(c)
        rows.append([str(c.cycle)] + [
            "-" if k not in rates else
            f"{rates[k][0]}/{rates[k][1]} = {_pct(rates[k][0] / max(1, rates[k][1]))} "
            f"{_ci(rates[k][2], False)}" for k in kinds])
    base_rates = _base_failure_rates(g)
    if base_rates:
        rows.insert(0, ["base"] + [
            "-" if k not in base_rates else
            f"{base_rates[k][0]}/{base_rates[k][1]} = "
            f"{_pct(base_rates[k][0] / max(1, base_rates[k][1]))}" for k in kinds])
    md.table(["cycle", *kinds], rows)
    md.p("Over every topic's held-out items: 'format' = no answer could be read at all; the "
         "other kinds = an answer was read and it was wrong (the kind each topic's corrections "
         "are marked with). 95% Wilson intervals.")


def _base_failure_rates(g: Growth) -> dict[str, tuple[int, int]]:
    if not g.cycles:
        return {}
    items = [r for r in g.cycles[0].run.items() if r.topic in g.topics
             and r.distance == "in-domain" and not r.meta.get("leak")]
    counts: dict[str, int] = {"format": 0, **dict.fromkeys(g.kinds.values(), 0)}
    for r in items:
        side = r.meta.get("base") or {}
        if side.get("flexible", r.base_correct):
            continue
        kind = "format" if side.get("answer") is None else g.kinds.get(str(r.topic),
                                                                      "reasoning_step")
        counts[kind] = counts.get(kind, 0) + 1
    return {k: (v, len(items)) for k, v in counts.items()}


def _seeds(md: _Md, g: Growth) -> int:
    md.h(2, "Training seeds")
    rows = []
    n_seeds = max((len(c.seed_runs) for c in g.cycles), default=0)
    for c in g.cycles:
        for t in c.topics:
            gains = g.seed_gains(t).get(c.cycle, [])
            sp = spread(gains)
            rows.append([str(c.cycle), t, str(len(gains)),
                         ", ".join(_pp(x) for x in gains),
                         "n/a" if sp is None else f"{_pp(sp[0])} ± {100 * sp[1]:.1f}"])
    md.table(["cycle", "topic", "seeds", "held-out gain per seed", "mean ± sd"], rows)
    return n_seeds


def _against_baseline(r: Any) -> str:
    """Whether the adapter's accuracy is above what always giving the commonest answer scores,
    by a one-sided exact binomial test on its n items: a few points above it on 80 items is
    what a model that learned only to answer one way also shows."""
    from qconsole.evaluation.stats import binomial_upper_tail

    n = getattr(r, "n", None)
    if r.adapter_acc <= r.baseline:
        return "does NOT beat it"
    if not isinstance(n, int) or n < 1:
        return "beats it"
    p = binomial_upper_tail(round(r.adapter_acc * n), n, r.baseline)
    if p < TARGET_P_BASELINE:
        return f"beats it (binomial p {_p(p)})"
    return (f"is above it but not significantly (binomial p {_p(p)} on {n} items): the gain "
            "is the answer format, not the skill")


def _targets(md: _Md, g: Growth, gains: list[tuple[int, str, Any]],
             forgetting: list[tuple[int, Any, int]], n_seeds: int) -> None:
    md.h(2, "Targets of the growth proof")
    lines = []
    for k, t, r in gains:
        ok = r.diff >= TARGET_GAIN and r.p_value < TARGET_P
        # A gain to an accuracy that always giving the commonest answer reaches is not reasoning
        beaten = "" if r.baseline is None else (
            f"; the constant-answer baseline is {_pct(r.baseline)}: the adapter "
            + _against_baseline(r))
        lines.append(f"{'MET' if ok else 'MISSED'}: cycle {k} {t} in-domain held-out gain "
                     f">= 30 points with p < 0.001: measured {_pp(r.diff)}, p {_p(r.p_value)}"
                     + beaten)
    if len(g.cycles) < 3:
        lines.append(f"MISSED: three cycles: {len(g.cycles)} evaluated")
    for k, fc, n in forgetting:
        # Forgetting is a drop: the target is met when the adapter scores at most 1 point below
        # the base (the panel table's rule, forgetting_check). The interval says whether a
        # larger drop is ruled out, and a significant rise is named: not forgetting, but the
        # adapter did change ordinary answers, which a reader should know.
        ok = fc.diff_points >= -TARGET_FORGETTING_POINTS and n >= TARGET_PANEL_ITEMS
        lo, hi = (100 * x for x in fc.comparison.diff_ci)
        shown = ("the 95% interval rules out a drop of more than 1 point"
                 if lo >= -TARGET_FORGETTING_POINTS else
                 "the 95% interval reaches a drop of more than 1 point: that much forgetting "
                 "is not ruled out")
        if fc.comparison.significant and fc.diff_points > 0:
            shown += ("; the panel rose significantly: no forgetting, but the adapter changed "
                      "ordinary scores (per benchmark in the panel table)")
        lines.append(f"{'MET' if ok else 'MISSED'}: cycle {k} forgetting within 1 point on a "
                     f">= {TARGET_PANEL_ITEMS}-item log-likelihood panel: measured "
                     f"{fc.diff_points:+.1f} points {_ci(fc.comparison.diff_ci)} on {n} items "
                     f"({shown})")
    if not forgetting:
        lines.append("MISSED: forgetting on a log-likelihood panel: no panel was run")
    lines.append(f"{'MET' if n_seeds >= TARGET_SEEDS else 'MISSED'}: three training seeds: "
                 f"{n_seeds} run")
    for c in g.cycles:
        whole, single, cached = cycle_seconds(c), one_seed_seconds(c), cached_cycle_seconds(c)
        s = whole if single is None else single
        judged = s if cached is None else cached
        ok = judged is not None and judged <= TARGET_CYCLE_SECONDS
        measured = (f"measured {_minutes(s)}" if single is None else
                    f"measured {_minutes(single)} with one seed ({_minutes(whole)} with all "
                    f"{len(c.seed_runs)} seeds)")
        if cached is not None and base_pass(c):
            measured += (f"; {_minutes(cached)} with the base side cached (the base's "
                         f"one-time pass took {_minutes(base_pass(c))})")
        lines.append(f"{'MET' if ok else 'MISSED'}: cycle {c.cycle} in at most 12 minutes: "
                     f"{measured}")
    md.bullets(lines)


def write_growth_report(g: Growth, output: Path, *, plan: Any | None = None,
                        command: str | None = None) -> Path:
    """Write the Markdown report (and its PNG beside it, ``<stem>_files/growth.png``)."""
    from qconsole.cycles.charts import growth_png, text_chart

    md = _Md()
    md.h(1, f"Growth over cycles: plan {g.plan}")
    md.p(f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} from the cycle ledger "
         "and the stored per-item records; no number in it is typed by hand."
         + (f" Command: `{command}`." if command else ""))
    if not g.cycles:
        md.p("No cycle has a finished evaluation yet.")
        return _write(md, output, None)
    _what_ran(md, g, plan)
    _cycles(md, g)
    gains = _gains(md, g)
    m = _matrix(md, g)
    _gem(md, g)
    png, how = growth_png(m)
    md.parts.append(f"![accuracy over cycles]({output.stem}_files/growth.png)\n")
    md.p(f"Chart: {how}.")
    md.code(text_chart(m))
    _transfer(md, g)
    forgetting = _forgetting(md, g)
    _failure_kinds(md, g)
    n_seeds = _seeds(md, g)
    _targets(md, g, gains, forgetting, n_seeds)
    return _write(md, output, png)


def _write(md: _Md, output: Path, png: bytes | None) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    if png is not None:
        files = output.with_name(f"{output.stem}_files")
        files.mkdir(exist_ok=True)
        (files / "growth.png").write_bytes(png)
    output.write_text("\n".join(md.parts), encoding="utf-8")
    return output
