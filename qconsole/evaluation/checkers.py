"""Automatic checkers: did a free-text reply get a probe item right?

Why rule-based and conservative: a base model rambles, restates the options, and continues
after its answer. Each checker first looks for the answer cue the probe prompts ask for ("The
answer is X." or "Answer: X", the last one wins) and only falls back to the whole reply when
there is none. A reply that cannot be read as an answer is wrong, never a guess in its favour.

Kinds (``Checker.kind``):
- ``exact``: normalised string equality (case, whitespace, surrounding quotes/markdown and a final
  period ignored) of the cued answer, or of the whole reply, with ``answer``.
- ``numeric``: the first number after the cue, else the last number in the reply, equals
  ``answer`` within ``tolerance`` (absolute). Handles "-3", "1,234", "3.50", "1/2", "−3".
- ``regex``: ``pattern`` must match somewhere in the reply (``re.search``), ``ignore_case``.
- ``choice``: the chosen option letter equals ``answer`` (a letter); read from the cue ("The
  answer is (B)"), from a reply that starts with a letter ("B) ..." / "(B)" / "B."), from a
  reply that is exactly one option text, or from the one option text (``choices``, in letter
  order) the cued answer names. A reply without a cue that merely mentions options picks none.
- ``boolean``: a yes/no answer (``answer`` is "yes" or "no"; "true"/"false" read as yes/no).
- ``gym``: delegates to reasoning-gym's own scorer (see ``gym_suites``); full credit only.

This module only reads answers out of text; scoring a reply (both readings, strict and flexible,
per kind) is ``qconsole.evaluation.readings``, which is also where the gym scorer is called, so
that this leaf module imports no other evaluation module (no import circle through gym_suites).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

CHECKER_KINDS: tuple[str, ...] = ("exact", "numeric", "regex", "choice", "boolean", "gym")
DEFAULT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Checker:
    """How one item is scored; only the fields of its ``kind`` are used."""

    kind: str
    answer: str | None = None  # exact / numeric (as text) / choice (a letter) / boolean (yes|no)
    tolerance: float = DEFAULT_TOLERANCE  # numeric
    pattern: str | None = None  # regex
    ignore_case: bool = False  # regex; gym (case-insensitive match of the oracle answer)
    choices: tuple[str, ...] = ()  # choice: option texts for A, B, C, ...
    gym: Mapping[str, Any] = field(default_factory=dict)  # family, seed, size, config, index
    worked: bool = False  # numeric: a worked solution, read flexibly by its last number

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        if self.answer is not None:
            d["answer"] = self.answer
        if self.kind == "numeric":
            d["tolerance"] = self.tolerance
        if self.pattern is not None:
            d["pattern"] = self.pattern
        if self.ignore_case:
            d["ignore_case"] = True
        if self.choices:
            d["choices"] = list(self.choices)
        if self.gym:
            d["gym"] = dict(self.gym)
        if self.worked:
            d["worked"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Checker:
        return cls(
            kind=d["kind"],
            answer=d.get("answer"),
            tolerance=float(d.get("tolerance", DEFAULT_TOLERANCE)),
            pattern=d.get("pattern"),
            ignore_case=bool(d.get("ignore_case", False)),
            choices=tuple(d.get("choices", ())),
            gym=dict(d.get("gym") or {}),
            worked=bool(d.get("worked", False)),
        )


class Checkable(Protocol):
    @property
    def checker(self) -> Checker | None: ...


# ---------------------------------------------------------------------------------------------
# Reading answers out of replies

_CUE = re.compile(r"\banswer\s*(?:is\b\s*:?|:)", re.IGNORECASE)
_WRAPPERS = "*_`\"'“”‘’$ \t"
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−+]?)(?P<int>\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)(?:/(?P<den>\d+)(?!\d|\.\d))?"
)


def cued_segment(reply: str) -> str | None:
    """The rest of the line after the last answer cue (or the next non-empty line), or None."""
    matches = list(_CUE.finditer(reply))
    if not matches:
        return None
    rest = reply[matches[-1].end():]
    for line in rest.split("\n"):
        if line.strip():
            return line.strip()
    return None


def clean_answer(text: str) -> str:
    """Strip markdown emphasis, quotes, ``\\boxed{}`` and a closing period from an answer."""
    s = text.strip()
    boxed = re.fullmatch(r"\\boxed\{(.*)\}\.?", s)
    if boxed:
        s = boxed.group(1)
    s = s.strip(_WRAPPERS)
    s = re.sub(r"[.!;]+$", "", s).strip(_WRAPPERS)
    return s


def final_answer(reply: str) -> str | None:
    """The cued answer up to its first sentence end, cleaned; None when the reply has no cue."""
    seg = cued_segment(reply)
    if seg is None:
        return None
    seg = re.split(r"(?<=\S)[.!?](?:\s|$)", seg, maxsplit=1)[0]
    return clean_answer(seg)


def normalise_text(text: str) -> str:
    s = clean_answer(text)
    s = re.sub(r"\s+", " ", s).casefold()
    return s.strip(" .,:;!?")


def parse_number(text: str) -> Fraction | None:
    """Parse one number written the way replies write it ("1,234", "-0.5", "3/4", "−3")."""
    m = _NUMBER.fullmatch(text.strip().rstrip("."))
    return _to_fraction(m) if m else None


def _to_fraction(m: re.Match[str]) -> Fraction | None:
    value = Fraction(m.group("int").replace(",", ""))
    if m.group("den") is not None:
        den = int(m.group("den"))
        if den == 0:
            return None
        value /= den
    return -value if m.group("sign") in ("-", "−") else value


def first_number(text: str) -> Fraction | None:
    """The first number in ``text``, or None."""
    for m in _NUMBER.finditer(text):
        value = _to_fraction(m)
        if value is not None:
            return value
    return None


def extract_number(reply: str) -> Fraction | None:
    """First number after the last answer cue, else the last number in the reply."""
    seg = cued_segment(reply)
    if seg is not None and (value := first_number(seg)) is not None:
        return value
    found = [v for m in _NUMBER.finditer(reply) if (v := _to_fraction(m)) is not None]
    return found[-1] if found else None


_LETTER_AT_START = re.compile(r"^\(?([A-Z])(?:\)|[.:]|$|\s*$)")
_LETTER_IN_CUE = re.compile(r"^\(?([A-Z])\)?(?=$|[\s.,:;)\]])")
_OPTION_LINE = re.compile(r"^\s*[*_`]*\(?([A-Z])[).:][*_`]*\s+\S")


def without_option_echo(reply: str) -> str:
    """The reply without an echoed list of options.

    A base model often repeats the options (``A) Yes`` / ``B) No``) instead of answering; two or
    more lines that start with an option label are such an echo and are removed, so that the
    first label of the list is not read as a choice. A single labelled line (``B) No``) stays:
    that is an answer.
    """
    lines = reply.split("\n")
    labelled = [i for i, line in enumerate(lines) if _OPTION_LINE.match(line)]
    if len(labelled) < 2:
        return reply
    drop = set(labelled)
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


def answer_line(reply: str) -> str | None:
    """The line that holds the answer: the text after the last cue, else the first non-empty
    line. Base models answer first and then ramble or continue as the user."""
    seg = cued_segment(reply)
    if seg is not None:
        return seg
    for line in reply.split("\n"):
        if line.strip():
            return line.strip()
    return None


def final_number(text: str) -> tuple[Fraction, str] | None:
    """The last number in ``text`` and how it was written, or None."""
    found = [(v, m.group(0)) for m in _NUMBER.finditer(text)
             if (v := _to_fraction(m)) is not None]
    return found[-1] if found else None


# A yes/no word is an answer when punctuation or the end follows it ("No.", "Yes, it is"); one
# followed by a word is a quantifier or part of a sentence ("No insects are animals").
_YES_NO = re.compile(r"(?<![\w'])(yes|no|true|false)(?=\s*(?:[,.;:!?)\]*_]|$))",
                     re.IGNORECASE)
_YES_NO_OFFER = re.compile(r"(?<!\w)(yes|no|true|false)\s*(?:/|or|,)\s*(yes|no|true|false)(?!\w)",
                           re.IGNORECASE)


def yes_no(word: str) -> str | None:
    """"yes"/"no" for yes, no, true, false (any case); None otherwise."""
    w = word.strip().casefold()
    return {"yes": "yes", "true": "yes", "no": "no", "false": "no"}.get(w)


def first_yes_no(text: str) -> str | None:
    """The first yes/no (or true/false) word of ``text``, skipping an echoed "Yes or No"."""
    text = _YES_NO_OFFER.sub(" ", text)
    m = _YES_NO.search(text)
    return yes_no(m.group(1)) if m else None


def _letter_of(text: str, choices: tuple[str, ...]) -> str | None:
    """The option whose text ``text`` names, exactly one, or None (an option contained in
    another, "red" in "dark red", does not count on its own)."""
    options = [normalise_text(c) for c in choices]
    target = normalise_text(text)
    for i, opt in enumerate(options):
        if target == opt:
            return chr(ord("A") + i)
    hits = {i for i, opt in enumerate(options) if opt and re.search(
        r"(?<!\w)" + re.escape(opt) + r"(?!\w)", target)}
    hits = {i for i in hits if not any(j != i and options[i] in options[j] for j in hits)}
    return chr(ord("A") + hits.pop()) if len(hits) == 1 else None


def extract_choice(reply: str, choices: tuple[str, ...] = ()) -> str | None:
    """The option letter a reply picks in the probe's own format (strict), or None.

    From the cue ("The answer is (B)", or the one option text the cued answer names), from a
    reply that opens with a letter ("B) ..." / "(B)" / "B."), or from a reply that is exactly
    one option text. An echoed list of options is no answer (:func:`without_option_echo`);
    without a cue, a reply that merely mentions an option has not chosen it.
    """
    reply = without_option_echo(reply)
    valid = {chr(ord("A") + i) for i in range(len(choices))} if choices else None
    seg = cued_segment(reply)
    text = clean_answer(seg) if seg is not None else reply.strip()
    pattern = _LETTER_IN_CUE if seg is not None else _LETTER_AT_START
    m = pattern.match(text.lstrip("*_` "))
    letter = m.group(1) if m else None
    if letter is None and seg is not None and re.fullmatch(r"\(?[a-z]\)?", text):
        letter = text.strip("()").upper()  # "The answer is b."
    if letter is not None and (valid is None or letter in valid):
        return letter
    if not choices:
        return None
    target = final_answer(reply) or text
    if seg is None:
        # without a cue only a reply that is exactly one option text has chosen it
        options = [normalise_text(c) for c in choices]
        t = normalise_text(target)
        return chr(ord("A") + options.index(t)) if t in options else None
    return _letter_of(target, choices)


def extract_choice_flexible(reply: str, choices: tuple[str, ...] = ()) -> str | None:
    """The strict choice, else the answer line read loosely: a letter that opens it, or the
    one option text it names ("The argument is valid."). Echoed option lists are no answer."""
    strict = extract_choice(reply, choices)
    if strict is not None:
        return strict
    line = answer_line(without_option_echo(reply))
    if line is None or line.rstrip("*_` ").endswith("?"):
        return None  # a question (often the prompt's own, echoed) chooses nothing
    valid = {chr(ord("A") + i) for i in range(len(choices))} if choices else None
    m = re.match(r"^\(?([A-Z])(?:\)|[.:,]|\s*$)", clean_answer(line).lstrip("*_` "))
    if m and (valid is None or m.group(1) in valid):
        return m.group(1)
    return _letter_of(line, choices) if choices else None


_PROMPT_OPTION = re.compile(r"(?:^|(?<=\s))\(?([A-Z])\)\s*|^\s*([A-Z])[.:]\s+", re.MULTILINE)


def options_from_prompt(prompt: str) -> tuple[str, ...]:
    """Option texts listed in a prompt as ``A) ...`` (one per line or inline) or ``A. ...``
    lines, in letter order from A; () when the prompt lists no such options."""
    marks = [(m.group(1) or m.group(2), m.start(), m.end())
             for m in _PROMPT_OPTION.finditer(prompt)]
    start = next((k for k, (letter, _, _) in enumerate(marks) if letter == "A"), None)
    if start is None:
        return ()
    chosen: list[tuple[int, int]] = []
    for letter, s, e in marks[start:]:
        if letter != chr(ord("A") + len(chosen)):
            break
        chosen.append((s, e))
    if len(chosen) < 2:
        return ()
    texts = []
    for k, (_, e) in enumerate(chosen):
        end = chosen[k + 1][0] if k + 1 < len(chosen) else len(prompt)
        text = prompt[e:end].split("\n", 1)[0].strip()
        if not text:
            return ()
        texts.append(text)
    return tuple(texts)
