"""Probe files (YAML / JSONL), their error messages, and the checkers on tricky replies."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from qconsole.errors import QConsoleError
from qconsole.evaluation.checkers import (
    Checker,
    extract_choice,
    extract_number,
    final_answer,
)
from qconsole.evaluation.probes import ProbeItem, load_probe_file
from qconsole.evaluation.readings import check, check_with

GOOD_YAML = """\
suite: truth-transfer
description: reasoning about truth after training on fairness
topic: truth
distance: far
items:
  - id: n1
    prompt: "4 - 3 - 4 = ?"
    checker: numeric
    answer: -3
    tolerance: 0.001
  - id: 007
    prompt: "Is a description a judgement? Answer yes or no."
    answer: no
  - prompt: "Name a prime above 10."
    pattern: "\\\\b(11|13|17|19)\\\\b"
    distance: near
  - prompt: "Which is a fruit? A) carrot B) apple"
    checker: choice
    choices: [carrot, apple]
    answer: apple
    cluster: fruit-template
    topic: food
  - prompt: "What is honesty?"
    judge: "A definition in the model's own words, not a quotation."
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_yaml_probe_file_loads_with_defaults(tmp_path):
    ps = load_probe_file(write(tmp_path, "truth.yaml", GOOD_YAML))
    assert ps.suite == "truth-transfer"
    assert ps.description.startswith("reasoning about truth")
    n1, yes_no, prime, fruit, honesty = ps.items
    assert n1.checker == Checker("numeric", answer="-3", tolerance=0.001)
    assert n1.topic == "truth" and n1.distance == "far"
    assert n1.source.endswith("truth.yaml:6")
    # YAML 1.1 would read these as a boolean and an integer; probes keep the text
    assert yes_no.id == "007" and yes_no.checker == Checker("exact", answer="no")
    assert prime.checker.kind == "regex" and prime.distance == "near"
    assert fruit.checker == Checker("choice", answer="B", choices=("carrot", "apple"))
    assert fruit.cluster == "fruit-template" and fruit.topic == "food"
    assert honesty.checker is None and honesty.judge.startswith("A definition")
    assert honesty.id.startswith("truth-transfer:")
    assert ps.items[2].reference == "\\b(11|13|17|19)\\b"


def test_checking_loaded_items(tmp_path):
    n1, yes_no, prime, fruit, honesty = load_probe_file(
        write(tmp_path, "t.yaml", GOOD_YAML)).items
    assert check(n1, "4 - 3 = 1, 1 - 4 = -3. The answer is -3.")
    assert not check(n1, "The answer is 3.")
    assert check(yes_no, "The answer is No.")
    assert check(prime, "13 is one.") and not check(prime, "113")
    assert check(fruit, "The answer is (B).") and not check(fruit, "A) carrot")
    with pytest.raises(QConsoleError, match="no automatic checker"):
        check(honesty, "Honesty is ...")


def test_explicit_suite_name_wins(tmp_path):
    ps = load_probe_file(write(tmp_path, "truth.yaml", GOOD_YAML), suite="renamed")
    assert ps.suite == "renamed" and ps.items[0].suite == "renamed"


def test_top_level_list_and_file_stem_suite(tmp_path):
    ps = load_probe_file(write(tmp_path, "near-set.yml", "- prompt: hi\n  answer: hello\n"))
    assert ps.suite == "near-set" and len(ps) == 1
    assert ps.items[0].checker == Checker("exact", answer="hello")


def test_jsonl_probe_file(tmp_path):
    lines = [
        {"id": "a", "prompt": "2+2?", "checker": "numeric", "answer": 4, "topic": "arith"},
        {},
        {"prompt": "Yes or no?", "checker": "regex", "pattern": "(?i)yes", "ignore_case": True},
    ]
    text = json.dumps(lines[0]) + "\n\n" + json.dumps(lines[2]) + "\n"
    ps = load_probe_file(write(tmp_path, "set.jsonl", text))
    assert ps.suite == "set"
    assert [i.id for i in ps.items][0] == "a"
    assert ps.items[0].checker.answer == "4"
    assert ps.items[1].source.endswith("set.jsonl:3")
    assert ps.items[1].checker.ignore_case


def test_probe_item_round_trips_through_dict(tmp_path):
    ps = load_probe_file(write(tmp_path, "t.yaml", GOOD_YAML))
    for item in ps.items:
        assert ProbeItem.from_dict(json.loads(json.dumps(item.to_dict()))) == item


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.yaml", "items:\n  - answer: x\n", r"a\.yaml:2: item has no 'prompt'"),
        ("a.yaml", "items:\n  - prompt: p\n    anwser: x\n",
         r"a\.yaml:3: unknown key 'anwser'; allowed: id, prompt"),
        ("a.yaml", "items:\n  - prompt: p\n    pattern: '(unclosed'\n",
         r"a\.yaml:3: 'pattern' is not a valid regular expression"),
        ("a.yaml", "- prompt: p\n  checker: numeric\n  answer: three\n",
         r"a\.yaml:3: 'answer' 'three' is not a number"),
        ("a.yaml", "- prompt: p\n  checker: numeric\n  answer: 3\n  tolerance: -1\n",
         r"a\.yaml:4: 'tolerance' must be a number >= 0"),
        ("a.yaml", "- prompt: p\n  answer: x\n  tolerance: 1\n",
         r"a\.yaml:3: 'tolerance' does not apply to the exact checker"),
        ("a.yaml", "- prompt: p\n  checker: choice\n  choices: [x, y]\n  answer: C\n",
         r"a\.yaml:4: 'answer' C is beyond the 2 choices"),
        ("a.yaml", "- prompt: p\n  checker: choice\n  choices: [x, y]\n  answer: zebra\n",
         r"a\.yaml:4: 'answer' 'zebra' is neither a letter nor one of the choices"),
        ("a.yaml", "- prompt: p\n  checker: fuzzy\n  answer: x\n",
         r"a\.yaml:2: unknown checker 'fuzzy'"),
        ("a.yaml", "- prompt: p\n  checker: gym\n  answer: x\n",
         r"a\.yaml:2: unknown checker 'gym'"),
        ("a.yaml", "- prompt: p\n", r"a\.yaml:1: item needs a reference"),
        ("a.yaml", "- prompt: p\n  answer: x\n  distance: medium\n",
         r"a\.yaml:3: 'distance' must be one of in-domain, near, far"),
        ("a.yaml", "- id: x\n  prompt: p\n  answer: a\n- id: x\n  prompt: q\n  answer: b\n",
         r"a\.yaml:4: duplicate id; first at .*a\.yaml:1"),
        ("a.yaml", "- prompt: same\n  answer: a\n- prompt: same\n  answer: b\n",
         r"a\.yaml:3: duplicate prompt \(give one of them an id\)"),
        ("a.yaml", "items:\n  - prompt: p\n   answer: x\n", r"a\.yaml:3: YAML syntax error"),
        ("a.yaml", "", r"a\.yaml: the file is empty"),
        ("a.yaml", "suite: s\n", r"a\.yaml: no 'items' list"),
        ("a.yaml", "items: []\n", r"a\.yaml: no items"),
        ("a.yaml", "suite: s\nitem:\n  - prompt: p\n", r"a\.yaml:2: unknown file-level key"),
        ("a.yaml", "- just a string\n", r"a\.yaml:1: each item must be a mapping"),
        ("a.yaml", "- prompt: ''\n  answer: x\n", r"a\.yaml:1: 'prompt' is empty"),
        ("a.yaml", "- prompt: p\n  answer: [1, 2]\n", r"a\.yaml:2: 'answer' must be text"),
        ("a.jsonl", '{"prompt": "p", "answer": "x"}\n{"prompt": "q", answer: 1}\n',
         r"a\.jsonl:2: not valid JSON"),
        ("a.jsonl", '["prompt"]\n', r"a\.jsonl:1: each line must be a JSON object"),
        ("a.jsonl", '{"prompt": "p", "answer": true}\n', r"a\.jsonl:1: 'answer' must be text"),
        ("a.txt", "x", r"probe files end in \.yaml"),
    ],
)
def test_probe_file_errors_name_file_and_line(tmp_path, name, text, message):
    with pytest.raises(QConsoleError, match=message):
        load_probe_file(write(tmp_path, name, text))


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(QConsoleError, match="cannot read probe file"):
        load_probe_file(tmp_path / "nope.yaml")


# --- checkers on tricky replies ----------------------------------------------------------------

def numeric(answer: str, tolerance: float = 1e-6) -> Checker:
    return Checker("numeric", answer=answer, tolerance=tolerance)


@pytest.mark.parametrize(
    ("reply", "answer", "ok"),
    [
        ("4 - 3 = 1, 1 - 4 = -3. The answer is -3.", "-3", True),
        ("4 - 3 = 1, 1 - 4 = -3. The answer is -3.", "3", False),
        ("The answer is 12 apples. Then she buys 5 more.", "12", True),  # first after the cue
        ("She has 4-3=1 left", "1", True),  # no cue: last number; "-3" is a subtraction here
        ("x = −3", "-3", True),  # unicode minus
        ("The answer is $1,234.50.", "1234.5", True),
        ("Half of it: 1/2", "0.5", True),
        ("The answer is 3.0", "3", True),
        ("Answer: 7\nUser: and 8?", "7", True),
        ("The answer is:\n\n**42**", "42", True),
        ("I don't know.", "0", False),
        ("The answer is 3.14159", "3.14", False),
    ],
)
def test_numeric_checker(reply, answer, ok):
    assert check_with(numeric(answer), reply) is ok


def test_numeric_tolerance():
    assert check_with(numeric("3.14", tolerance=0.01), "The answer is 3.14159")
    assert extract_number("The answer is -3.") == Fraction(-3)
    assert extract_number("nothing") is None


@pytest.mark.parametrize(
    ("reply", "answer", "ok"),
    [
        ("The answer is **Paris**.", "paris", True),
        ("Paris", "Paris", True),
        ("  paris.  ", "Paris", True),
        ("The capital of France is Paris.", "Paris", False),
        ("The answer is Paris. Lyon is also big.", "Paris", True),
        ('The answer is "New  York".', "new york", True),
        ("The answer is Parisian.", "Paris", False),
    ],
)
def test_exact_checker(reply, answer, ok):
    assert check_with(Checker("exact", answer=answer), reply) is ok


def test_regex_checker_case():
    c = Checker("regex", pattern=r"\bknave\b")
    assert check_with(c, "Bob is a knave.")
    assert not check_with(c, "Bob is a Knave.")
    assert check_with(Checker("regex", pattern=r"\bknave\b", ignore_case=True), "A KNAVE")


@pytest.mark.parametrize(
    ("reply", "choices", "letter"),
    [
        ("The answer is (B).", (), "B"),
        ("The answer is B because apples grow on trees.", (), "B"),
        ("B) apple", ("carrot", "apple"), "B"),
        ("(A)", ("carrot", "apple"), "A"),
        ("The answer is b.", ("carrot", "apple"), "B"),
        ("A carrot is a vegetable, so B.", ("carrot", "apple"), None),  # "A" is an article
        ("The answer is apple.", ("carrot", "apple"), "B"),
        ("I like carrot and apple.", ("carrot", "apple"), None),  # names both
        ("The answer is dark red.", ("red", "dark red"), "B"),
        ("The answer is: it is dark red.", ("red", "dark red"), "B"),  # "red" alone is no hit
        ("Dark red.", ("red", "dark red"), "B"),  # the whole reply is one option
        ("It is dark red.", ("red", "dark red"), None),  # no cue: mentioning is not choosing
        ("The answer is E.", ("x", "y"), None),  # beyond the options
        ("Paris", (), None),
    ],
)
def test_choice_extraction(reply, choices, letter):
    assert extract_choice(reply, choices) == letter


def test_final_answer_takes_the_last_cue():
    reply = "First I thought the answer is 4. Checking again, the answer is 5."
    assert final_answer(reply) == "5"
    assert final_answer("no cue here") is None
