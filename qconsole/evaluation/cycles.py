"""Accuracy over training cycles (GEM metrics) and the forgetting-panel regression flag.

Why: one before/after table says whether the last adapter helped; it does not say whether what
cycle 1 taught survived cycle 3 (backward transfer), or whether training on one topic already
lifted a topic not yet trained (forward transfer). GEM (Lopez-Paz & Ranzato, arXiv 1706.08840)
defines both on a topic-by-cycle accuracy matrix; qconsole computes it from stored per-item
results, never from stored aggregates.

Mapping of GEM onto qconsole:
- A cycle k = 1..T is one training plus its evaluation. ``R[k][i]`` is the adapter of cycle k's
  accuracy on topic i; ``B[k][i]`` is the base model's accuracy on the same items in that cycle's
  evaluation (the base does not change, but the item set may).
- "Topic i" is the topic first trained at cycle t_i (GEM's task i is trained at stage i). Topics
  trained in several cycles count from their first training cycle. Topics never trained (e.g.
  transfer-only topics) appear in the matrix and in ACC but not in BWT or FWT.
- ACC = mean over topics of R[T][i] (topics measured in the last cycle).
- BWT = mean over trained topics with t_i < T of (R[T][i] - R[t_i][i]).
- FWT = mean over trained topics with t_i >= 2 of (R[t_i - 1][i] - B[t_i - 1][i]): the gain the
  earlier adapters already gave on topic i before it was trained, against the base on the same
  items (GEM's b_i). A topic first trained at cycle 1 has no earlier adapter and is excluded.
- A missing measurement (topic not evaluated in a needed cycle) drops that topic from that
  metric; each metric reports which topics it used, and is None when it used none.

Readings: generated items carry two readings (qconsole.evaluation.readings); the matrix is built
under one of them, ``reading="flexible"`` (the headline) by default or ``"strict"``. Items that
repeat a training correction (``meta["leak"]``) are left out, as in every results row.

Forgetting panel: see :func:`forgetting_check` for the exact rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.stats import PairedComparison, compare


@dataclass(frozen=True)
class CycleResults:
    """One cycle's stored evaluation: its number (1-based), the topics it trained, its items."""

    cycle: int
    trained_topics: tuple[str, ...]
    items: tuple[ItemResult, ...]

    @classmethod
    def of(cls, cycle: int, trained_topics: Iterable[str], items: Iterable[ItemResult]
           ) -> CycleResults:
        return cls(cycle, tuple(trained_topics), tuple(items))


@dataclass(frozen=True)
class AccuracyMatrix:
    """Topic-by-cycle accuracies. ``adapter[k][j]`` / ``base[k][j]`` are for ``cycles[k]`` and
    ``topics[j]``; None where that topic was not evaluated in that cycle. ``counts`` holds n."""

    cycles: tuple[int, ...]
    topics: tuple[str, ...]
    adapter: tuple[tuple[float | None, ...], ...]
    base: tuple[tuple[float | None, ...], ...]
    counts: tuple[tuple[int, ...], ...]
    trained_at: dict[str, int] = field(default_factory=dict)

    def r(self, cycle: int, topic: str) -> float | None:
        """R[cycle, topic]: adapter accuracy, None if not measured."""
        return self.adapter[self.cycles.index(cycle)][self.topics.index(topic)]

    def b(self, cycle: int, topic: str) -> float | None:
        """Base accuracy on the topic's items of that cycle, None if not measured."""
        return self.base[self.cycles.index(cycle)][self.topics.index(topic)]


@dataclass(frozen=True)
class GemMetrics:
    acc: float | None
    bwt: float | None
    fwt: float | None
    acc_topics: tuple[str, ...]
    bwt_topics: tuple[str, ...]
    fwt_topics: tuple[str, ...]


def accuracy_matrix(cycles: Sequence[CycleResults], reading: str = "flexible") -> AccuracyMatrix:
    """Build R and B from per-item results under ``reading``; items without a topic, and
    leaked items, are ignored."""
    from qconsole.evaluation.readings import by_reading

    if not cycles:
        raise ValueError("no cycles")
    ordered = [CycleResults.of(c.cycle, c.trained_topics,
                               by_reading([r for r in c.items if not r.meta.get("leak")],
                                          reading))
               for c in sorted(cycles, key=lambda c: c.cycle)]
    numbers = [c.cycle for c in ordered]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"duplicate cycle numbers: {numbers}")
    if numbers[0] < 1:
        raise ValueError("cycles are numbered from 1")

    topics: list[str] = []
    trained_at: dict[str, int] = {}
    for c in ordered:
        for t in c.trained_topics:
            trained_at.setdefault(t, c.cycle)
            if t not in topics:
                topics.append(t)
    # Trained topics first, in training order (GEM's task order), then the rest as first seen.
    for c in ordered:
        for r in c.items:
            if r.topic is not None and r.topic not in topics:
                topics.append(r.topic)

    adapter_rows, base_rows, count_rows = [], [], []
    for c in ordered:
        tally: dict[str, list[int]] = {}  # topic -> [n, adapter right, base right]
        for r in c.items:
            if r.topic is None:
                continue
            counts = tally.setdefault(r.topic, [0, 0, 0])
            counts[0] += 1
            counts[1] += r.adapter_correct
            counts[2] += r.base_correct
        adapter_rows.append(tuple(tally[t][1] / tally[t][0] if t in tally else None
                                  for t in topics))
        base_rows.append(tuple(tally[t][2] / tally[t][0] if t in tally else None for t in topics))
        count_rows.append(tuple(tally[t][0] if t in tally else 0 for t in topics))
    return AccuracyMatrix(
        cycles=tuple(numbers),
        topics=tuple(topics),
        adapter=tuple(adapter_rows),
        base=tuple(base_rows),
        counts=tuple(count_rows),
        trained_at=trained_at,
    )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def gem_metrics(m: AccuracyMatrix) -> GemMetrics:
    """ACC, BWT and FWT as defined in the module docstring."""
    last = m.cycles[-1]
    acc_vals, acc_topics = [], []
    bwt_vals, bwt_topics = [], []
    fwt_vals, fwt_topics = [], []
    for topic in m.topics:
        final = m.r(last, topic)
        if final is not None:
            acc_vals.append(final)
            acc_topics.append(topic)
        t_i = m.trained_at.get(topic)
        if t_i is None:
            continue
        if t_i < last:
            at_training = m.r(t_i, topic)
            if final is not None and at_training is not None:
                bwt_vals.append(final - at_training)
                bwt_topics.append(topic)
        before = t_i - 1
        if before >= 1 and before in m.cycles:
            r_before, b_before = m.r(before, topic), m.b(before, topic)
            if r_before is not None and b_before is not None:
                fwt_vals.append(r_before - b_before)
                fwt_topics.append(topic)
    return GemMetrics(
        acc=_mean(acc_vals),
        bwt=_mean(bwt_vals),
        fwt=_mean(fwt_vals),
        acc_topics=tuple(acc_topics),
        bwt_topics=tuple(bwt_topics),
        fwt_topics=tuple(fwt_topics),
    )


@dataclass(frozen=True)
class ForgettingCheck:
    """Adapter vs base on the forgetting panel and whether it counts as a regression.

    ``status`` is "regression" (flagged), "possible regression" (the drop is beyond the
    threshold but not significant: more items needed) or "ok".
    """

    comparison: PairedComparison
    threshold_points: float
    below_threshold: bool
    flagged: bool
    status: str

    @property
    def diff_points(self) -> float:
        return 100.0 * self.comparison.diff

    @property
    def significant(self) -> bool:
        return self.comparison.significant


def forgetting_check(
    items: Iterable[ItemResult],
    threshold_points: float,
    *,
    require_significance: bool = True,
    suite: str = "forgetting panel",
) -> ForgettingCheck:
    """Flag a regression on the forgetting panel (items the user never trains on).

    Rule: with d = adapter minus base accuracy in points over all panel items pooled,
    ``below_threshold`` is d < -threshold_points. The adapter is flagged when below_threshold
    and the drop is significant (McNemar p < 0.05 and the interval excludes 0). With
    ``require_significance=False`` the point estimate alone flags it. A drop beyond the
    threshold that is not significant is reported as "possible regression", never hidden.
    """
    if threshold_points < 0:
        raise ValueError("threshold_points must be >= 0")
    comp = compare(items, suite=suite)
    below = 100.0 * comp.diff < -threshold_points
    significant_drop = comp.significant and comp.diff < 0
    flagged = below and (significant_drop or not require_significance)
    status = "regression" if flagged else ("possible regression" if below else "ok")
    return ForgettingCheck(comp, threshold_points, below, flagged, status)
