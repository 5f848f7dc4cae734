"""Growth from the ledger, against values computed by hand.

Three topics (A, B, C), 10 held-out items each, trained at cycles 1, 2 and 3. Adapter right
answers per cycle (base: A 2, B 3, C 1 every cycle):

    cycle 1 (trains A): A 8  B 5  C 1
    cycle 2 (trains B): A 6  B 9  C 2
    cycle 3 (trains C): A 7  B 8  C 6

ACC = (0.7 + 0.8 + 0.6) / 3 = 0.70
BWT = ((0.7 - 0.8) + (0.8 - 0.9)) / 2 = -0.10      (A from cycle 1, B from cycle 2)
FWT = ((0.5 - 0.3) + (0.2 - 0.1)) / 2 = +0.15      (B before cycle 2, C before cycle 3)
"""

from __future__ import annotations

import pytest

from qconsole.cycles.growth import growth_from_ledger
from qconsole.evaluation.store import RunStore, stored_cycles

BASE = {"A": 2, "B": 3, "C": 1}
ADAPTER = [{"A": 8, "B": 5, "C": 1}, {"A": 6, "B": 9, "C": 2}, {"A": 7, "B": 8, "C": 6}]


@pytest.fixture()
def ledger(isolated_workspace, held_out_items, ledger_with_cycles):
    evals = isolated_workspace / "evals"
    cycles = []
    for k, (topic, right) in enumerate(zip("ABC", ADAPTER, strict=True)):
        items = [r for t in "ABC"
                 for r in held_out_items(t, 10, BASE[t], right[t], adapter_unread=1)]
        cycles.append({"topics": [topic], "items": items, "corrections": 5 + k})
    return ledger_with_cycles(isolated_workspace, evals, cycles,
                              topics={"A": "reasoning_step", "B": "reasoning_step",
                                      "C": "judgement"})


def test_gem_metrics_from_the_ledger_match_the_hand_computed_values(ledger, isolated_workspace):
    g = growth_from_ledger(ledger, isolated_workspace / "evals")
    gem = g.gem()
    assert gem.acc == pytest.approx(0.70)
    assert gem.bwt == pytest.approx(-0.10)
    assert gem.fwt == pytest.approx(0.15)
    assert gem.bwt_topics == ("A", "B") and gem.fwt_topics == ("B", "C")
    m = g.matrix()
    assert m.topics == ("A", "B", "C")
    assert [m.r(k, "A") for k in (1, 2, 3)] == pytest.approx([0.8, 0.6, 0.7])
    assert m.b(2, "C") == pytest.approx(0.1)


def test_an_unrelated_later_run_of_an_adapter_does_not_replace_its_cycle(
        ledger, isolated_workspace, held_out_items, stored_run):
    """The bug of issue 11: a later run of cycle 1's adapter (here on other items only) made
    the matrix from 'latest run per adapter' lose cycle 1's own evaluation."""
    evals = isolated_workspace / "evals"
    stored_run(evals, "zz-later-probe-file", "hand-c1", held_out_items("probe-file", 10, 5, 5))
    by_latest, infos = stored_cycles(RunStore(evals).runs())
    old_c1 = next(c for c, i in zip(by_latest, infos, strict=True) if i.adapter == "hand-c1")
    assert not any(r.topic == "A" for r in old_c1.items)  # what the old way saw
    g = growth_from_ledger(ledger, evals)
    assert g.gem().acc == pytest.approx(0.70)
    assert g.cycles[0].run.run_id == "cycle-hand-c1"


def test_failure_kind_error_rates_are_counted_per_cycle(ledger, isolated_workspace):
    g = growth_from_ledger(ledger, isolated_workspace / "evals")
    rates = g.failure_rates(g.cycles[0])
    # cycle 1: wrong A 2, B 5, C 9 = 16 of 30; one unreadable per topic -> format 3
    assert rates["format"][:2] == (3, 30)
    assert rates["reasoning_step"][:2] == (1 + 4, 30)  # A 2-1, B 5-1
    assert rates["judgement"][:2] == (8, 30)  # C 9-1
    lo, hi = rates["format"][2]
    assert lo < 0.1 < hi


def test_the_growth_report_names_every_figure_and_writes_a_png(ledger, isolated_workspace,
                                                               tmp_path):
    from qconsole.cycles.report import write_growth_report

    g = growth_from_ledger(ledger, isolated_workspace / "evals")
    out = write_growth_report(g, tmp_path / "growth.md")
    text = out.read_text()
    assert "ACC (mean final accuracy) over A, B, C: 70.0%" in text
    assert "-10.0 pp" in text and "+15.0 pp" in text
    assert "MISSED: three training seeds: 1 run" in text
    png = (tmp_path / "growth_files" / "growth.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_targets_say_when_a_gain_only_reaches_the_constant_baseline_and_the_interval_width():
    """A syllogism adapter that answers "Yes" to everything gains 30 points over a base that
    gives no answer, and scores what always saying Yes scores: the target line must say so;
    and "within 1 point" must say whether the interval shows it or only the point estimate."""
    from types import SimpleNamespace as NS

    from qconsole.cycles.report import _Md, _targets

    g = NS(cycles=[NS(cycle=k, wall_seconds={}, train_seconds=None) for k in (1, 2, 3)])
    yes_only = NS(diff=0.35, p_value=1e-5, baseline=0.53, adapter_acc=0.53)
    real = NS(diff=0.40, p_value=1e-5, baseline=0.50, adapter_acc=0.70, n=80)
    # the growth proof's cycle 3: 45 of 80 right where always "No" scores 41 of 80
    mostly_no = NS(diff=0.362, p_value=2e-4, baseline=0.5125, adapter_acc=0.5625, n=80)
    def fc(lo: float, hi: float, d: float = 0.2) -> NS:
        return NS(diff_points=d, comparison=NS(diff_ci=(lo, hi), significant=lo > 0 or hi < 0))

    md = _Md()
    _targets(md, g, [(1, "syllogism", yes_only), (2, "other", real), (3, "syl", mostly_no)],
             [(1, fc(-0.004, 0.008), 1500), (2, fc(-0.02, 0.024), 1500),
              (3, fc(0.010, 0.049, 2.9), 1500), (4, fc(-0.035, -0.005, -2.0), 1500)], 1)
    text = "".join(md.parts)
    assert "baseline is 53.0%: the adapter does NOT beat it" in text
    assert "baseline is 50.0%: the adapter beats it (binomial p 0.0" in text
    assert "baseline is 51.2%: the adapter is above it but not significantly (binomial p " \
           "0.2" in text and "the gain is the answer format, not the skill" in text
    # forgetting is a drop: a rise meets the target and is named; a 2-point drop misses it
    assert "MET: cycle 1 forgetting within 1 point on a >= 1500-item log-likelihood panel: " \
           "measured +0.2 points [-0.4, +0.8] on 1500 items (the 95% interval rules out a " \
           "drop of more than 1 point)" in text
    assert "MET: cycle 2 forgetting" in text and "(the 95% interval reaches a drop of more " \
           "than 1 point: that much forgetting is not ruled out)" in text
    assert "MET: cycle 3 forgetting" in text and "the panel rose significantly" in text
    assert "MISSED: cycle 4 forgetting within 1 point" in text


def test_minutes_are_rounded_once_so_no_cell_reads_sixty_seconds():
    from qconsole.cycles.report import _minutes

    assert _minutes(1079.6) == "18 min 00 s"
    assert _minutes(813.4) == "13 min 33 s"
    assert _minutes(None) == "n/a"


def test_cycle_time_target_reads_the_one_seed_cycle_when_several_seeds_are_trained():
    """Three seeds triple the training; the 12-minute target is about one cycle as a single
    seed runs it, so the line gives that figure and the all-seeds time beside it."""
    from types import SimpleNamespace as NS

    from qconsole.cycles.report import _Md, _targets, one_seed_seconds

    walls = {"probe": 20.0, "check": 1.0, "corrections": 2.0, "train": 900.0,
             "evaluate": 700.0, "record": 1.0}
    three = NS(cycle=1, wall_seconds=walls, train_seconds=None, seed_runs=[(0, 0), (1, 0), (2, 0)],
               first_seed_seconds={"train": 240.0, "evaluate": 420.0})
    one = NS(cycle=2, wall_seconds=walls, train_seconds=None, seed_runs=[(0, 0)],
             first_seed_seconds={"train": 900.0, "evaluate": 700.0})
    assert one_seed_seconds(three) == 24.0 + 240.0 + 420.0
    assert one_seed_seconds(one) is None
    md = _Md()
    _targets(md, NS(cycles=[three, one]), [], [], 3)
    text = "".join(md.parts)
    assert "MET: cycle 1 in at most 12 minutes: measured 11 min 24 s with one seed " \
           "(27 min 04 s with all 3 seeds)" in text
    assert "MISSED: cycle 2 in at most 12 minutes: measured 27 min 04 s" in text


def test_cycle_time_target_reads_the_cycle_with_the_base_side_cached():
    """The base's answers are computed once per model (the first cycle's evaluation) and read
    from the cache afterwards; the target reads the cycle without that one-time pass, and the
    line shows both figures."""
    from types import SimpleNamespace as NS

    from qconsole.cycles.report import _Md, _targets, cached_cycle_seconds

    walls = {"probe": 20.0, "check": 1.0, "corrections": 2.0, "train": 900.0,
             "evaluate": 1100.0, "record": 1.0}
    first = NS(cycle=1, wall_seconds=walls, train_seconds=None, seed_runs=[(0, 0), (1, 0)],
               first_seed_seconds={"train": 240.0, "evaluate": 700.0, "base_pass": 300.0})
    later = NS(cycle=2, wall_seconds=walls, train_seconds=None, seed_runs=[(0, 0), (1, 0)],
               first_seed_seconds={"train": 240.0, "evaluate": 460.0, "base_pass": 0.0})
    old = NS(cycle=3, wall_seconds=walls, train_seconds=None, seed_runs=[(0, 0), (1, 0)],
             first_seed_seconds={"train": 240.0, "evaluate": 460.0})
    assert cached_cycle_seconds(first) == 24.0 + 240.0 + 700.0 - 300.0
    assert cached_cycle_seconds(later) == 24.0 + 240.0 + 460.0
    assert cached_cycle_seconds(old) is None  # a ledger from before per-side times
    md = _Md()
    _targets(md, NS(cycles=[first, later, old]), [], [], 3)
    text = "".join(md.parts)
    assert ("MET: cycle 1 in at most 12 minutes: measured 16 min 04 s with one seed "
            "(33 min 44 s with all 2 seeds); 11 min 04 s with the base side cached (the base's "
            "one-time pass took 5 min 00 s)") in text
    assert "MISSED: cycle 2 in at most 12 minutes: measured 12 min 04 s with one seed" in text
    assert "MISSED: cycle 3" in text and "base side cached" not in text.split("cycle 3")[1]


def test_base_pass_is_the_base_sides_share_that_missed_the_cache():
    from qconsole.cycles.train_eval import base_pass_seconds

    assert base_pass_seconds({"side_seconds": {"base": 300.0, "adapter": 310.0},
                              "base_cache": {"hits": 0, "misses": 900}}) == 300.0
    assert base_pass_seconds({"side_seconds": {"base": 12.0},
                              "base_cache": {"hits": 900, "misses": 0}}) == 0.0
    assert base_pass_seconds({"side_seconds": {"base": 100.0},
                              "base_cache": {"hits": 300, "misses": 100}}) == 25.0
    assert base_pass_seconds({"side_seconds": {"base": 80.0}, "base_cache": None}) == 80.0
    assert base_pass_seconds({}) == 0.0  # a run from before per-side times


def test_the_panel_table_shows_each_benchmark_beside_the_pooled_row():
    """The growth proof's panel rose 3 points pooled; the per-benchmark rows show it came from
    LAMBADA (the last word of a passage), not WinoGrande, so a reader can see where."""
    from types import SimpleNamespace as NS

    from qconsole.cycles.report import _forgetting, _Md
    from qconsole.evaluation.results import ItemResult

    def items(suite: str, flips_up: int, flips_down: int, same: int) -> list[ItemResult]:
        pairs = [(False, True)] * flips_up + [(True, False)] * flips_down + [(True, True)] * same
        return [ItemResult(f"{suite}:{n}", suite, b, a, meta={"panel": True, "kind": "benchmark"})
                for n, (b, a) in enumerate(pairs)]

    run = items("lambada_openai", 30, 5, 65) + items("winogrande", 10, 10, 80)
    c = NS(cycle=1, run=NS(items=lambda: run))
    g = NS(cycles=[c], summary=lambda _c: NS(bleed=None))
    md = _Md()
    out = _forgetting(md, g)
    text = "".join(md.parts)
    assert [(k, n) for k, _, n in out] == [(1, 200)]  # the target reads the pooled row only
    assert "| 1 | log-likelihood | lambada_openai, winogrande | 200 |" in text
    assert "| 1 | one benchmark | lambada_openai | 100 | 70.0% | 95.0% | +25.0 |" in text
    assert "| 1 | one benchmark | winogrande | 100 | 90.0% | 90.0% | +0.0 |" in text
