"""Statistics of A/B judgements: head-to-head win rates and a Bradley-Terry ranking.

Input is a list of :class:`Outcome`: two contestants by name ("base", or an adapter's name)
and the result ("first", "second", "tie", "both_bad"). Nothing here knows where outcomes come
from: blind votes and sighted preferences are built by ``ab_report.py`` and go through the
same functions, reported apart.

- Win rate of a contestant against one opponent: wins / (wins + losses), over the *decisive*
  judgements; ties and "both bad" are counted and shown, never folded in as half wins. 95%
  Wilson interval (``stats.wilson_interval``).
- Sign test: exact two-sided binomial test (p = 1/2) on the decisive judgements, the same
  computation as McNemar's on flips (``stats.mcnemar_exact``): p = min(1, 2 P(X <= min(w, l))).
- Bradley-Terry: P(i beats j) = p_i / (p_i + p_j), fitted by Hunter's MM algorithm (2004)
  ``p_i <- W_i / sum_j n_ij / (p_i + p_j)`` on decisive judgements. A contestant that never
  lost (or never won) has no finite maximum-likelihood strength, which with ten votes is the
  common case, so by default every pair that met gets ``prior`` = 0.5 virtual wins each way
  (Laplace-style); ``prior=0`` gives the plain MLE. Ratings are on the Elo scale,
  400 log10(p_i / p_ref), with the reference (the base when present) at 0.
- Bootstrap intervals for the ratings: the judgements resampled with replacement (seeded),
  refitted, 2.5th and 97.5th percentiles.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qconsole.evaluation.stats import mcnemar_exact, wilson_interval

RESULTS = ("first", "second", "tie", "both_bad")
BASE = "base"


@dataclass(frozen=True)
class Outcome:
    first: str
    second: str
    result: str  # one of RESULTS

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"an outcome is one of {', '.join(RESULTS)}, not {self.result!r}")
        if self.first == self.second:
            raise ValueError(f"a contestant cannot meet itself ({self.first!r})")

    @property
    def winner(self) -> str | None:
        return {"first": self.first, "second": self.second}.get(self.result)

    @property
    def loser(self) -> str | None:
        return {"first": self.second, "second": self.first}.get(self.result)


@dataclass(frozen=True)
class HeadToHead:
    """``contestant`` against ``opponent``: the counts, the win rate and its tests."""

    contestant: str
    opponent: str
    wins: int
    losses: int
    ties: int
    both_bad: int
    win_rate: float | None  # over decisive judgements; None when there is none
    ci: tuple[float, float]  # 95% Wilson
    p_value: float  # exact two-sided sign test on the decisive judgements

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties + self.both_bad

    @property
    def decisive(self) -> int:
        return self.wins + self.losses


def head_to_head(outcomes: Iterable[Outcome], contestant: str,
                 opponent: str = BASE) -> HeadToHead:
    counts: Counter[str] = Counter()
    for o in outcomes:
        if {o.first, o.second} != {contestant, opponent}:
            continue
        if o.result in ("tie", "both_bad"):
            counts[o.result] += 1
        else:
            counts["win" if o.winner == contestant else "loss"] += 1
    wins, losses = counts["win"], counts["loss"]
    decisive = wins + losses
    return HeadToHead(
        contestant=contestant, opponent=opponent, wins=wins, losses=losses,
        ties=counts["tie"], both_bad=counts["both_bad"],
        win_rate=wins / decisive if decisive else None,
        ci=wilson_interval(wins, decisive),
        p_value=mcnemar_exact(losses, wins),
    )


def against_reference(outcomes: Sequence[Outcome], reference: str = BASE) -> list[HeadToHead]:
    """One row per contestant that met ``reference``, by name."""
    names = sorted({n for o in outcomes if reference in (o.first, o.second)
                    for n in (o.first, o.second) if n != reference})
    return [head_to_head(outcomes, name, reference) for name in names]


# -- Bradley-Terry -----------------------------------------------------------------------------


def bradley_terry(outcomes: Sequence[Outcome], *, prior: float = 0.5, max_iter: int = 10_000,
                  tol: float = 1e-10) -> dict[str, float]:
    """Strengths p_i (geometric mean 1) of every contestant in a decisive judgement.

    ``prior``: virtual wins each way for every pair that met (see the module docstring).
    Raises ValueError when the plain MLE (``prior=0``) does not exist: some contestant won
    none or lost none of its judgements.
    """
    wins: Counter[tuple[str, str]] = Counter()  # (winner, loser) -> count
    for o in outcomes:
        if o.winner is not None and o.loser is not None:
            wins[(o.winner, o.loser)] += 1
    names = sorted({n for pair in wins for n in pair})
    if not names:
        return {}
    pairs = {tuple(sorted(p)) for p in wins}  # each pair that met, once
    w: dict[tuple[str, str], float] = {}
    for i, j in pairs:
        w[(i, j)] = wins[(i, j)] + prior
        w[(j, i)] = wins[(j, i)] + prior
    total_wins = {i: sum(v for (a, _), v in w.items() if a == i) for i in names}
    total_losses = {i: sum(v for (_, b), v in w.items() if b == i) for i in names}
    for i in names:
        if total_wins[i] <= 0 or total_losses[i] <= 0:
            raise ValueError(f"{i!r} {'won' if total_losses[i] <= 0 else 'lost'} every "
                             "judgement: no finite Bradley-Terry strength without a prior")
    opponents: dict[str, list[tuple[str, float]]] = {i: [] for i in names}
    for i, j in pairs:
        n = w[(i, j)] + w[(j, i)]  # judgements between i and j, virtual ones included
        opponents[i].append((j, n))
        opponents[j].append((i, n))
    p = dict.fromkeys(names, 1.0)
    for _ in range(max_iter):
        new = {i: total_wins[i] / sum(n / (p[i] + p[j]) for j, n in opponents[i])
               for i in names}
        scale = math.exp(sum(math.log(v) for v in new.values()) / len(new))
        new = {i: v / scale for i, v in new.items()}
        done = max(abs(math.log(new[i] / p[i])) for i in names) < tol
        p = new
        if done:
            break
    return p


@dataclass(frozen=True)
class Rating:
    name: str
    rating: float  # Elo scale, the reference at 0
    ci: tuple[float, float]  # bootstrap 95% (percentile)
    strength: float  # Bradley-Terry p (geometric mean 1)
    decisive: int  # decisive judgements this contestant took part in


def elo(strengths: dict[str, float], reference: str) -> dict[str, float]:
    ref = strengths[reference] if reference in strengths else math.exp(
        sum(math.log(v) for v in strengths.values()) / len(strengths))
    return {n: 400 * math.log10(v / ref) for n, v in strengths.items()}


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def ranking(outcomes: Sequence[Outcome], *, reference: str = BASE, prior: float = 0.5,
            bootstrap: int = 1000, seed: int = 0) -> list[Rating]:
    """Every contestant, strongest first, with seeded bootstrap intervals of its rating.

    A resample in which a contestant does not appear gives no value for it; its interval is
    taken over the resamples where it does.
    """
    decisive = [o for o in outcomes if o.winner is not None]
    strengths = bradley_terry(decisive, prior=prior)
    if not strengths:
        return []
    point = elo(strengths, reference)
    rng = random.Random(seed)
    draws: dict[str, list[float]] = {n: [] for n in strengths}
    for _ in range(bootstrap):
        sample = [decisive[rng.randrange(len(decisive))] for _ in decisive]
        try:
            fitted = elo(bradley_terry(sample, prior=prior), reference)
        except ValueError:  # prior=0 and a resample with a clean sweep
            continue
        if reference in strengths and reference not in fitted:
            continue  # the scale is anchored on the reference: without it, no value
        for n, v in fitted.items():
            draws[n].append(v)
    played = Counter(n for o in decisive for n in (o.first, o.second))
    out = []
    for n, s in strengths.items():
        values = sorted(draws[n])
        ci = (_percentile(values, 0.025), _percentile(values, 0.975)) if values else (
            math.nan, math.nan)
        out.append(Rating(n, point[n], ci, s, played[n]))
    return sorted(out, key=lambda r: (-r.rating, r.name))
