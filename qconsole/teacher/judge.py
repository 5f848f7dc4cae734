"""The teacher as a judge: pairwise in both orders, and single replies against a rule.

Why both orders: an LLM judge prefers a position (GPT-4 kept its verdict under swapped order
65% of the time; weaker judges far less: field guide, section 3). A win counts only when both
orders name the same reply; otherwise the pair is "inconsistent" and counts for nobody. The
share of pairs whose two orders agree is reported beside every score, so a judge that flips
shows as one. Where a reference answer exists it is in both prompts and the judge grades
against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qconsole.teacher.instructions import (
    check_instruction,
    pair_instruction,
    read_pair_verdict,
    read_pass_fail,
)
from qconsole.teacher.model import Teacher

JUDGE_TOKENS = 24


@dataclass(frozen=True)
class PairVerdict:
    """``winner``: "a", "b", "tie" (both orders say tie or split the same way) or
    "inconsistent" (the orders disagree, or one gave no verdict)."""

    first: str | None  # "1" | "2" | "tie" | None, with a shown first
    second: str | None  # with b shown first
    winner: str

    @property
    def agreed(self) -> bool:
        return self.winner != "inconsistent"


def _side(verdict: str | None, first_is: str) -> str | None:
    if verdict is None:
        return None
    if verdict == "tie":
        return "tie"
    other = "b" if first_is == "a" else "a"
    return first_is if verdict == "1" else other


def judge_pair(teacher: Teacher, question: str, a: str, b: str,
               reference: str | None = None, rubric: str | None = None) -> PairVerdict:
    """Compare replies ``a`` and ``b`` in both orders (graded against ``reference`` and by
    ``rubric`` where given)."""
    v1 = read_pair_verdict(teacher.ask(pair_instruction(question, a, b, reference, rubric),
                                       max_tokens=JUDGE_TOKENS))
    v2 = read_pair_verdict(teacher.ask(pair_instruction(question, b, a, reference, rubric),
                                       max_tokens=JUDGE_TOKENS))
    s1, s2 = _side(v1, "a"), _side(v2, "b")
    winner = s1 if s1 is not None and s1 == s2 else "inconsistent"
    return PairVerdict(v1, v2, winner)


def judge_reply(teacher: Teacher, question: str, reply: str, rubric: str) -> bool | None:
    """Does ``reply`` follow ``rubric``? None when the teacher's answer cannot be read."""
    return read_pass_fail(teacher.ask(check_instruction(question, reply, rubric),
                                      max_tokens=JUDGE_TOKENS))


@dataclass
class JudgeReport:
    """Pairwise results over many items: a (base) against b (adapter)."""

    verdicts: list[tuple[str, PairVerdict]] = field(default_factory=list)  # (item id, verdict)

    def add(self, item_id: str, verdict: PairVerdict) -> None:
        self.verdicts.append((item_id, verdict))

    def count(self, winner: str) -> int:
        return sum(1 for _, v in self.verdicts if v.winner == winner)

    @property
    def n(self) -> int:
        return len(self.verdicts)

    @property
    def agreement_rate(self) -> float:
        return self.n and sum(v.agreed for _, v in self.verdicts) / self.n

    def lines(self, a: str = "base", b: str = "adapter") -> list[str]:
        if not self.n:
            return ["judge: no item with both replies"]
        return [
            f"judge ({self.n} items, both orders): {b} wins {self.count('b')}, {a} wins "
            f"{self.count('a')}, ties {self.count('tie')}, orders disagree "
            f"{self.count('inconsistent')}",
            f"judge agreement (both orders gave the same verdict): {self.agreement_rate:.0%}",
        ]


def judge_items(teacher: Teacher, items: Iterable) -> JudgeReport:
    """Judge stored evaluation records (``ItemResult``: prompt, reference, base_reply,
    adapter_reply); records without both replies are skipped."""
    report = JudgeReport()
    for item in items:
        a, b = getattr(item, "base_reply", None), getattr(item, "adapter_reply", None)
        if not a or not b or not getattr(item, "prompt", None):
            continue
        report.add(str(item.item_id), judge_pair(teacher, item.prompt, a, b,
                                                 getattr(item, "reference", None)))
    return report
