"""Statistics against hand-computed values, and the per-item JSONL records they are built from."""

from __future__ import annotations

import math

import pytest

from qconsole.errors import QConsoleError
from qconsole.evaluation.results import (
    ItemResult,
    dumps_jsonl,
    loads_jsonl,
    read_jsonl,
    write_jsonl,
)
from qconsole.evaluation.stats import (
    binomial_upper_tail,
    clustered_se,
    compare,
    compare_by,
    flip_table,
    mcnemar_exact,
    paired_se,
    wilson_interval,
)

Z = 1.959963984540054


def items_from_flips(fixed=0, regressed=0, failing=0, passing=0, suite="s", clusters=None):
    """Items in the order fixed, regressed, still failing, still passing."""
    pairs = ([(False, True)] * fixed + [(True, False)] * regressed
             + [(False, False)] * failing + [(True, True)] * passing)
    return [
        ItemResult(item_id=f"i{n}", suite=suite, base_correct=b, adapter_correct=a,
                   cluster=clusters[n] if clusters else None)
        for n, (b, a) in enumerate(pairs)
    ]


# --- Wilson ------------------------------------------------------------------------------------

def test_wilson_half_of_ten_by_hand():
    # p = .5, z^2 = 3.841459: centre .5, half = z/(1+z^2/10) * sqrt(.025 + z^2/400) = 0.263407
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.236593, abs=1e-6)
    assert hi == pytest.approx(0.763407, abs=1e-6)


def test_wilson_zero_successes_has_positive_upper_bound():
    # centre = half = (z^2/20) / (1 + z^2/10), so upper = z^2 / (10 + z^2) = 3.841459 / 13.841459
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(0.277533, abs=1e-6)


def test_wilson_all_successes_mirrors_zero():
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0
    assert lo == pytest.approx(1 - 0.277533, abs=1e-6)


def test_wilson_rejects_impossible_counts_and_handles_empty():
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    assert wilson_interval(0, 0) == (0.0, 1.0)


# --- McNemar -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (1, 9, 0.021484375),  # 2 * (C(10,0) + C(10,1)) / 2^10 = 22/1024
        (9, 1, 0.021484375),  # symmetric
        (0, 5, 0.0625),  # 2 / 32
        (2, 8, 0.109375),  # 2 * (1 + 10 + 45) / 1024
        (3, 3, 1.0),  # capped at 1
        (0, 0, 1.0),  # no discordant pairs
        (1, 3, 0.625),  # 2 * (1 + 4) / 16
    ],
)
def test_mcnemar_exact_by_hand(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)


def test_mcnemar_log_space_matches_exact_integers():
    m, k = 2000, 930
    exact = sum(math.comb(m, i) for i in range(k + 1)) / (1 << m)
    assert binomial_upper_tail(m - k, m, 0.5) == pytest.approx(exact, rel=1e-9)


def test_mcnemar_large_counts_use_log_space_and_stay_exact():
    b, c = 2900, 3100  # m = 6000 is past the exact-integer limit
    m = b + c
    exact = 2 * sum(math.comb(m, i) for i in range(b + 1)) / (1 << m)
    assert mcnemar_exact(b, c) == pytest.approx(exact, rel=1e-9)
    assert 0 < mcnemar_exact(b, c) < 0.05


# --- paired difference, clustering, flips -------------------------------------------------------

def test_flip_table_counts():
    items = items_from_flips(fixed=3, regressed=1, failing=2, passing=4)
    t = flip_table(items)
    assert (t.fixed, t.regressed, t.still_failing, t.still_passing) == (3, 1, 2, 4)
    assert t.n == 10 and t.discordant == 4


def test_paired_comparison_by_hand():
    # d = +1 x3, -1 x1, 0 x6: mean .2; sum (d - .2)^2 = 3*.64 + 1.44 + 6*.04 = 3.6
    # SE = sqrt(3.6 / (10 * 9)) = 0.2; interval .2 +- 1.96 * .2
    c = compare(items_from_flips(fixed=3, regressed=1, failing=2, passing=4))
    assert c.suite == "s" and c.n == 10
    assert c.base_acc == pytest.approx(0.5)
    assert c.adapter_acc == pytest.approx(0.7)
    assert c.diff == pytest.approx(0.2)
    assert c.diff_se == pytest.approx(0.2)
    assert c.diff_ci == pytest.approx((0.2 - Z * 0.2, 0.2 + Z * 0.2))
    assert c.base_ci == pytest.approx(wilson_interval(5, 10))
    assert c.p_value == pytest.approx(0.625)
    assert not c.clustered and c.n_clusters == 10
    assert not c.significant and c.label == "not significant"


def test_clustered_se_by_hand():
    # clusters A: d=[1,1,0], B: [1,0,0], C: [-1,0], D: [0,0]; mean .2
    # residual sums: A 1.4, B 0.4, C -1.4, D -0.4 -> sum of squares 4.24
    # Var = G/(G-1) * 4.24 / n^2 = 4/3 * 4.24 / 100
    diffs = [1, 1, 0, 1, 0, 0, -1, 0, 0, 0]
    clusters = ["A", "A", "A", "B", "B", "B", "C", "C", "D", "D"]
    se, g = clustered_se(diffs, clusters)
    assert g == 4
    assert se == pytest.approx(math.sqrt(4 / 3 * 4.24 / 100))


def test_compare_uses_clustered_interval_when_clusters_exist():
    # same four discordant items as above, arranged into the clusters of the hand example
    items = [
        ItemResult("1", "s", False, True, cluster="A"),
        ItemResult("2", "s", False, True, cluster="A"),
        ItemResult("3", "s", True, True, cluster="A"),
        ItemResult("4", "s", False, True, cluster="B"),
        ItemResult("5", "s", False, False, cluster="B"),
        ItemResult("6", "s", True, True, cluster="B"),
        ItemResult("7", "s", True, False, cluster="C"),
        ItemResult("8", "s", False, False, cluster="C"),
        ItemResult("9", "s", True, True, cluster="D"),
        ItemResult("10", "s", True, True, cluster="D"),
    ]
    c = compare(items)
    se = math.sqrt(4 / 3 * 4.24 / 100)
    assert c.clustered and c.n_clusters == 4
    assert c.diff_se == pytest.approx(se)
    assert c.diff_ci == pytest.approx((0.2 - Z * se, 0.2 + Z * se))
    assert c.diff_ci_unclustered == pytest.approx((0.2 - Z * 0.2, 0.2 + Z * 0.2))


def test_singleton_clusters_equal_the_plain_paired_se():
    diffs = [1, 0, 0, -1, 1, 1, 0, 1]
    se, g = clustered_se(diffs, list(range(len(diffs))))
    assert g == len(diffs)
    assert se == pytest.approx(paired_se(diffs))


def test_one_cluster_gives_no_usable_interval():
    items = items_from_flips(fixed=9, regressed=1, passing=20, clusters=["one"] * 30)
    c = compare(items)
    assert c.diff_ci == (-1.0, 1.0)
    assert not c.significant


def test_missing_cluster_ids_do_not_merge_with_named_clusters():
    items = [ItemResult("a", "s", False, True, cluster=None),
             ItemResult("b", "s", False, True, cluster=None),
             ItemResult("c", "s", True, True, cluster="x")]
    assert compare(items).n_clusters == 3


def test_significant_improvement_by_hand():
    # 9 fixed, 1 regressed, 20 unchanged: diff 8/30; p = 22/1024; interval excludes 0
    c = compare(items_from_flips(fixed=9, regressed=1, passing=20))
    ss = 9 * (1 - 8 / 30) ** 2 + (-1 - 8 / 30) ** 2 + 20 * (8 / 30) ** 2
    se = math.sqrt(ss / (30 * 29))
    assert c.diff == pytest.approx(8 / 30)
    assert c.diff_se == pytest.approx(se)
    assert c.diff_ci[0] == pytest.approx(8 / 30 - Z * se) and c.diff_ci[0] > 0
    assert c.p_value == pytest.approx(0.021484375)
    assert c.significant and c.label == "improved"


def test_significant_regression_is_labelled():
    c = compare(items_from_flips(fixed=1, regressed=9, passing=20))
    assert c.significant and c.label == "regressed" and c.diff < 0


def test_interval_excluding_zero_alone_is_not_significant():
    # all 5 items fixed: the interval collapses to [1, 1] but McNemar p = 0.0625
    c = compare(items_from_flips(fixed=5))
    assert c.diff_ci == (1.0, 1.0)
    assert c.p_value == pytest.approx(0.0625)
    assert not c.significant and c.label == "not significant"


def test_compare_by_groups_in_first_seen_order_and_skips_untagged():
    items = (items_from_flips(fixed=2, passing=1, suite="b")
             + items_from_flips(regressed=1, failing=1, suite="a"))
    rows = compare_by(items)
    assert [r.suite for r in rows] == ["b", "a"]
    assert rows[0].flips.fixed == 2 and rows[1].flips.regressed == 1
    assert compare_by(items, key="topic") == []


def test_compare_empty_raises_and_mixed_suites_are_named_all():
    with pytest.raises(ValueError):
        compare([])
    mixed = items_from_flips(fixed=1, suite="a") + items_from_flips(fixed=1, suite="b")
    assert compare(mixed).suite == "all"


def test_to_dict_has_every_table_column():
    d = compare(items_from_flips(fixed=3, regressed=1, failing=2, passing=4)).to_dict()
    for key in ("suite", "n", "base_acc", "base_ci", "adapter_acc", "adapter_ci", "diff",
                "diff_ci", "p_value", "flips", "significant", "label"):
        assert key in d
    assert d["flips"] == {"fixed": 3, "regressed": 1, "still_failing": 2, "still_passing": 4}


# --- records -----------------------------------------------------------------------------------

def test_jsonl_round_trip(tmp_path):
    records = [
        ItemResult("x:1", "transfer-near", False, True, topic="arithmetic", distance="near",
                   cluster="dlg-1", prompt="4 - 3 - 4 =", reference="-3",
                   base_reply="The answer is 5.", adapter_reply="The answer is -3.",
                   meta={"family": "chain_sum"}),
        ItemResult("x:2", "forgetting panel", True, True),
    ]
    path = write_jsonl(tmp_path / "run" / "items.jsonl", records)
    assert read_jsonl(path) == records
    assert len(path.read_text().splitlines()) == 2
    assert not list(path.parent.glob(".*.tmp"))


def test_jsonl_errors_name_the_line():
    good = ItemResult("a", "s", True, False).to_json()
    with pytest.raises(QConsoleError, match=r"f\.jsonl:3: missing required key 'suite'"):
        loads_jsonl(good + "\n\n" + '{"item_id": "b", "base_correct": true, '
                    '"adapter_correct": true}', source="f.jsonl")
    with pytest.raises(QConsoleError, match=r"f\.jsonl:1: not valid JSON"):
        loads_jsonl("{oops", source="f.jsonl")
    with pytest.raises(QConsoleError, match="must be true or false"):
        loads_jsonl('{"item_id": "b", "suite": "s", "base_correct": 1, "adapter_correct": true}')
    with pytest.raises(QConsoleError, match="'distance' must be one of"):
        loads_jsonl('{"item_id": "b", "suite": "s", "base_correct": true, '
                    '"adapter_correct": true, "distance": "medium"}')


def test_jsonl_ignores_unknown_keys():
    line = ('{"item_id": "b", "suite": "s", "base_correct": true, "adapter_correct": false, '
            '"future_field": 1}')
    assert loads_jsonl(line) == [ItemResult("b", "s", True, False)]
    assert dumps_jsonl([]) == ""


def test_binomial_upper_tail_matches_the_exact_sum_and_survives_thousands_of_items():
    from math import comb

    exact = sum(comb(80, i) * 0.5125 ** i * 0.4875 ** (80 - i) for i in range(45, 81))
    assert abs(binomial_upper_tail(45, 80, 0.5125) - exact) < 1e-12
    assert 0.0 < binomial_upper_tail(800, 1500, 0.5) < 0.01  # comb(1500, i) overflows a float
    assert binomial_upper_tail(0, 10, 0.3) == 1.0 and binomial_upper_tail(11, 10, 0.3) == 0.0
