"""Honest before/after statistics on paired per-item results.

Why these and not a bare accuracy delta: base and adapter answer the *same* items, so the
comparison is paired, and with 100 items an accuracy difference carries about +-10 points of
noise. Every row therefore carries its interval, an exact test and the flip table, and is labelled
"not significant" when it is.

- Accuracy: 95% Wilson score interval (stays inside [0, 1] and behaves at 0% and 100%).
- Difference adapter minus base: mean of per-item differences d in {-1, 0, +1}, normal-approx 95%
  interval with the sample variance, SE = sd(d) / sqrt(n).
- Clustered difference: items sharing a cluster id (one dialogue, one template) are not
  independent. Residuals e = d - mean(d) are summed within each cluster, u_g = sum e, and
  Var = G/(G-1) * sum_g u_g^2 / n^2 (the CR1-style small-sample factor). Items without a cluster
  id are their own cluster. With all-singleton clusters this equals the unclustered variance
  exactly, so the two agree whenever clustering does not matter. G < 2 gives no usable interval:
  it is reported as the whole range [-1, 1].
- McNemar's exact test: two-sided binomial test (p = 1/2) on the discordant pairs, computed
  exactly in integers for moderate counts and in log space beyond that.
- ``significant`` needs both p < 0.05 and a difference interval that excludes 0 (the clustered
  interval when clusters exist). With clustered items McNemar's independence assumption is too
  optimistic, so the interval is the guard.
- Verdict: "improved" needs a significant gain *and*, on a suite with a closed answer set, the
  adapter's accuracy above the constant-answer baseline (qconsole.evaluation.baselines); a
  significant gain that does not beat always giving the majority answer is "not above
  baseline".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from qconsole.evaluation.results import ItemResult

Z95 = 1.959963984540054  # two-sided 95% standard-normal quantile
ALPHA = 0.05
_EXACT_LIMIT = 5000  # discordant pairs up to which McNemar is summed in exact integers


@dataclass(frozen=True)
class FlipTable:
    """How items moved from base to adapter."""

    fixed: int  # base wrong, adapter right
    regressed: int  # base right, adapter wrong
    still_failing: int  # wrong both times
    still_passing: int  # right both times

    @property
    def n(self) -> int:
        return self.fixed + self.regressed + self.still_failing + self.still_passing

    @property
    def discordant(self) -> int:
        return self.fixed + self.regressed


@dataclass(frozen=True)
class PairedComparison:
    """One results-table row: base vs adapter on the same ``n`` items of ``suite``.

    Accuracies and differences are fractions in [0, 1] / [-1, 1]; multiply by 100 for points.
    ``diff_ci`` is the interval to show: clustered when any cluster holds more than one item
    (``clustered`` is then True), otherwise the plain paired interval (both are kept).
    """

    suite: str
    n: int
    base_acc: float
    base_ci: tuple[float, float]
    adapter_acc: float
    adapter_ci: tuple[float, float]
    diff: float
    diff_ci: tuple[float, float]
    diff_se: float
    diff_ci_unclustered: tuple[float, float]
    clustered: bool
    n_clusters: int
    p_value: float
    flips: FlipTable
    significant: bool
    baseline: float | None = None  # constant-answer baseline (closed answer sets only)
    strict: PairedComparison | None = None  # the same items under the strict reading
    details: Mapping[str, Any] = field(default_factory=dict)  # baseline, leaks (rows.py)

    @property
    def label(self) -> str:
        """The verdict: improved / regressed when significant (improved also needs the adapter
        above the constant-answer baseline, when there is one), else not significant."""
        if not self.significant:
            return "not significant"
        if self.diff < 0:
            return "regressed"
        if self.baseline is not None and self.adapter_acc <= self.baseline:
            return "not above baseline"
        return "improved"

    @property
    def format_gap(self) -> float | None:
        """Strict difference minus flexible difference: the part of the strict gain that is
        the answer format being learned (None without a strict reading)."""
        return None if self.strict is None else self.strict.diff - self.diff

    def headline(self) -> dict[str, Any]:
        """The few numbers of one reading, for ``strict`` / ``flexible`` in JSON."""
        return {"n": self.n, "acc,base": self.base_acc, "acc,adapter": self.adapter_acc,
                "acc_ci,base": list(self.base_ci), "acc_ci,adapter": list(self.adapter_ci),
                "diff": self.diff, "diff_ci": list(self.diff_ci), "p_value": self.p_value,
                "flips": asdict(self.flips), "label": self.label}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["base_ci"] = list(self.base_ci)
        d["adapter_ci"] = list(self.adapter_ci)
        d["diff_ci"] = list(self.diff_ci)
        d["diff_ci_unclustered"] = list(self.diff_ci_unclustered)
        d["label"] = self.label
        d["details"] = dict(self.details)
        d["strict"] = self.strict.headline() if self.strict is not None else None
        d["flexible"] = self.headline()
        d["format_gap"] = self.format_gap
        return d


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when n == 0."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    lo = 0.0 if successes == 0 else max(0.0, center - half)
    hi = 1.0 if successes == n else min(1.0, center + half)  # exact at the bounds, no 1 - 1e-16
    return (lo, hi)


def mcnemar_exact(regressed: int, fixed: int) -> float:
    """Two-sided exact McNemar p-value: binomial(m = regressed + fixed, 1/2) tail, doubled.

    p = min(1, 2 * sum_{i <= min(b, c)} C(m, i) / 2^m). No discordant pairs gives p = 1.
    """
    if regressed < 0 or fixed < 0:
        raise ValueError("counts must be non-negative")
    m = regressed + fixed
    k = min(regressed, fixed)
    if m == 0:
        return 1.0
    if m <= _EXACT_LIMIT:
        tail = sum(math.comb(m, i) for i in range(k + 1))
        # int / int true division is correctly rounded in Python, even for huge integers.
        return min(1.0, (2 * tail) / (1 << m))
    # P(X <= k) = P(X >= m - k) at p = 1/2: the log-space tail shared with the report's test
    return min(1.0, 2 * binomial_upper_tail(m - k, m, 0.5))


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (exact tests on thousands of
    items: C(n, i) alone overflows a float past n of about 1,000)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp
            + (n - i) * lq for i in range(k, n + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in logs))


def flip_table(items: Iterable[ItemResult]) -> FlipTable:
    fixed = regressed = still_failing = still_passing = 0
    for r in items:
        if r.adapter_correct and not r.base_correct:
            fixed += 1
        elif r.base_correct and not r.adapter_correct:
            regressed += 1
        elif r.base_correct:
            still_passing += 1
        else:
            still_failing += 1
    return FlipTable(fixed, regressed, still_failing, still_passing)


def paired_se(diffs: Sequence[float]) -> float:
    """Standard error of the mean difference assuming independent items (sample variance)."""
    n = len(diffs)
    if n < 2:
        return math.nan
    mean = sum(diffs) / n
    ss = sum((d - mean) ** 2 for d in diffs)
    return math.sqrt(ss / (n * (n - 1)))


def clustered_se(diffs: Sequence[float], clusters: Sequence[Hashable]) -> tuple[float, int]:
    """Cluster-robust SE of the mean difference and the number of clusters G.

    Var = G/(G-1) * sum_g (sum_{j in g} (d_j - mean))^2 / n^2; NaN when G < 2.
    """
    if len(diffs) != len(clusters):
        raise ValueError("diffs and clusters differ in length")
    n = len(diffs)
    if n == 0:
        return math.nan, 0
    mean = sum(diffs) / n
    sums: dict[Hashable, float] = {}
    for d, g in zip(diffs, clusters, strict=True):
        sums[g] = sums.get(g, 0.0) + (d - mean)
    g_count = len(sums)
    if g_count < 2:
        return math.nan, g_count
    var = g_count / (g_count - 1) * sum(u * u for u in sums.values()) / (n * n)
    return math.sqrt(var), g_count


def _normal_ci(mean: float, se: float, z: float = Z95) -> tuple[float, float]:
    if math.isnan(se):
        return (-1.0, 1.0)
    return (max(-1.0, mean - z * se), min(1.0, mean + z * se))


def _cluster_keys(items: Sequence[ItemResult]) -> list[Hashable]:
    # A missing cluster id makes the item its own cluster; tag the key so that it never collides
    # with a user-given cluster name.
    return [("cluster", r.cluster) if r.cluster is not None else ("item", i)
            for i, r in enumerate(items)]


def compare(items: Iterable[ItemResult], suite: str | None = None, *,
            baseline: float | None = None) -> PairedComparison:
    """The paired comparison of base and adapter over ``items`` (one suite, or any pooled set).

    ``suite`` names the row; by default the items' common suite name (or "all" when mixed).
    ``baseline`` is the constant-answer baseline the verdict must beat (see the module doc).
    """
    items = list(items)
    if not items:
        raise ValueError("cannot compare an empty set of items")
    if suite is None:
        names = {r.suite for r in items}
        suite = names.pop() if len(names) == 1 else "all"
    n = len(items)
    base_k = sum(r.base_correct for r in items)
    adapter_k = sum(r.adapter_correct for r in items)
    diffs = [int(r.adapter_correct) - int(r.base_correct) for r in items]
    diff = sum(diffs) / n

    se_plain = paired_se(diffs)
    ci_plain = _normal_ci(diff, se_plain)
    keys = _cluster_keys(items)
    se_cl, n_clusters = clustered_se(diffs, keys)
    clustered = n_clusters < n
    se, ci = (se_cl, _normal_ci(diff, se_cl)) if clustered else (se_plain, ci_plain)

    flips = flip_table(items)
    p = mcnemar_exact(flips.regressed, flips.fixed)
    excludes_zero = ci[0] > 0 or ci[1] < 0
    return PairedComparison(
        suite=suite,
        n=n,
        base_acc=base_k / n,
        base_ci=wilson_interval(base_k, n),
        adapter_acc=adapter_k / n,
        adapter_ci=wilson_interval(adapter_k, n),
        diff=diff,
        diff_ci=ci,
        diff_se=se,
        diff_ci_unclustered=ci_plain,
        clustered=clustered,
        n_clusters=n_clusters,
        p_value=p,
        flips=flips,
        significant=p < ALPHA and excludes_zero,
        baseline=baseline,
    )


def compare_by(
    items: Iterable[ItemResult],
    key: str | Callable[[ItemResult], str | None] = "suite",
) -> list[PairedComparison]:
    """One comparison per group, in first-seen order; ``key`` is an attribute name or a function.

    Items whose key is None are skipped (e.g. ``key="topic"`` on untagged items).
    """
    get = (lambda r: getattr(r, key)) if isinstance(key, str) else key
    groups: dict[str, list[ItemResult]] = {}
    for r in items:
        k = get(r)
        if k is not None:
            groups.setdefault(k, []).append(r)
    return [compare(rs, suite=name) for name, rs in groups.items()]
