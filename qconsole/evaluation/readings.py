"""Two readings of every generated answer: *strict* and *flexible*, like lm-eval's
``strict-match`` and ``flexible-extract``.

Why two: a base model rarely uses the cue an instruction asks for. Measured on Gemma 3 270M
base, 0 of 200 chain_sum replies ended with "The answer is X.", while the final number of the
first line was right in 37. Scored strictly only, an adapter that learns the cue looks like it
learned to reason (+53.5 points where the reasoning gain was about +35). Both readings are kept
per item; the headline is flexible, and the gap between the two differences (strict minus
flexible) is what was learned about the format.

*Strict* is the probe's own format: the answer after the cue ("The answer is X.", "Answer: X";
the last cue wins), or a reply that is the answer and nothing else.

*Flexible* is strict, or else a documented fallback per checker kind (so flexible >= strict on
every item):

- ``numeric``: the final number of the answer line (the cue's line, else the reply's first
  line that holds a number): ``6 + 0 - 1 = 6 - 1 = 5.`` reads 5. A ``worked`` checker (a
  worked solution over several lines, e.g. the GSM8K slice, qconsole.evaluation.benchmark_slice)
  reads the final number after the cue, else the reply's last number (lm-eval's
  flexible-extract).
- ``exact``: the answer line, cleaned (whole, or up to its first sentence end), equals the
  answer; a yes/no answer is read as ``boolean``.
- ``boolean``: the first yes/no (true/false) word after the last cue, else in the reply,
  skipping an echoed "Yes or No".
- ``choice``: a letter opening the answer line, or the one option text the answer line names
  ("The argument is valid."); an answer line that is a question chooses nothing. An echoed list
  of options (two or more ``A) ...`` lines) is no answer in either reading.
- ``regex``: the pattern is the probe's own format, so both readings are the same search.
- ``gym``: reasoning-gym's own scorer (full credit only) on the fallback answer, chosen by the
  shape of the oracle answer: a number, the final number of the answer line; yes/no, the first
  yes/no (after the cue when there is one); anything else, for a reply without a cue, the
  first or the last non-empty line (whole or up to its first sentence end), never every line
  (a list of guesses would get credit).

Scoring lives here, not in ``checkers`` (which only reads text), so ``checkers`` stays a leaf
and ``gym_suites`` can use it without an import circle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.checkers import (
    CHECKER_KINDS,
    Checkable,
    Checker,
    answer_line,
    clean_answer,
    cued_segment,
    extract_choice,
    extract_choice_flexible,
    final_answer,
    final_number,
    first_number,
    first_yes_no,
    normalise_text,
    parse_number,
    yes_no,
)
from qconsole.evaluation.gym_suites import gym_oracle, score_gym_answer
from qconsole.evaluation.results import ItemResult

READINGS: tuple[str, ...] = ("strict", "flexible")
HEADLINE = "flexible"
FORMAT_GAP_LABEL = "format learning (strict diff minus flexible diff)"


@dataclass(frozen=True)
class Reading:
    """Both readings of one reply: right or wrong under each, and the answer each read."""

    strict: bool
    flexible: bool
    strict_answer: str | None = None
    answer: str | None = None  # the flexible reading's answer (what the baselines count)

    def to_dict(self) -> dict[str, Any]:
        return {"strict": self.strict, "flexible": self.flexible,
                "strict_answer": self.strict_answer, "answer": self.answer}


def _both(strict_answer: str | None, strict_ok: bool, answer: str | None, ok: bool) -> Reading:
    if strict_ok:
        return Reading(True, True, strict_answer, strict_answer)
    return Reading(False, ok, strict_answer, answer if answer is not None else strict_answer)


def _num_text(value: Any) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def _numeric(checker: Checker, reply: str) -> Reading:
    assert checker.answer is not None
    want = parse_number(checker.answer)
    if want is None:
        raise QConsoleError(f"numeric checker has a non-numeric answer {checker.answer!r}")

    def ok(v: Any) -> bool:
        return v is not None and abs(float(v - want)) <= checker.tolerance

    seg = cued_segment(reply)
    if seg is not None:
        strict = first_number(seg)
    else:
        strict = parse_number(clean_answer(reply)) if reply.strip() else None
    found = worked_final(reply) if checker.worked else number_line_final(reply)
    flexible = found[0] if found else None
    return _both(None if strict is None else _num_text(strict), ok(strict),
                 None if flexible is None else _num_text(flexible), ok(flexible))


def _answer_text(reply: str) -> str:
    """Where a loose reading looks: after the last cue when there is one (the reply committed
    to that answer), else the whole reply."""
    seg = cued_segment(reply)
    return seg if seg is not None else reply


def number_line_final(reply: str) -> tuple[Any, str] | None:
    """The final number of the answer line: the cue's line, else the first line holding a
    number; (value, as written) or None."""
    seg = cued_segment(reply)
    if seg is not None and (found := final_number(seg)) is not None:
        return found
    for line in reply.split("\n"):
        if (found := final_number(line)) is not None:
            return found
    return None


def worked_final(reply: str) -> tuple[Any, str] | None:
    """The final number after the last cue, else the reply's last number."""
    seg = cued_segment(reply)
    if seg is not None and (found := final_number(seg)) is not None:
        return found
    return final_number(reply)


def _boolean(checker: Checker, reply: str) -> Reading:
    want = yes_no(checker.answer or "")
    if want is None:
        raise QConsoleError(f"boolean checker needs yes or no, got {checker.answer!r}")
    cued = final_answer(reply)
    if cued is not None:
        words = cued.split(None, 1)
        strict = yes_no(words[0].strip(",.;:!")) if words else None
    else:
        strict = yes_no(clean_answer(reply))
    flexible = first_yes_no(_answer_text(reply))
    return _both(strict, strict == want, flexible, flexible == want)


def _exact(checker: Checker, reply: str) -> Reading:
    assert checker.answer is not None
    if yes_no(checker.answer) is not None:
        return _boolean(checker, reply)
    want = normalise_text(checker.answer)
    cued = final_answer(reply)
    if cued is not None and normalise_text(cued) == want:
        return Reading(True, True, cued, cued)
    if normalise_text(reply) == want:
        return Reading(True, True, reply.strip(), reply.strip())
    line = answer_line(reply) or ""
    first = line
    for i, ch in enumerate(line):
        if ch in ".!?" and i > 0 and (i + 1 == len(line) or line[i + 1].isspace()):
            first = line[:i]
            break
    hit = next((c for c in (line, first) if normalise_text(c) == want), None)
    return Reading(False, hit is not None, cued, hit if hit is not None else clean_answer(line))


def _regex(checker: Checker, reply: str) -> Reading:
    import re

    assert checker.pattern is not None
    m = re.search(checker.pattern, reply, re.IGNORECASE if checker.ignore_case else 0)
    return Reading(m is not None, m is not None, m.group(0) if m else None,
                   m.group(0) if m else None)


def _choice(checker: Checker, reply: str) -> Reading:
    assert checker.answer is not None
    strict = extract_choice(reply, checker.choices)
    flexible = extract_choice_flexible(reply, checker.choices)
    return _both(strict, strict == checker.answer, flexible, flexible == checker.answer)


def _gym(checker: Checker, reply: str) -> Reading:
    seg = cued_segment(reply)
    lines = [ln.strip() for ln in reply.strip().split("\n") if ln.strip()]
    if seg is not None:
        strict_candidates = _sentences(seg)
    else:
        strict_candidates = _sentences(lines[0]) if len(lines) == 1 else []
    for c in strict_candidates:
        if score_gym_answer(checker, c):
            return Reading(True, True, c, c)
    strict_answer = strict_candidates[0] if strict_candidates else None
    oracle = gym_oracle(checker)
    candidates: list[str] = []
    if oracle is not None and parse_number(oracle.strip()) is not None:
        found = number_line_final(reply)
        candidates = [found[1]] if found else []
    elif oracle is not None and yes_no(oracle) is not None:
        yn = first_yes_no(_answer_text(reply))
        candidates = [yn.capitalize()] if yn else []
    elif seg is None:  # a cued answer is the answer; only an uncued reply is read loosely
        for line in dict.fromkeys(lines[:1] + lines[-1:]):
            candidates.extend(c for c in _sentences(line) if c not in candidates)
    for c in candidates:
        if score_gym_answer(checker, c):
            return Reading(False, True, strict_answer, c)
    # a wrong cued answer is still an answer (a reasoning error, not a format one)
    return Reading(False, False, strict_answer, candidates[0] if candidates else strict_answer)


def _sentences(text: str) -> list[str]:
    """``text`` cleaned, whole and cut at its first sentence end (distinct, non-empty)."""
    first = text
    for i, ch in enumerate(text):
        if ch in ".!?" and i > 0 and (i + 1 == len(text) or text[i + 1].isspace()):
            first = text[:i]
            break
    out: list[str] = []
    for c in (clean_answer(text), clean_answer(first)):
        if c and c not in out:
            out.append(c)
    return out


_KINDS = {"numeric": _numeric, "exact": _exact, "boolean": _boolean, "regex": _regex,
          "choice": _choice, "gym": _gym}


def read(checker: Checker, reply: str) -> Reading:
    """Both readings of ``reply`` under ``checker``."""
    fn = _KINDS.get(checker.kind)
    if fn is None:
        raise QConsoleError(f"unknown checker kind {checker.kind!r}; use one of "
                            f"{', '.join(CHECKER_KINDS)}")
    return fn(checker, reply)


def check_with(checker: Checker, reply: str) -> bool:
    """The headline (flexible) score of ``reply``: True only for a full-credit answer."""
    return read(checker, reply).flexible


def check(item: Checkable, reply_text: str) -> bool:
    """Score a reply to a probe item. Items with only a judge rubric cannot be checked here."""
    if item.checker is None:
        raise QConsoleError(
            f"item {getattr(item, 'id', '?')!r} has no automatic checker (judge rubric only)"
        )
    return check_with(item.checker, reply_text)


# -- per-item records under one reading ----------------------------------------------------------


def has_readings(record: ItemResult) -> bool:
    """True when both sides of a stored record carry both readings (generated suites)."""
    return all(isinstance(record.meta.get(side), Mapping) and "strict" in record.meta[side]
               for side in ("base", "adapter"))


def side_reading(record: ItemResult, side: str, reading: str) -> bool:
    """Right or wrong for one side under ``reading``; records without readings (log-likelihood
    benchmarks, runs stored before readings existed) have one reading, used for both."""
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}, not {reading!r}")
    if has_readings(record):
        return bool(record.meta[side][reading])
    return record.base_correct if side == "base" else record.adapter_correct


def by_reading(records: Iterable[ItemResult], reading: str) -> list[ItemResult]:
    """The records re-scored under ``reading`` (base_correct / adapter_correct replaced)."""
    return [replace(r, base_correct=side_reading(r, "base", reading),
                    adapter_correct=side_reading(r, "adapter", reading)) for r in records]
