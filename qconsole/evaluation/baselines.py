"""The constant-answer baseline of a suite with a closed answer set.

Why: on a yes/no or multiple-choice suite, always giving the most common answer scores that
answer's share without any reasoning. Measured: reasoning-gym syllogism (100 items, seed 5000)
is 77% "Yes"; an adapter that answered "Yes" 81 times scored 68% and was reported "+68 points,
improved" against a strict base of 0%. It is worse than always saying "Yes". So every suite with
a closed answer set shows its baseline beside base and adapter, and "improved" needs the adapter
above it (qconsole.evaluation.stats.PairedComparison.label).

A suite's answer set is closed when every item's reference is
- yes/no (a ``boolean`` checker, or ``exact``/``gym`` items whose answers are all yes or no),
- an option letter (``choice``), or
- a whole number, all within a range of at most ``MAX_INTEGER_SPAN`` + 1 values (``numeric`` or
  ``gym``), e.g. counting tasks, or
- one word out of at most ``MAX_WORDS``, each used about twice or more (``gym``, case ignored), e.g.
  family_relationships' "wife", "son", "mother": always "wife" scores 20% of its held-out items.
The baseline is the share of the majority reference answer (the best constant answer on these
items). Beside it: how often each side's answer (the flexible reading) *was* that answer, which
shows an adapter that learned to say "Yes". Log-likelihood benchmarks have no such reading here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from qconsole.evaluation.checkers import parse_number, yes_no
from qconsole.evaluation.results import ItemResult

MAX_INTEGER_SPAN = 20
MAX_WORDS = 20


@dataclass(frozen=True)
class Baseline:
    """Always answering ``answer`` scores ``share`` on these ``n`` items."""

    kind: str  # "yes/no", "choice", "integer range" or "word"
    answer: str
    share: float
    n: int
    base_share: float | None = None  # share of base replies that gave ``answer``
    adapter_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def describe(self) -> str:
        sides = ""
        if self.base_share is not None and self.adapter_share is not None:
            sides = (f"; base answered it {100 * self.base_share:.0f}%, adapter "
                     f"{100 * self.adapter_share:.0f}%")
        return (f"always {self.answer!r} scores {100 * self.share:.1f}% ({self.kind}, "
                f"n={self.n}){sides}")


def _key(kind: str, text: str | None) -> str | None:
    if text is None:
        return None
    if kind == "yes/no":
        return yes_no(text)
    if kind == "choice":
        t = text.strip().strip("()").upper()
        return t if len(t) == 1 and t.isalpha() else None
    if kind == "word":
        t = text.strip().strip(".!\"'").lower()
        return t if t.isalpha() else None
    value = parse_number(text.strip().replace(" ", ""))
    return str(value.numerator) if value is not None and value.denominator == 1 else None


def answer_set_kind(records: Iterable[ItemResult]) -> str | None:
    """"yes/no", "choice", "integer range", "word" or None (an open answer set)."""
    records = list(records)
    if not records:
        return None
    scorers = {str(r.meta.get("scorer")) for r in records}
    refs = [r.reference for r in records]
    if any(ref is None for ref in refs):
        return None
    if scorers == {"choice"}:
        return "choice"
    if scorers <= {"boolean", "exact", "gym"} and all(yes_no(ref or "") for ref in refs):
        return "yes/no"
    if scorers <= {"numeric", "gym"}:
        keys = [_key("integer range", ref) for ref in refs]
        if all(k is not None for k in keys):
            values = [int(k) for k in keys if k is not None]
            if max(values) - min(values) <= MAX_INTEGER_SPAN:
                return "integer range"
    if scorers == {"gym"}:  # a generated family's labels; a quiz's open answers are not a set
        words = [_key("word", ref) for ref in refs]
        if all(w is not None for w in words) and len(set(words)) <= min(
                MAX_WORDS, len(refs) // 2):
            return "word"
    return None


def constant_baseline(records: Iterable[ItemResult]) -> Baseline | None:
    """The majority answer's share on ``records`` (one suite), or None for an open set."""
    records = list(records)
    kind = answer_set_kind(records)
    if kind is None:
        return None
    counts: Counter[str] = Counter(k for r in records if (k := _key(kind, r.reference)) is not None)
    if not counts:
        return None
    answer, top = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    n = len(records)

    def said(side: str) -> float | None:
        answers = [(r.meta.get(side) or {}).get("answer") for r in records
                   if isinstance(r.meta.get(side), Mapping)]
        if len(answers) != n:
            return None
        return sum(_key(kind, a) == answer for a in answers) / n

    return Baseline(kind, answer, top / n, n, said("base"), said("adapter"))
