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
- ``gym``: delegates to reasoning-gym's own scorer (see ``gym_suites``); full credit only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

from qconsole.errors import QConsoleError

CHECKER_KINDS: tuple[str, ...] = ("exact", "numeric", "regex", "choice", "gym")
DEFAULT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Checker:
    """How one item is scored; only the fields of its ``kind`` are used."""

    kind: str
    answer: str | None = None  # exact / numeric (as text) / choice (a letter)
    tolerance: float = DEFAULT_TOLERANCE  # numeric
    pattern: str | None = None  # regex
    ignore_case: bool = False  # regex; gym (case-insensitive match of the oracle answer)
    choices: tuple[str, ...] = ()  # choice: option texts for A, B, C, ...
    gym: Mapping[str, Any] = field(default_factory=dict)  # family, seed, size, config, index

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
        )


class Checkable(Protocol):
    @property
    def checker(self) -> Checker | None: ...


# ---------------------------------------------------------------------------------------------
# Reading answers out of replies

_CUE = re.compile(r"\banswer\s*(?:is\b\s*:?|:)", re.IGNORECASE)
_WRAPPERS = "*_`\"'“”‘’$ \t"
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−+]?)(?P<int>\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)(?:/(?P<den>\d+)(?![\d.]))?"
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


def extract_number(reply: str) -> Fraction | None:
    """First number after the last answer cue, else the last number in the reply."""
    seg = cued_segment(reply)
    if seg is not None:
        for m in _NUMBER.finditer(seg):
            value = _to_fraction(m)
            if value is not None:
                return value
    found = [v for m in _NUMBER.finditer(reply) if (v := _to_fraction(m)) is not None]
    return found[-1] if found else None


_LETTER_AT_START = re.compile(r"^\(?([A-Z])(?:\)|[.:]|$|\s*$)")
_LETTER_IN_CUE = re.compile(r"^\(?([A-Z])\)?(?=$|[\s.,:;)\]])")


def extract_choice(reply: str, choices: tuple[str, ...] = ()) -> str | None:
    """The option letter a reply picks, or None when it picks none or several."""
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
    target = normalise_text(final_answer(reply) or text)
    options = [normalise_text(c) for c in choices]
    for i, opt in enumerate(options):
        if target == opt:
            return chr(ord("A") + i)
    if seg is None:
        return None  # without a cue, a reply that mentions an option has not chosen it
    hits = {i for i, opt in enumerate(options) if opt and re.search(
        r"(?<!\w)" + re.escape(opt) + r"(?!\w)", target)}
    # An option contained in another (e.g. "red" in "dark red") does not count on its own.
    hits = {i for i in hits if not any(j != i and options[i] in options[j] for j in hits)}
    return chr(ord("A") + hits.pop()) if len(hits) == 1 else None


# ---------------------------------------------------------------------------------------------
# Checking


def check_with(checker: Checker, reply: str) -> bool:
    """Score ``reply`` with ``checker``; True only for a full-credit answer."""
    kind = checker.kind
    if kind == "exact":
        assert checker.answer is not None
        want = normalise_text(checker.answer)
        cued = final_answer(reply)
        return (cued is not None and normalise_text(cued) == want) or normalise_text(reply) == want
    if kind == "numeric":
        assert checker.answer is not None
        want_num = parse_number(checker.answer)
        if want_num is None:
            raise QConsoleError(f"numeric checker has a non-numeric answer {checker.answer!r}")
        got = extract_number(reply)
        return got is not None and abs(float(got - want_num)) <= checker.tolerance
    if kind == "regex":
        assert checker.pattern is not None
        flags = re.IGNORECASE if checker.ignore_case else 0
        return re.search(checker.pattern, reply, flags) is not None
    if kind == "choice":
        assert checker.answer is not None
        return extract_choice(reply, checker.choices) == checker.answer
    if kind == "gym":
        from qconsole.evaluation.gym_suites import score_gym_reply

        return score_gym_reply(checker, reply)
    raise QConsoleError(f"unknown checker kind {kind!r}; use one of {', '.join(CHECKER_KINDS)}")


def check(item: Checkable, reply_text: str) -> bool:
    """Score a reply to a probe item. Items with only a judge rubric cannot be checked here."""
    if item.checker is None:
        raise QConsoleError(
            f"item {getattr(item, 'id', '?')!r} has no automatic checker (judge rubric only)"
        )
    return check_with(item.checker, reply_text)
