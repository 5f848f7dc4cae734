"""The plan file: checked before anything slow starts, one clear line when wrong."""

from __future__ import annotations

import pytest

from qconsole.cycles.plan import PROBE_SEED_STRIDE, load_plan
from qconsole.errors import QConsoleError

PLAN = """\
name: tiny
cycles: [{topics: [sums]}, {topics: [logic]}]
topics:
  - name: sums
    probes: {gym: {preset: chain_sum, size: 6, seed: 10000}}
    corrections: {source: reference, max: 4}
    heldout: {preset: chain_sum, size: 8, seed: 1}
  - name: logic
    kind: reasoning_step
    probes: {gym: {preset: syllogism, size: 6, seed: 20000}}
    heldout: {preset: syllogism, size: 8, seed: 5000}
training: {preset: quick, seeds: [0], settings: {max_steps: 2}}
evaluation: {near: [{preset: chain_sum_2digit, size: 4, seed: 1}]}
"""


def write(tmp_path, text):
    p = tmp_path / "plan.yaml"
    p.write_text(text)
    return p


def test_a_plan_reads_and_each_cycle_gets_fresh_probe_seeds(tmp_path):
    plan = load_plan(write(tmp_path, PLAN))
    assert plan.cycle_topics() == [["sums"], ["logic"]]
    sums = plan.topic("sums")
    assert plan.probe_gym(sums, 2)["seed"] == 10000 + PROBE_SEED_STRIDE
    assert plan.heldout_gym(sums)["suite"] == "heldout-sums"
    assert [c["suite"] for c in plan.transfer_gym()] == ["near-chain_sum_2digit"]
    assert len(plan.hash) == 64
    assert load_plan(write(tmp_path, PLAN)).hash == plan.hash
    assert load_plan(write(tmp_path, PLAN.replace("max: 4", "max: 5"))).hash != plan.hash


def test_a_number_of_cycles_probes_every_topic_each_time(tmp_path):
    text = PLAN.replace("cycles: [{topics: [sums]}, {topics: [logic]}]", "cycles: 2")
    assert load_plan(write(tmp_path, text)).cycle_topics() == [["sums", "logic"]] * 2


@pytest.mark.parametrize("change, message", [
    (("max: 4", "max: 4, colour: red"), "topics.0.corrections.colour: unknown key"),
    (("[{topics: [sums]}, {topics: [logic]}]", "[{topics: [sums]}, {topics: [maths]}]"),
     "cycle 2 names unknown topic 'maths'"),
    (("size: 8, seed: 1}", "size: 8, seed: 10001}"), "overlap the held-out seeds"),
    (("preset: chain_sum, size: 6", "preset: nosuch, size: 6"), "unknown preset 'nosuch'"),
    (("seeds: [0]", "seeds: []"), "training.seeds"),
    (("max_steps: 2", "max_steps: 0"), "bad training settings"),
    (("name: tiny", "name: ../up"), "name: String should match"),
])
def test_a_bad_plan_is_one_line_naming_the_problem(tmp_path, change, message):
    with pytest.raises(QConsoleError) as exc:
        load_plan(write(tmp_path, PLAN.replace(*change)))
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_missing_plan_file_is_one_line(tmp_path):
    with pytest.raises(QConsoleError, match="no plan file"):
        load_plan(tmp_path / "nope.yaml")


def test_a_missing_replay_file_is_refused_before_anything_runs(tmp_path):
    text = PLAN.replace("training: {preset: quick,",
                        "training: {replay: gone.jsonl, preset: quick,")
    with pytest.raises(QConsoleError, match="training.replay: no file .*gone.jsonl"):
        load_plan(write(tmp_path, text))


def test_the_shipped_growth_plan_reads_and_its_replay_matches_its_prompts():
    """plans/growth.yaml is what scripts/growth_proof.sh runs: it must read, and its self-replay
    file must hold the base's reply to every prompt of plans/replay/ordinary_prompts.yaml, in
    order (scripts/make_self_replay.sh writes it; a prompt added without rerunning it is lost)."""
    from pathlib import Path

    import yaml

    from qconsole.training.examples import load_replay

    root = Path(__file__).resolve().parents[2] / "plans"
    plan = load_plan(root / "growth.yaml")
    training = plan.model.training
    replay = load_replay(plan.resolve(training.replay))
    prompts = [i["prompt"] for i in
               yaml.safe_load((root / "replay" / "ordinary_prompts.yaml").read_text())["items"]]
    assert [ex.user for ex in replay] == prompts
    assert all(ex.target.strip() for ex in replay)
    assert training.replay_max <= len(replay)
