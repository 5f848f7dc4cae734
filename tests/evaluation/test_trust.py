"""Numbers a person can trust: leakage on content, constant-answer baselines and the verdict
rule, rows with both readings and leaks left out, format bleed, few-shot exemplars."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from qconsole.evaluation.baselines import answer_set_kind, constant_baseline
from qconsole.evaluation.bleed import bleed_by_suite, format_bleed, shape_signature, shapes_of
from qconsole.evaluation.leakage import EvalText, LeakageCheck, find_leaks, tokens
from qconsole.evaluation.results import ItemResult
from qconsole.evaluation.rows import compare_suite, leak_lines, result_fields, suite_rows

STEM = "State the final answer to the following arithmetic problem: "
INSTRUCTION = 'End your reply with "The answer is X.", where X is your final answer.'


def _expr(rng: random.Random) -> str:
    terms = [str(rng.randrange(10)) for _ in range(rng.randint(2, 4))]
    out = terms[0]
    for t in terms[1:]:
        out += f" {rng.choice('+-')} {t}"
    return out


def _templated(seed: int, n: int, avoid: set[str] = frozenset()) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        e = _expr(rng)
        if e not in avoid and e not in out:
            out.append(e)
    return out


def _correction(i: int, expr: str) -> SimpleNamespace:
    return SimpleNamespace(id=f"s{i}/t1/left", user=f"{STEM}{expr} =\n\n{INSTRUCTION}",
                           rewrite=f"{expr} = ... The answer is 0.")


def test_leakage_on_a_templated_suite_finds_exactly_the_planted_repeats():
    trained = _templated(1, 30)
    fresh = _templated(2, 97, avoid=set(trained))
    planted = {"q010": trained[3], "q050": trained[17], "q090": trained[29]}
    exprs = list(fresh)
    for item_id, e in planted.items():
        exprs.insert(int(item_id[1:]), e)
    items = [EvalText(f"q{i:03d}", f"{STEM}{e} =") for i, e in enumerate(exprs)]
    corrections = [_correction(i, e) for i, e in enumerate(trained)]
    leaks = find_leaks(items, corrections)
    assert {leak.item_id for leak in leaks} == set(planted)
    by = {leak.item_id: leak for leak in leaks}
    assert by["q050"].correction == "s17/t1/left" and by["q050"].how == "content"
    # the same expression, given as the generator's identity, is found without the stem
    ident = [EvalText(i.item_id, f"Compute: {e}", identity=e) for i, e in zip(items, exprs,
                                                                                  strict=True)]
    assert {leak.item_id for leak in find_leaks(ident, corrections)} == set(planted)


def test_operators_are_content():
    assert tokens("4 - 3") != tokens("4 + 3")
    items = [EvalText(f"q{i}", f"{STEM}{e} =") for i, e in enumerate(
        ["4 + 3", "1 - 2", "5 + 5", "2 - 2", "9 + 1"])]
    assert find_leaks(items, [_correction(0, "4 - 3"), _correction(1, "8 + 8"),
                              _correction(2, "7 - 1"), _correction(3, "6 + 2")]) == []


def test_leakage_on_the_issue_setup_lists_the_ten_repeats():
    """50 chain_sum corrections (seed 10000) against the held-out suite (preset chain_sum,
    200 items, seed 1): exactly the items with a trained expression, compared by hand here."""
    rg = pytest.importorskip("reasoning_gym")
    from qconsole.evaluation.gym_suites import DEFAULT_INSTRUCTION, build_gym_suite, preset

    ds = rg.create_dataset("chain_sum", seed=10000, size=50, min_terms=2, max_terms=4,
                           min_digits=1, max_digits=1)
    corrections = [SimpleNamespace(id=f"c{i}", user=f"{ds[i]['question']}\n\n"
                                   f"{DEFAULT_INSTRUCTION}", rewrite=f"The answer is "
                                   f"{ds[i]['answer']}.") for i in range(50)]
    suite = build_gym_suite(preset("chain_sum", size=200, seed=1))
    trained = {ds[i]["metadata"]["expression"] for i in range(50)}
    expected = {i.id for i in suite.items if i.meta["expression"] in trained}
    records = [ItemResult(i.id, "chain_sum", False, False, prompt=i.prompt,
                          meta={"kind": "gym", "question": i.meta["question"],
                                "expression": i.meta["expression"]}) for i in suite.items]
    found = {leak.item_id for leak in LeakageCheck(corrections).leaks(records)}
    assert len(expected) == 10 and found == expected


def _yn(i: int, ref: str, base: str | None, adapter: str | None) -> ItemResult:
    return ItemResult(
        f"y{i}", "syllogism", base_correct=base == ref, adapter_correct=adapter == ref,
        reference=ref, meta={"scorer": "gym", "base": {"strict": False, "flexible": base == ref,
                                                      "answer": base},
                             "adapter": {"strict": adapter == ref, "flexible": adapter == ref,
                                         "answer": adapter}})


def _syllogism_like(adapter_yes: int) -> list[ItemResult]:
    """100 items, 77 "Yes"; the base's first yes/no right on 37 (says Yes on 30 of the Yes
    items and No on 7 of the No items); the adapter says "Yes" on its first ``adapter_yes``
    Yes-items and on some No items."""
    refs = ["Yes"] * 77 + ["No"] * 23
    out = []
    for i, ref in enumerate(refs):
        base = ("Yes" if i < 30 else None) if ref == "Yes" else ("No" if i < 84 else None)
        if ref == "Yes":
            adapter = "Yes" if i < adapter_yes else "No"
        else:
            adapter = "Yes" if i < 77 + (81 - adapter_yes) else "No"
        out.append(_yn(i, ref, base, adapter))
    return out


def test_constant_baseline_and_the_verdict_rule():
    items = _syllogism_like(adapter_yes=63)  # the issue's shape: says Yes 81 times, scores 68
    b = constant_baseline(items)
    assert (b.kind, b.answer, b.share, b.n) == ("yes/no", "yes", 0.77, 100)
    assert b.adapter_share == pytest.approx(0.81) and b.base_share == pytest.approx(0.30)
    row = compare_suite(items)
    assert row.base_acc == pytest.approx(0.37) and row.adapter_acc == pytest.approx(0.68)
    assert row.significant and row.diff > 0
    assert row.label == "not above baseline"  # +31 points, yet worse than always "Yes"
    assert row.baseline == pytest.approx(0.77)
    assert row.strict.base_acc == 0.0 and row.format_gap == pytest.approx(
        row.strict.diff - row.diff)
    fields = result_fields(row)
    assert fields["baseline"]["share"] == 0.77 and fields["flexible"]["label"] == row.label
    assert fields["strict"]["acc,base"] == 0.0

    good = _syllogism_like(adapter_yes=77)  # every Yes item right, 4 No items wrong: 96%
    assert compare_suite(good).adapter_acc == pytest.approx(0.96)
    assert compare_suite(good).label == "improved"


def _rec(i: int, scorer: str, ref: str | None) -> ItemResult:
    return ItemResult(f"i{i}", "s", False, False, reference=ref, meta={"scorer": scorer})


def test_closed_answer_sets():
    assert answer_set_kind([_rec(0, "choice", "A"), _rec(1, "choice", "C")]) == "choice"
    assert answer_set_kind([_rec(0, "boolean", "yes"), _rec(1, "exact", "no")]) == "yes/no"
    assert answer_set_kind([_rec(i, "numeric", str(i % 8)) for i in range(20)]) == (
        "integer range")
    assert answer_set_kind([_rec(0, "numeric", "-15"), _rec(1, "numeric", "30")]) is None
    assert answer_set_kind([_rec(0, "exact", "Paris"), _rec(1, "exact", "no")]) is None
    assert answer_set_kind([_rec(0, "numeric", "2.5")]) is None
    # a generated family's relation words are a closed set; a handful of distinct words is not
    words = ["wife", "Son", "mother", "wife", "husband", "son.", "wife", "son"]
    assert answer_set_kind([_rec(i, "gym", w) for i, w in enumerate(words)]) == "word"
    assert answer_set_kind([_rec(i, "gym", w) for i, w in enumerate(["wife", "son", "aunt"])]
                           ) is None
    assert answer_set_kind([_rec(i, "exact", w) for i, w in enumerate(words)]) is None
    b = constant_baseline([_rec(i, "gym", w) for i, w in enumerate(words)])
    assert (b.kind, b.answer, b.share) == ("word", "wife", 3 / 8)
    b = constant_baseline([_rec(0, "choice", "A"), _rec(1, "choice", "B"),
                           _rec(2, "choice", "B"), _rec(3, "choice", "(b)")])
    assert (b.answer, b.share, b.base_share) == ("B", 0.75, None)


def test_leaked_items_are_left_out_and_listed():
    rows = []
    for i in range(20):
        leak = {"leak": "s1/t1/left"} if i < 3 else {}
        rows.append(ItemResult(f"q{i}", "chain_sum", base_correct=False,
                               adapter_correct=i < 3 or i % 2 == 0, meta=leak))
    (row,) = suite_rows(rows)
    assert row.n == 17 and row.details["leaked_out"] == 3
    assert row.adapter_acc == pytest.approx(8 / 17)  # q4, q6, ..., q18
    (line,) = leak_lines(rows)
    assert "3 item(s) of chain_sum" in line and "adapter 3/3" in line and "q0, q1, q2" in line
    assert suite_rows([r for r in rows if r.meta]) == []  # all leaked: no row, only the line


def test_format_bleed():
    sig = shape_signature(["4 - 3 = 1, 1 - 4 = -3. The answer is -3.",
                           "2 + 2 = 4. The answer is 4.", "9 - 9 = 0. The answer is 0."])
    assert sig == ("equation", "arithmetic", "answer cue", "numeric answer")
    assert shapes_of("2 = 2. The number of legs is 2.") == {"equation"}
    assert shapes_of("Yes, the Sun is a star.") == {"yes/no opening"}
    records = [
        ItemResult("a", "general_qa", False, False, base_reply="Yes, it is.",
                   adapter_reply="2 = 2. The number of ... is 2.", meta={"panel": True}),
        ItemResult("b", "general_qa", True, False, base_reply="B) apple",
                   adapter_reply="B) apple", meta={"panel": True}),
    ]
    bleed = format_bleed(records, sig)
    assert (bleed.n, bleed.base, bleed.adapter) == (2, 0.0, 0.5)
    assert bleed.per_feature["equation"] == (0.0, 0.5)
    assert "50% of the adapter's replies" in bleed.describe()
    assert format_bleed(records, ()) is None
    # a prompt that asks for the cue asks for the cue, not for a number: only that one counts
    asked = ItemResult("s", "syllogism", False, False, base_reply="Yes. The answer is Yes.",
                       adapter_reply="No, the answer is 0.",
                       meta={"kind": "gym", "question": 'Does it follow? End your reply with '
                             '"The answer is X."'})
    (b,) = bleed_by_suite([asked], sig).values()
    assert (b.base, b.adapter) == (0.0, 1.0) and b.per_feature["answer cue"] == (0.0, 0.0)
    assert b.per_feature["numeric answer"] == (0.0, 1.0)


def test_gym_fewshot_exemplars_come_from_a_disjoint_seed():
    pytest.importorskip("reasoning_gym")
    from qconsole.evaluation.gym_suites import FEWSHOT_SEED_OFFSET, build_gym_suite, preset
    from qconsole.evaluation.suites import SuiteSpec, probe_set_items
    from qconsole.prompts import TranscriptTemplate

    suite = build_gym_suite(preset("chain_sum", size=20, seed=7), exemplars=3)
    assert len(suite.exemplars) == 3 and suite.meta["fewshot_seed"] == 7 + FEWSHOT_SEED_OFFSET
    questions = {i.meta["question"] for i in suite.items}
    for prompt, reply in suite.exemplars:
        assert prompt.split("\n\n")[0] not in questions
        assert reply.endswith(".") and "The answer is" in reply and "=" in reply
    template = TranscriptTemplate()
    spec = SuiteSpec(name="chain_sum", kind="gym", gym={"preset": "chain_sum"}, num_fewshot=3)
    items, _ = probe_set_items(suite, lambda ms: template.render(ms), spec=spec)
    first = items[0].prompt
    assert first.count("The answer is") == 2 * 3 + 1  # 3 shots (instruction, reply), the item
    assert first.index(suite.exemplars[0][1]) < first.index(items[0].user_text)
    with pytest.raises(Exception, match="few-shot exemplars"):
        probe_set_items(suite, lambda ms: template.render(ms),
                        spec=SuiteSpec(name="x", kind="gym", gym={"preset": "chain_sum"},
                                       num_fewshot=4))


def test_probe_file_exemplars(tmp_path):
    from qconsole.errors import QConsoleError
    from qconsole.evaluation.probes import load_probe_file

    path = tmp_path / "p.yaml"
    path.write_text("exemplars:\n  - {prompt: 'Is ice cold?', reply: 'Yes.'}\n"
                    "items:\n  - {prompt: 'Is fire cold?', checker: boolean, answer: 'no'}\n",
                    encoding="utf-8")
    assert load_probe_file(path).exemplars == (("Is ice cold?", "Yes."),)
    path.write_text("exemplars: [oops]\nitems:\n  - {prompt: p, answer: x}\n", encoding="utf-8")
    with pytest.raises(QConsoleError, match=r"p\.yaml:1: 'exemplars' must be a list"):
        load_probe_file(path)


def test_logic_presets_and_the_generated_panel():
    pytest.importorskip("reasoning_gym")
    from qconsole.evaluation.gym_suites import PRESET_NOTES, PRESETS, build_gym_suite, preset
    from qconsole.evaluation.panel import DEFAULT_PANEL, GENERATED_PANEL
    from qconsole.evaluation.probes import load_probe_file

    for name in ("syllogism", "propositional_logic", "knights_knaves", "knights_knaves_3"):
        assert name in PRESETS and name in PRESET_NOTES
    syl = build_gym_suite(preset("syllogism", size=100, seed=5000))
    assert sum(i.checker.answer == "Yes" for i in syl.items) == 74  # as PRESET_NOTES says
    kk3 = build_gym_suite(preset("knights_knaves_3", size=2, seed=1))
    assert kk3.items[0].checker.answer.count(" is a") == 3
    assert "general_qa" in DEFAULT_PANEL
    general = load_probe_file(GENERATED_PANEL["general_qa"])
    kinds = [i.checker.kind for i in general.items]
    assert kinds.count("boolean") == 16 and kinds.count("choice") == 16
    assert sum(i.checker.answer == "yes" for i in general.items if i.checker.kind == "boolean") == 8
    assert all(len(i.checker.choices) == 3 for i in general.items if i.checker.kind == "choice")


def test_the_gsm8k_slice_reads_the_real_data_file(benchmark_data, tmp_path):
    from qconsole.errors import QConsoleError
    from qconsole.evaluation.benchmark_slice import INSTRUCTION, load_slice, slice_file
    from qconsole.evaluation.panel import DEFAULT_PANEL, SLICE_SIZE, generated_panel_suite
    from qconsole.evaluation.readings import read

    assert "gsm8k_slice" in DEFAULT_PANEL
    spec = generated_panel_suite("gsm8k_slice")
    assert (spec.kind, spec.task, spec.limit, spec.panel) == ("probes", "gsm8k", SLICE_SIZE, True)
    path, where = slice_file("gsm8k", benchmark_data, use_package=False)
    assert path == benchmark_data / "gsm8k_test.jsonl" and where.startswith("gsm8k: local")
    got = load_slice(path, suite="gsm8k_slice", size=3)
    # the first three GSM8K test items, answers as after "####" (hand-checked in the file)
    assert [i.checker.answer for i in got.items] == ["18", "3", "70000"]
    assert [i.id for i in got.items] == ["gsm8k:0", "gsm8k:1", "gsm8k:2"]
    first = got.items[0]
    assert first.prompt.startswith("Janet\u2019s ducks lay 16 eggs") and first.prompt.endswith(
        INSTRUCTION)
    assert first.checker.worked
    reading = read(first.checker, "16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18 a day.")
    assert (reading.strict, reading.flexible, reading.answer) == (False, True, "18")

    missing, why = slice_file("gsm8k", tmp_path, use_package=False)  # no data: skipped, why
    assert missing is None and "no local file" in why and "hub is not used" in why
    assert slice_file("hellaswag", benchmark_data)[0] is None
    bad = tmp_path / "gsm8k_test.jsonl"
    bad.write_text('{"question": "q"}\n', encoding="utf-8")
    with pytest.raises(QConsoleError, match=r"gsm8k_test.jsonl:1: a GSM8K line needs"):
        load_slice(bad, suite="s", size=2)
