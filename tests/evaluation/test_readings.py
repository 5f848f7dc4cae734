"""Both readings, strict and flexible, on hand-made replies of every checker kind."""

from __future__ import annotations

import pytest

from qconsole.evaluation.checkers import Checker, options_from_prompt, without_option_echo
from qconsole.evaluation.readings import by_reading, has_readings, read
from qconsole.evaluation.results import ItemResult


def both(checker: Checker, reply: str) -> tuple[bool, bool]:
    r = read(checker, reply)
    return r.strict, r.flexible


NUM5 = Checker("numeric", answer="5")


@pytest.mark.parametrize(
    ("reply", "strict", "flexible"),
    [
        ("6 + 0 - 1 = 6 - 1 = 5.", False, True),  # the base's shape: final number, first line
        ("4 - 1 = 5\nUser: what is 2 + 2?\nAssistant: 4", False, True),  # rambling after
        ("2 + 3 = 5. The answer is 5.", True, True),
        ("The answer is 5, as 2 + 3 = 5.", True, True),
        ("The answer is 4.\n5", False, False),  # the cue's line wins over later lines
        ("5", True, True),  # a bare answer is the format
        ("5 apples", False, True),
        ("Let me think.\n2 + 3 = 5", False, True),  # the first line holding a number
        ("2 + 3 = 6, so 5 is wrong", False, True),  # the final number of the line is read
        ("", False, False),
    ],
)
def test_numeric_readings(reply, strict, flexible):
    assert both(NUM5, reply) == (strict, flexible)


WORKED18 = Checker("numeric", answer="18", worked=True)


@pytest.mark.parametrize(
    ("reply", "strict", "flexible"),
    [  # a worked solution (the GSM8K slice): the reply's last number, as flexible-extract
        ("She has 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18 every day.", False, True),
        ("16 - 3 - 4 = 9\n9 * 2 = 18\nThe answer is 18.", True, True),
        ("9 * 2 = 18.\nThe answer is 20.", False, False),  # the cue commits to its answer
        ("The answer is $18 a day, from 9 eggs.", True, True),  # strict: the cue's first number
        ("9 * 2 = 18 dollars, from 9 eggs.", False, False),  # the last number is not the answer
        ("She eats 3 and bakes 4, so 16 eggs.", False, False),
        ("", False, False),
    ],
)
def test_worked_numeric_readings(reply, strict, flexible):
    assert both(WORKED18, reply) == (strict, flexible)


def test_worked_flag_round_trips_and_leaves_other_keys_alone():
    assert Checker.from_dict(WORKED18.to_dict()) == WORKED18
    assert "worked" not in Checker("numeric", answer="18").to_dict()  # cache keys unchanged


def test_numeric_reading_records_the_answers():
    r = read(Checker("numeric", answer="-3"), "4 - 3 = 1, 1 - 4 = -3")
    assert (r.strict, r.flexible, r.strict_answer, r.answer) == (False, True, None, "-3")
    r = read(Checker("numeric", answer="0.5"), "The answer is 1/2.")
    assert (r.strict, r.answer) == (True, "0.5")


YES = Checker("boolean", answer="yes")
NO = Checker("boolean", answer="no")


@pytest.mark.parametrize(
    ("checker", "reply", "strict", "flexible"),
    [
        (YES, "Yes, all parents are lawyers.", False, True),
        (YES, "The answer is Yes.", True, True),
        (YES, "yes", True, True),
        (YES, "True.", True, True),
        (NO, "(Answer Yes or No) No, it does not follow.", False, True),  # echo skipped
        (NO, "Yes or no? I think no.", False, True),
        (NO, "The answer is no. Yes, I am sure.", True, True),
        (NO, "Yes. The answer is No.", True, True),  # the cue decides strictly
        (YES, "No. The answer is yes.", True, True),
        (YES, "Yes. The answer is no.", False, False),  # the cue's answer, not an earlier word
        (YES, "I am not sure.", False, False),
        (YES, "Nobody knows.", False, False),  # "no" only as a whole word
        (NO, "1. All scientists are insects\n2. No insects are animals", False, False),  # a
        (NO, "All cats are chefs. No cats are teachers.", False, False),  # quantifier, no answer
        (YES, "The answer is:", False, False),  # a cue with nothing after it
        (YES, "The answer is yes, since it follows.", True, True),
    ],
)
def test_boolean_readings(checker, reply, strict, flexible):
    assert both(checker, reply) == (strict, flexible)


def test_exact_yes_no_answers_read_as_boolean():
    assert both(Checker("exact", answer="no"), "No, a description is not a judgement.") == (
        False, True)


@pytest.mark.parametrize(
    ("reply", "strict", "flexible"),
    [
        ("The answer is **Paris**.", True, True),
        ("Paris", True, True),
        ("Paris.\nUser: and Spain?", False, True),  # the answer line, then continuing
        ("Paris. It is a big city.", False, True),  # first sentence of the answer line
        ("The capital of France is Paris.", False, False),  # a sentence is not the answer
        ("Lyon", False, False),
    ],
)
def test_exact_readings(reply, strict, flexible):
    assert both(Checker("exact", answer="Paris"), reply) == (strict, flexible)


def test_regex_is_its_own_format():
    c = Checker("regex", pattern=r"\b(11|13|17|19)\b")
    assert both(c, "13 is prime.") == (True, True)
    assert both(c, "113") == (False, False)


VALID = Checker("choice", answer="A", choices=("valid", "invalid"))
YES_NO = Checker("choice", answer="B", choices=("Yes", "No"))


@pytest.mark.parametrize(
    ("checker", "reply", "strict", "flexible"),
    [
        # an echoed list of options is no answer (it used to read as "A")
        (YES_NO, "A) Yes\nB) No\nAnswer with the letter.", False, False),
        (Checker("choice", answer="A", choices=("Yes", "No")),
         "A) Yes\nB) No\nAnswer with the letter.", False, False),
        (YES_NO, "A) Yes\nB) No\nThe answer is B.", True, True),  # a cue after the echo counts
        (YES_NO, "B) No", True, True),  # one labelled line is an answer
        (YES_NO, "B", True, True),
        (YES_NO, "The answer is (B).", True, True),
        (YES_NO, "No, it does not follow.", False, True),  # the option's text, in words
        # option text in words: "valid" and not "invalid" ("valid" inside "invalid" is no hit)
        (VALID, "The argument is valid.", False, True),
        (VALID, "The argument is invalid.", False, False),
        (VALID, "It is either valid or invalid.", False, False),  # names both
        (VALID, "The answer is valid.", True, True),
        (VALID, "Valid", True, True),  # exactly one option text
        (VALID, "A. The premises support it.", True, True),
        (Checker("choice", answer="A", choices=("Mars", "the Sun")),
         "Which planet is the closest to the Sun?", False, False),  # a question is no choice
    ],
)
def test_choice_readings(checker, reply, strict, flexible):
    assert both(checker, reply) == (strict, flexible)


def test_option_echo_and_prompt_options():
    assert without_option_echo("A) Yes\nB) No\nSo?") == "So?"
    assert without_option_echo("B) No\nbecause") == "B) No\nbecause"
    assert options_from_prompt("Which is a fruit? A) carrot B) apple") == ("carrot", "apple")
    assert options_from_prompt("Q?\nA. red\nB. dark red\nAnswer:") == ("red", "dark red")
    assert options_from_prompt("Is a dog an animal?") == ()


def test_probe_choices_default_to_the_prompts_options(tmp_path):
    from qconsole.evaluation.probes import load_probe_file

    path = tmp_path / "mc.yaml"
    path.write_text("- prompt: \"Is it valid?\\nA) valid\\nB) invalid\\nAnswer with the letter.\"\n"
                    "  checker: choice\n  answer: A\n"
                    "- prompt: Is 7 prime?\n  checker: boolean\n  answer: 'yes'\n",
                    encoding="utf-8")
    mc, yn = load_probe_file(path).items
    assert mc.checker.choices == ("valid", "invalid")
    assert both(mc.checker, "The argument is valid.") == (False, True)
    assert yn.checker == Checker("boolean", answer="yes")


def test_gym_readings():
    pytest.importorskip("reasoning_gym")
    from qconsole.evaluation.gym_suites import _entry, build_gym_suite, preset

    item = build_gym_suite(preset("chain_sum", size=1, seed=42)).items[0]
    g = item.checker.gym
    answer = _entry(g["family"], g["seed"], g["size"], '{"max_digits": 1, "max_terms": 4, '
                    '"min_digits": 1, "min_terms": 2}', g["index"])["answer"]
    expr = item.meta["expression"]
    assert both(item.checker, f"{expr} = {answer}.\nUser: next") == (False, True)
    assert both(item.checker, f"{expr} = {answer}. The answer is {answer}.") == (True, True)
    assert both(item.checker, f"The answer is {int(answer) + 1}.") == (False, False)

    syl = build_gym_suite(preset("syllogism", size=30, seed=5000))
    yes = next(i for i in syl.items if i.checker.answer == "Yes")
    no = next(i for i in syl.items if i.checker.answer == "No")
    assert both(yes.checker, "Yes, because all parents are lawyers.") == (False, True)
    assert both(no.checker, "(Answer Yes or No)\nNo.") == (False, True)
    assert both(no.checker, "The answer is No.") == (True, True)

    kk = build_gym_suite(preset("knights_knaves", size=1, seed=3)).items[0]
    oracle = kk.checker.answer
    assert both(kk.checker, f"{oracle}\nLet me explain why.") == (False, True)  # first line
    assert both(kk.checker, f"The answer is {oracle}") == (True, True)
    assert both(kk.checker, "Nobody knows.") == (False, False)

    # a wrong word answer after the cue is read (what the failure kinds and the constant
    # baseline count), not taken for no answer at all
    fam = build_gym_suite(preset("family_relationships", size=1, seed=5000)).items[0]
    wrong = "husband" if fam.checker.answer.lower() != "husband" else "son"
    r = read(fam.checker, f"The answer is {wrong}.")
    assert (r.strict, r.flexible, r.answer) == (False, False, wrong)
    assert both(fam.checker, f"The answer is {fam.checker.answer}.") == (True, True)


def _record(base: dict | None, adapter: dict | None, base_ok=False, adapter_ok=False):
    meta = {} if base is None else {"base": base, "adapter": adapter}
    return ItemResult("i", "s", base_correct=base_ok, adapter_correct=adapter_ok, meta=meta)


def test_records_under_each_reading():
    r = _record({"strict": False, "flexible": True}, {"strict": True, "flexible": True},
                base_ok=True, adapter_ok=True)
    assert has_readings(r)
    (s,) = by_reading([r], "strict")
    assert (s.base_correct, s.adapter_correct) == (False, True)
    old = _record(None, None, base_ok=True)  # a benchmark, or a run stored before readings
    assert not has_readings(old)
    assert by_reading([old], "strict")[0].base_correct is True
    with pytest.raises(ValueError):
        by_reading([r], "lenient")
