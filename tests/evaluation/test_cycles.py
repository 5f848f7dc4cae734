"""Topic-by-cycle matrix, GEM ACC/BWT/FWT on a matrix worked by hand, and the forgetting flag."""

from __future__ import annotations

import pytest

from qconsole.evaluation.cycles import (
    CycleResults,
    accuracy_matrix,
    forgetting_check,
    gem_metrics,
)
from qconsole.evaluation.results import ItemResult

# Hand-made matrix: adapter accuracy R and base accuracy B per cycle, 10 items per cell.
# Topic a is trained in cycle 1, b in cycle 2, c in cycle 3; x is never trained.
R = {
    1: {"a": 0.8, "b": 0.4, "c": 0.1, "x": 0.5},
    2: {"a": 0.6, "b": 0.9, "c": 0.3, "x": 0.5},
    3: {"a": 0.7, "b": 0.8, "c": 0.9, "x": 0.4},
}
B = {"a": 0.2, "b": 0.3, "c": 0.1, "x": 0.5}
TRAINED = {1: ["a"], 2: ["b"], 3: ["c"]}


def cell(cycle: int, topic: str, adapter_acc: float, base_acc: float, n: int = 10):
    k_a, k_b = round(adapter_acc * n), round(base_acc * n)
    return [
        ItemResult(f"{cycle}-{topic}-{j}", "suite", base_correct=j < k_b,
                   adapter_correct=j < k_a, topic=topic)
        for j in range(n)
    ]


def make_cycles(skip: set[tuple[int, str]] = frozenset()):
    out = []
    for k, row in R.items():
        items = []
        for topic, acc in row.items():
            if (k, topic) not in skip:
                items += cell(k, topic, acc, B[topic])
        out.append(CycleResults.of(k, TRAINED[k], items))
    return out


def test_matrix_cells_and_topic_order():
    m = accuracy_matrix(make_cycles())
    assert m.cycles == (1, 2, 3)
    assert m.topics == ("a", "b", "c", "x")  # trained topics in training order, then others
    assert m.trained_at == {"a": 1, "b": 2, "c": 3}
    assert m.r(2, "b") == pytest.approx(0.9)
    assert m.b(2, "c") == pytest.approx(0.1)
    assert m.counts[0] == (10, 10, 10, 10)


def test_gem_metrics_by_hand():
    # ACC = (.7 + .8 + .9 + .4) / 4 = .7
    # BWT = ((R[3,a] - R[1,a]) + (R[3,b] - R[2,b])) / 2 = ((.7 - .8) + (.8 - .9)) / 2 = -.1
    # FWT = ((R[1,b] - b_b) + (R[2,c] - b_c)) / 2 = ((.4 - .3) + (.3 - .1)) / 2 = .15
    g = gem_metrics(accuracy_matrix(make_cycles()))
    assert g.acc == pytest.approx(0.7)
    assert g.bwt == pytest.approx(-0.1)
    assert g.fwt == pytest.approx(0.15)
    assert g.acc_topics == ("a", "b", "c", "x")
    assert g.bwt_topics == ("a", "b")  # c is trained in the last cycle; x never
    assert g.fwt_topics == ("b", "c")  # a has no earlier adapter; x never trained


def test_missing_measurement_drops_only_that_topic():
    # c not evaluated in cycle 2: FWT uses only b
    g = gem_metrics(accuracy_matrix(make_cycles(skip={(2, "c")})))
    assert g.fwt == pytest.approx(0.1)
    assert g.fwt_topics == ("b",)
    assert g.bwt == pytest.approx(-0.1)


def test_single_cycle_has_acc_but_no_transfer():
    m = accuracy_matrix([CycleResults.of(1, ["a"], cell(1, "a", 0.6, 0.2))])
    g = gem_metrics(m)
    assert g.acc == pytest.approx(0.6)
    assert g.bwt is None and g.fwt is None


def test_cycle_order_does_not_matter_and_duplicates_are_rejected():
    cycles = make_cycles()
    assert gem_metrics(accuracy_matrix(cycles[::-1])) == gem_metrics(accuracy_matrix(cycles))
    with pytest.raises(ValueError):
        accuracy_matrix([cycles[0], cycles[0]])
    with pytest.raises(ValueError):
        accuracy_matrix([])


def panel(fixed: int, regressed: int, unchanged: int):
    pairs = ([(False, True)] * fixed + [(True, False)] * regressed
             + [(True, True)] * unchanged)
    return [ItemResult(f"p{i}", "hellaswag", b, a) for i, (b, a) in enumerate(pairs)]


def test_forgetting_significant_drop_beyond_threshold_is_flagged():
    # 10 fixed, 30 regressed of 400: -5 points, McNemar p = 0.0022
    f = forgetting_check(panel(10, 30, 360), threshold_points=2)
    assert f.diff_points == pytest.approx(-5.0)
    assert f.significant and f.below_threshold and f.flagged
    assert f.status == "regression"
    assert f.comparison.suite == "forgetting panel"


def test_forgetting_drop_within_threshold_is_ok():
    f = forgetting_check(panel(10, 30, 360), threshold_points=6)
    assert not f.below_threshold and not f.flagged and f.status == "ok"


def test_forgetting_drop_beyond_threshold_but_not_significant():
    # 1 fixed, 3 regressed of 40: -5 points, p = 0.625
    f = forgetting_check(panel(1, 3, 36), threshold_points=2)
    assert f.below_threshold and not f.significant
    assert not f.flagged and f.status == "possible regression"
    g = forgetting_check(panel(1, 3, 36), threshold_points=2, require_significance=False)
    assert g.flagged and g.status == "regression"


def test_forgetting_improvement_is_never_flagged():
    f = forgetting_check(panel(30, 10, 360), threshold_points=0, require_significance=False)
    assert not f.flagged and f.status == "ok"
    with pytest.raises(ValueError):
        forgetting_check(panel(1, 1, 1), threshold_points=-1)
