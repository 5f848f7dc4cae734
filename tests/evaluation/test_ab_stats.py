"""A/B statistics against hand-computed values: Wilson, the exact sign test, Bradley-Terry."""

from __future__ import annotations

import math

import pytest

from qconsole.evaluation.ab_stats import (
    Outcome,
    against_reference,
    bradley_terry,
    head_to_head,
    ranking,
)


def votes(first: str, second: str, wins: int, losses: int, ties: int = 0,
          both_bad: int = 0) -> list[Outcome]:
    """``wins`` judgements for ``first``, ``losses`` for ``second``; sides alternate so that
    nothing depends on which contestant was shown first."""
    out = []
    for k, result in enumerate(["w"] * wins + ["l"] * losses + ["tie"] * ties
                               + ["both_bad"] * both_bad):
        a, b = (first, second) if k % 2 == 0 else (second, first)
        if result == "w":
            out.append(Outcome(a, b, "first" if a == first else "second"))
        elif result == "l":
            out.append(Outcome(a, b, "second" if a == first else "first"))
        else:
            out.append(Outcome(a, b, result))
    return out


def test_win_rate_interval_and_sign_test_by_hand() -> None:
    h = head_to_head(votes("fair-1", "base", 8, 2, ties=3, both_bad=1), "fair-1")
    assert (h.wins, h.losses, h.ties, h.both_bad, h.n, h.decisive) == (8, 2, 3, 1, 14, 10)
    assert h.win_rate == 0.8  # ties and both-bad are not half wins
    # Wilson, p = 0.8, n = 10, z = 1.96: centre (0.8 + z^2/20) / (1 + z^2/10) = 0.71674,
    # half width z / (1 + z^2/10) * sqrt(0.016 + z^2/400) = 0.22658
    assert h.ci == pytest.approx((0.49016, 0.94332), abs=1e-5)
    # sign test: 2 * P(X <= 2 | n=10, 1/2) = 2 * (1 + 10 + 45) / 1024
    assert h.p_value == 112 / 1024


def test_sign_test_edges_by_hand() -> None:
    assert head_to_head(votes("x", "base", 9, 1), "x").p_value == 22 / 1024
    assert head_to_head(votes("x", "base", 5, 5), "x").p_value == 1.0
    clean = head_to_head(votes("x", "base", 6, 0), "x")
    assert clean.p_value == 2 / 64 and clean.ci[1] == 1.0
    # from the other side: same test, mirrored rate
    assert head_to_head(votes("x", "base", 9, 1), "base", "x").win_rate == 0.1
    nothing = head_to_head(votes("x", "base", 0, 0, ties=2), "x")
    assert nothing.win_rate is None and nothing.p_value == 1.0 and nothing.ci == (0.0, 1.0)


def test_against_reference_gives_one_row_per_adapter() -> None:
    outcomes = votes("a1", "base", 3, 1) + votes("a2", "base", 1, 2) + votes("a1", "a2", 2, 0)
    rows = against_reference(outcomes)
    assert [(r.contestant, r.wins, r.losses) for r in rows] == [("a1", 3, 1), ("a2", 1, 2)]


def test_bradley_terry_two_players_is_the_win_ratio() -> None:
    p = bradley_terry(votes("a", "b", 3, 1), prior=0)
    assert p["a"] / p["b"] == pytest.approx(3.0, rel=1e-9)
    assert p["a"] * p["b"] == pytest.approx(1.0)  # geometric mean 1
    # a clean sweep has no MLE; the default half win each way makes it (10 + .5) / (0 + .5)
    with pytest.raises(ValueError, match="won every"):
        bradley_terry(votes("a", "b", 10, 0), prior=0)
    p = bradley_terry(votes("a", "b", 10, 0))
    assert p["a"] / p["b"] == pytest.approx(21.0, rel=1e-9)


def test_bradley_terry_three_players_by_hand() -> None:
    # A beats B 2-1 and C 2-1, B and C split 1-1. By symmetry p_B = p_C; A's score equation
    # W_A = 4 = 3x/(x+1) + 3x/(x+1) gives x = p_A/p_B = 2, and B's then holds:
    # W_B = 2 = 3/(1+2) + 2/2.
    outcomes = votes("A", "B", 2, 1) + votes("A", "C", 2, 1) + votes("B", "C", 1, 1)
    p = bradley_terry(outcomes, prior=0)
    assert p["A"] / p["B"] == pytest.approx(2.0, rel=1e-8)
    assert p["B"] == pytest.approx(p["C"], rel=1e-8)
    # a cycle A > B > C > A, each 2-1: all equal
    cycle = votes("A", "B", 2, 1) + votes("B", "C", 2, 1) + votes("C", "A", 2, 1)
    assert all(v == pytest.approx(1.0) for v in bradley_terry(cycle, prior=0).values())


def test_ranking_on_the_elo_scale_with_seeded_bootstrap() -> None:
    outcomes = (votes("A", "base", 2, 1) + votes("A", "C", 2, 1) + votes("base", "C", 1, 1)
                + votes("A", "C", 0, 0, ties=4))  # ties take no part
    ranks = ranking(outcomes, prior=0, bootstrap=300, seed=7)
    assert [r.name for r in ranks][0] == "A"
    by = {r.name: r for r in ranks}
    assert by["A"].rating == pytest.approx(400 * math.log10(2), rel=1e-7)  # 120.4 Elo
    assert by["base"].rating == 0.0 and by["base"].ci == (0.0, 0.0)  # the anchor
    assert by["C"].rating == pytest.approx(0.0, abs=1e-6)
    assert by["A"].decisive == 6
    lo, hi = by["A"].ci
    assert lo < hi and lo <= by["A"].rating + 1e-9
    again = ranking(outcomes, prior=0, bootstrap=300, seed=7)
    assert [r.ci for r in again] == [r.ci for r in ranks]  # seeded: the same intervals
    other = ranking(outcomes, prior=0, bootstrap=300, seed=8)
    assert [r.ci for r in other] != [r.ci for r in ranks]


def test_more_votes_narrow_the_bootstrap_interval() -> None:
    few = {r.name: r for r in ranking(votes("A", "base", 6, 2), bootstrap=400, seed=1)}
    many = {r.name: r for r in ranking(votes("A", "base", 60, 20), bootstrap=400, seed=1)}
    width = lambda r: r.ci[1] - r.ci[0]  # noqa: E731
    assert width(many["A"]) < width(few["A"]) / 2


def test_bad_outcomes_are_refused() -> None:
    with pytest.raises(ValueError, match="one of first"):
        Outcome("a", "b", "a")
    with pytest.raises(ValueError, match="cannot meet itself"):
        Outcome("a", "a", "first")
