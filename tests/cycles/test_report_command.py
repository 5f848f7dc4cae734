"""``qconsole report`` takes its cycle matrix from the workspace's cycle ledger (each cycle's
own run), writes the growth report beside its own and prints the text chart."""

from __future__ import annotations

from qconsole.cli import main


def test_report_uses_the_ledger_and_writes_the_growth_report(isolated_workspace, tmp_path,
                                                             held_out_items, stored_run,
                                                             ledger_with_cycles, capsys):
    evals = isolated_workspace / "evals"
    ledger_with_cycles(isolated_workspace, evals, [
        {"topics": ["A"], "items": held_out_items("A", 10, 2, 8) + held_out_items("B", 10, 3, 5)},
        {"topics": ["B"], "items": held_out_items("A", 10, 2, 6) + held_out_items("B", 10, 3, 9)},
    ])
    # a later, unrelated run of cycle 1's adapter: it must not replace cycle 1
    stored_run(evals, "zz-later", "hand-c1", held_out_items("other", 10, 5, 5))
    out = tmp_path / "r.md"
    assert main(["report", "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert str(tmp_path / "r-growth.md") in printed.out
    assert "cycle 1 * ████████████████····  80.0%" in printed.err
    report = out.read_text()
    assert "From the cycle ledger" in report
    assert "FWT (forward transfer): +20.0 pp over B" in report  # 0.5 - 0.3
    growth = (tmp_path / "r-growth.md").read_text()
    assert "BWT (final minus just-trained" in growth and "-20.0 pp" in growth  # 0.6 - 0.8


def test_status_of_a_plan_never_run_says_so_and_writes_nothing(isolated_workspace, tmp_path,
                                                                capsys):
    plan = tmp_path / "p.yaml"
    plan.write_text("name: p\ncycles: [{topics: [a]}]\ntopics:\n  - name: a\n"
                    "    probes: {gym: {preset: chain_sum, size: 2, seed: 10000}}\n"
                    "    heldout: {preset: chain_sum, size: 2, seed: 1}\n")
    assert main(["cycle", str(plan), "--status"]) == 0
    assert "no cycle started yet" in capsys.readouterr().out
    assert not (isolated_workspace / "cycles").exists()


def test_a_plan_whose_panel_has_no_data_is_refused_before_anything_runs(
        isolated_workspace, tmp_path, monkeypatch, capsys):
    """A cycle never uses the hub: without local ARC data the evaluation would skip the panel
    with a warning and an hour-long growth proof would report no forgetting. One line, exit 2,
    no ledger, no probe."""
    empty = tmp_path / "no-benchmarks"
    empty.mkdir()
    monkeypatch.setenv("QCONSOLE_BENCHMARK_DATA", str(empty))
    plan = tmp_path / "p.yaml"
    plan.write_text("name: p\ncycles: [{topics: [a]}]\ntopics:\n  - name: a\n"
                    "    probes: {gym: {preset: chain_sum, size: 2, seed: 10000}}\n"
                    "    heldout: {preset: chain_sum, size: 2, seed: 1}\n"
                    "evaluation: {panel: [arc_challenge, general_qa]}\n")
    assert main(["cycle", str(plan)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "panel benchmark arc_challenge has no data" in err[0]
    assert str(empty) in err[0]
    assert not (isolated_workspace / "cycles").exists()
