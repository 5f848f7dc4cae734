"""User-written probe sets: the near- and far-transfer items a person writes as YAML or JSONL.

Why files and not code: "trained on fairness, test truth" is a question the person asks, so the
test must be something they can write and edit. Every mistake in such a file is reported as
``file:line: what is wrong`` (a ``QConsoleError``), because a silently skipped item would bias a
suite without anyone noticing.

YAML (``.yaml``/``.yml``; ``.json`` is read the same way) is either a list of items or a mapping
with file-level defaults and ``items``::

    suite: truth-transfer          # default: the file name without extension
    description: reasoning about truth after training on fairness
    topic: truth                   # default for every item
    distance: far                  # in-domain | near | far
    judge: "Is the reply a judgement rather than a quotation?"   # default rubric
    items:
      - id: t1                     # optional; default <suite>:<hash of the prompt>
        prompt: "4 - 3 - 4 = ?"
        checker: numeric           # exact | numeric | regex | choice
        answer: -3
        tolerance: 0.001           # numeric only, absolute, default 1e-6
      - prompt: "Is a description a judgement? Answer yes or no."
        answer: "no"               # checker defaults to exact when only answer is given
      - prompt: "Is 7 prime?"
        checker: boolean           # yes/no (true/false read as yes/no)
        answer: "yes"
      - prompt: "Name a prime above 10."
        pattern: "\\b(11|13|17|19|23)\\b"   # checker defaults to regex; ignore_case: true
      - prompt: "Which is a fruit? A) carrot B) apple"
        checker: choice
        choices: [carrot, apple]   # option texts in letter order; default: the prompt's own
                                   # "A) ..." / "A. ..." options
        answer: B                  # a letter, or one of the option texts
        cluster: fruit-template    # items sharing a cluster are not independent
      - prompt: "What is honesty?"
        judge: "A definition, not a quotation."   # judge-only: stored, not checked here

Few-shot: a YAML file may add ``exemplars:``, a list of ``{prompt, reply}`` worked items; a
suite run with ``num_fewshot: k`` shows the first k as earlier turns before every item.

JSONL (``.jsonl``): one item object per line, the same item keys; blank lines are skipped.

YAML scalars are read as text (``answer: no`` stays "no", ``id: 007`` stays "007"), so YAML 1.1
type guessing cannot change an answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qconsole.errors import QConsoleError
from qconsole.evaluation.checkers import (
    DEFAULT_TOLERANCE,
    Checker,
    options_from_prompt,
    parse_number,
    yes_no,
)
from qconsole.evaluation.results import DISTANCES

ITEM_KEYS = ("id", "prompt", "topic", "distance", "cluster", "checker", "answer", "tolerance",
             "pattern", "ignore_case", "choices", "judge")
FILE_KEYS = ("suite", "description", "topic", "distance", "judge", "items", "exemplars")
USER_CHECKERS = ("exact", "numeric", "regex", "choice", "boolean")
_KIND_KEYS = {  # checker-specific keys each kind accepts
    "exact": {"answer"},
    "numeric": {"answer", "tolerance"},
    "regex": {"pattern", "ignore_case", "answer"},
    "choice": {"answer", "choices"},
    "boolean": {"answer"},
}


@dataclass(frozen=True)
class ProbeItem:
    """One evaluation item: a prompt, how to score the reply, and what it measures.

    ``checker`` is None for judge-only items. ``source`` is "file:line" for user probes.
    """

    id: str
    suite: str
    prompt: str
    checker: Checker | None
    topic: str | None = None
    distance: str | None = None
    cluster: str | None = None
    judge: str | None = None
    source: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> str | None:
        """A human-readable reference answer for tables and reports."""
        if self.checker is None:
            return None
        return self.checker.answer if self.checker.answer is not None else self.checker.pattern

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "suite": self.suite,
            "prompt": self.prompt,
            "checker": self.checker.to_dict() if self.checker else None,
            "topic": self.topic,
            "distance": self.distance,
            "cluster": self.cluster,
            "judge": self.judge,
            "source": self.source,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProbeItem:
        return cls(
            id=d["id"],
            suite=d["suite"],
            prompt=d["prompt"],
            checker=Checker.from_dict(d["checker"]) if d.get("checker") else None,
            topic=d.get("topic"),
            distance=d.get("distance"),
            cluster=d.get("cluster"),
            judge=d.get("judge"),
            source=d.get("source"),
            meta=dict(d.get("meta") or {}),
        )


@dataclass(frozen=True)
class ProbeSet:
    """A suite's items; ``exemplars`` are worked (prompt, reply) pairs for few-shot prompts,
    from the file's ``exemplars:`` or, for gym suites, generated from a disjoint seed."""

    suite: str
    items: tuple[ProbeItem, ...]
    source: str | None = None
    description: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    exemplars: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return len(self.items)


# ---------------------------------------------------------------------------------------------
# Loading


def load_probe_file(path: str | os.PathLike[str], *, suite: str | None = None) -> ProbeSet:
    """Load and validate one probe file (.yaml, .yml, .json or .jsonl)."""
    path = Path(path)
    from qconsole.safe_files import YAML_MAX_BYTES, read_text_bounded

    try:  # a regular file of bounded size (a FIFO or /dev/zero is refused, not read forever)
        text = read_text_bounded(path, max_bytes=YAML_MAX_BYTES, what="probe file")
    except OSError as e:
        raise QConsoleError(f"cannot read probe file {path}: {e.strerror or e}") from e
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        fmt = "jsonl"
    elif suffix in (".yaml", ".yml", ".json"):
        fmt = "yaml"
    else:
        raise QConsoleError(f"{path}: probe files end in .yaml, .yml, .json or .jsonl")
    return parse_probe_text(text, source=str(path), fmt=fmt, suite=suite,
                            default_suite=path.stem)


def parse_probe_text(
    text: str, *, source: str, fmt: str, suite: str | None = None, default_suite: str = "probes"
) -> ProbeSet:
    """Validate probe text; ``fmt`` is "yaml" or "jsonl".

    The suite name is ``suite`` when given, else the file's ``suite:`` key, else
    ``default_suite`` (the file name without extension when loading a file).
    """
    defaults: dict[str, Any]
    if fmt == "jsonl":
        raw_items, defaults, description = _read_jsonl(text, source), {}, None
    elif fmt == "yaml":
        raw_items, defaults, description = _read_yaml(text, source)
    else:
        raise ValueError(f"unknown probe format {fmt!r}")
    suite = suite or defaults.pop("suite", None) or default_suite
    defaults.pop("suite", None)
    exemplars = defaults.pop("exemplars", ())
    if not raw_items:
        raise QConsoleError(f"{source}: no items")
    items: list[ProbeItem] = []
    seen: dict[str, str] = {}
    for raw, lines in raw_items:
        item = _build_item(raw, lines, defaults, suite, source)
        if item.id in seen:
            what = "id" if "id" in raw else "prompt (give one of them an id)"
            raise QConsoleError(f"{item.source}: duplicate {what}; first at {seen[item.id]}")
        seen[item.id] = item.source or source
        items.append(item)
    return ProbeSet(suite=suite, items=tuple(items), source=source, description=description,
                    exemplars=exemplars)


def _exemplars(value: Any, source: str, line: int) -> tuple[tuple[str, str], ...]:
    """``exemplars:``: worked items (``prompt`` and ``reply``) a suite may show as few-shot
    turns before each item; they are never scored."""
    if not isinstance(value, list) or not all(
            isinstance(e, dict) and isinstance(e.get("prompt"), str) and isinstance(
                e.get("reply"), str) and set(e) <= {"prompt", "reply"} for e in value):
        raise QConsoleError(f"{source}:{line}: 'exemplars' must be a list of items with a "
                            "'prompt' and a 'reply'")
    return tuple((e["prompt"], e["reply"]) for e in value)


_Lines = dict[str, int]  # key -> line, plus "" -> the item's own line


def _read_jsonl(text: str, source: str) -> list[tuple[dict[str, Any], _Lines]]:
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise QConsoleError(
                f"{source}:{lineno}: not valid JSON: {e.msg} (column {e.colno})"
            ) from e
        if not isinstance(obj, dict):
            raise QConsoleError(f"{source}:{lineno}: each line must be a JSON object (an item)")
        out.append((obj, {"": lineno}))
    return out


def _read_yaml(
    text: str, source: str
) -> tuple[list[tuple[dict[str, Any], _Lines]], dict[str, Any], str | None]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(e, "problem", None) or str(e)
        raise QConsoleError(f"{where}: YAML syntax error: {problem}") from e
    if root is None:
        raise QConsoleError(f"{source}: the file is empty")
    from qconsole.safe_files import check_yaml_expansion

    check_yaml_expansion(root, source)  # before _plain walks it: no alias bombs
    defaults: dict[str, Any] = {}
    description = None
    if isinstance(root, yaml.MappingNode):
        items_node = None
        for key_node, value_node in root.value:
            key = _scalar_key(key_node, source)
            if key not in FILE_KEYS:
                raise QConsoleError(
                    f"{source}:{key_node.start_mark.line + 1}: unknown file-level key {key!r}; "
                    f"allowed: {', '.join(FILE_KEYS)}"
                )
            if key == "items":
                items_node = value_node
            elif key == "exemplars":
                defaults["exemplars"] = _exemplars(_plain(value_node, source), source,
                                                   key_node.start_mark.line + 1)
            else:
                value = _plain(value_node, source)
                if value is not None and not isinstance(value, str):
                    raise QConsoleError(
                        f"{source}:{key_node.start_mark.line + 1}: {key!r} must be text"
                    )
                if key == "description":
                    description = value
                else:
                    defaults[key] = value
        if items_node is None:
            raise QConsoleError(f"{source}: no 'items' list")
    else:
        items_node = root
    if not isinstance(items_node, yaml.SequenceNode):
        raise QConsoleError(
            f"{source}:{items_node.start_mark.line + 1}: 'items' must be a list of items"
        )
    out = []
    for node in items_node.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            raise QConsoleError(f"{source}:{line}: each item must be a mapping with a 'prompt'")
        raw: dict[str, Any] = {}
        lines: _Lines = {"": line}
        for key_node, value_node in node.value:
            key = _scalar_key(key_node, source)
            raw[key] = _plain(value_node, source)
            lines[key] = key_node.start_mark.line + 1
        out.append((raw, lines))
    return out, defaults, description


def _scalar_key(node: yaml.Node, source: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise QConsoleError(f"{source}:{node.start_mark.line + 1}: keys must be plain names")
    return node.value


def _plain(node: yaml.Node, source: str) -> Any:
    """Node -> Python with every scalar kept as its text (null stays None)."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:null" and node.style is None:
            return None
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_plain(n, source) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        return {_scalar_key(k, source): _plain(v, source) for k, v in node.value}
    raise QConsoleError(f"{source}:{node.start_mark.line + 1}: unsupported YAML value")


# ---------------------------------------------------------------------------------------------
# Validation


def _build_item(
    raw: dict[str, Any], lines: _Lines, defaults: dict[str, Any], suite: str, source: str
) -> ProbeItem:
    def fail(message: str, key: str = "") -> QConsoleError:
        return QConsoleError(f"{source}:{lines.get(key, lines[''])}: {message}")

    unknown = [k for k in raw if k not in ITEM_KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; allowed: {', '.join(ITEM_KEYS)}", unknown[0])

    def text(key: str, *, default: str | None = None) -> str | None:
        value = raw.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise fail(f"{key!r} must be text, got {value!r}", key)
        value = str(value)
        if not value.strip():
            raise fail(f"{key!r} is empty", key)
        return value

    prompt = text("prompt")
    if prompt is None:
        raise fail("item has no 'prompt'")
    distance = text("distance", default=defaults.get("distance"))
    if distance is not None and distance not in DISTANCES:
        raise fail(f"'distance' must be one of {', '.join(DISTANCES)}, got {distance!r}",
                   "distance")
    judge = text("judge", default=defaults.get("judge"))
    checker = _build_checker(raw, text, fail, has_judge=judge is not None, prompt=prompt)
    item_id = text("id") or f"{suite}:{hashlib.sha1(prompt.encode()).hexdigest()[:10]}"
    return ProbeItem(
        id=item_id,
        suite=suite,
        prompt=prompt,
        checker=checker,
        topic=text("topic", default=defaults.get("topic")),
        distance=distance,
        cluster=text("cluster"),
        judge=judge,
        source=f"{source}:{lines['']}",
    )


def _build_checker(
    raw: dict[str, Any],
    text: Callable[..., str | None],
    fail: Callable[..., QConsoleError],
    *,
    has_judge: bool,
    prompt: str = "",
) -> Checker | None:
    kind = text("checker")
    if kind is None:
        if "pattern" in raw:
            kind = "regex"
        elif "choices" in raw:
            kind = "choice"
        elif "answer" in raw:
            kind = "exact"
        elif has_judge:
            return None
        else:
            raise fail("item needs a reference: 'answer' (with a 'checker'), 'pattern', "
                       "or at least a 'judge' rubric")
    if kind not in USER_CHECKERS:
        raise fail(f"unknown checker {kind!r}; use one of {', '.join(USER_CHECKERS)}", "checker")
    for key in ("answer", "tolerance", "pattern", "ignore_case", "choices"):
        if key in raw and key not in _KIND_KEYS[kind]:
            raise fail(f"{key!r} does not apply to the {kind} checker", key)

    if kind == "exact":
        answer = text("answer")
        if answer is None:
            raise fail("the exact checker needs an 'answer'")
        return Checker("exact", answer=answer.strip())

    if kind == "boolean":
        answer = text("answer")
        if answer is None or yes_no(answer) is None:
            raise fail(f"the boolean checker needs 'answer' yes or no, got {answer!r}", "answer")
        return Checker("boolean", answer=yes_no(answer))

    if kind == "numeric":
        answer = text("answer")
        if answer is None:
            raise fail("the numeric checker needs an 'answer'")
        if parse_number(answer.replace(" ", "")) is None:
            raise fail(f"'answer' {answer!r} is not a number (e.g. -3, 2.5, 1/2, 1,000)", "answer")
        tolerance = raw.get("tolerance", DEFAULT_TOLERANCE)
        try:
            tol = float(tolerance)
        except (TypeError, ValueError):
            tol = -1.0
        if isinstance(tolerance, bool) or not tol >= 0:
            raise fail(f"'tolerance' must be a number >= 0, got {tolerance!r}", "tolerance")
        return Checker("numeric", answer=answer.replace(" ", ""), tolerance=tol)

    if kind == "regex":
        pattern = text("pattern")
        if pattern is None:
            raise fail("the regex checker needs a 'pattern'")
        ignore_case = _flag(raw.get("ignore_case", False))
        if ignore_case is None:
            raise fail("'ignore_case' must be true or false", "ignore_case")
        try:
            re.compile(pattern)
        except re.error as e:
            raise fail(f"'pattern' is not a valid regular expression: {e}", "pattern") from e
        return Checker("regex", pattern=pattern, ignore_case=ignore_case, answer=text("answer"))

    # choice
    choices_raw = raw.get("choices", [])
    if not isinstance(choices_raw, list) or any(
        isinstance(c, bool) or not isinstance(c, str | int | float) or not str(c).strip()
        for c in choices_raw
    ):
        raise fail("'choices' must be a list of option texts", "choices")
    choices = tuple(str(c).strip() for c in choices_raw)
    if not choices:  # the prompt's own options, where they fit the answer
        listed = options_from_prompt(prompt)
        a = (text("answer") or "").strip()
        fits = (re.fullmatch(r"\(?[A-Za-z]\)?", a) and ord(a.strip("()").upper()) - ord("A")
                < len(listed)) or a.casefold() in (c.casefold() for c in listed)
        choices = listed if fits else ()
    if choices and len(choices) < 2:
        raise fail("'choices' needs at least two options", "choices")
    if len(choices) > 26:
        raise fail("'choices' has more than 26 options", "choices")
    answer = text("answer")
    if answer is None:
        raise fail("the choice checker needs an 'answer' (a letter or an option text)")
    answer = answer.strip()
    letter = answer.strip("()").upper() if re.fullmatch(r"\(?[A-Za-z]\)?", answer) else None
    if letter is None:
        folded = [c.casefold() for c in choices]
        if answer.casefold() not in folded:
            raise fail(f"'answer' {answer!r} is neither a letter nor one of the choices", "answer")
        letter = chr(ord("A") + folded.index(answer.casefold()))
    elif choices and ord(letter) - ord("A") >= len(choices):
        raise fail(f"'answer' {letter} is beyond the {len(choices)} choices", "answer")
    return Checker("choice", answer=letter, choices=choices)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "false", "no",
                                                             "off"):
        return value.strip().lower() in ("true", "yes", "on")
    return None
