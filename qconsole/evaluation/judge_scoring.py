"""A pairwise judge over a stored run's free-text items, beside the word-overlap placeholder.

Why here and why a callable: evaluation sits below the teacher in the layers (the teacher may
import evaluation, never the other way), so the judge comes in as a plain function
``judge(question, base_reply, adapter_reply, reference, rubric) -> verdict`` where the verdict
has ``winner`` ("a" = base, "b" = adapter, "tie", "inconsistent") and ``agreed``. The teacher's
``judge_pair`` (both orders, a win only when both agree) is such a function; ``qconsole eval
--judge`` passes it in (qconsole/commands/eval.py).

Which items: the free-text ones no rule can score — the ``in-domain-similarity`` suite (the
rewrite has no final answer: graded against the rewrite as the reference) — and every item
that carries a judge rubric (a probe's ``judge:``), graded by that rubric and its reference
where it has one. Items flagged as leaked are left out, as in every other row. The result is
stored as ``judge.json`` in the run folder and read back by the report, where the placeholder
stays as a labelled secondary line: the judge does not replace it, it stands beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.results import ItemResult

JUDGE_FILE = "judge.json"
PairJudge = Callable[[str, str, str, "str | None", "str | None"], Any]


def judged_item(record: ItemResult) -> tuple[str | None, str | None] | None:
    """(reference, rubric) for a record the judge scores, or None for one it leaves alone."""
    meta = record.meta or {}
    if not record.prompt or not record.base_reply or not record.adapter_reply:
        return None
    if meta.get("leak"):
        return None
    rubric = meta.get("judge") if isinstance(meta.get("judge"), str) else None
    if meta.get("scorer") == "similarity" or rubric:
        return record.reference, rubric
    return None


@dataclass
class SuiteJudgement:
    """One suite's verdicts; ``rule_base`` / ``rule_adapter``: the suite's rule (or
    placeholder) accuracy on the same items, for the secondary line."""

    suite: str
    n: int = 0
    adapter_wins: int = 0
    base_wins: int = 0
    ties: int = 0
    inconsistent: int = 0
    rule_base: int = 0
    rule_adapter: int = 0
    placeholder: str | None = None  # the label of a placeholder scorer, when that is the rule
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agreement_rate(self) -> float:
        return (self.n - self.inconsistent) / self.n if self.n else 0.0

    def add(self, record: ItemResult, verdict: Any) -> None:
        self.n += 1
        winner = verdict.winner
        self.adapter_wins += winner == "b"
        self.base_wins += winner == "a"
        self.ties += winner == "tie"
        self.inconsistent += winner not in ("a", "b", "tie")
        self.rule_base += record.base_correct
        self.rule_adapter += record.adapter_correct
        label = (record.meta or {}).get("label")
        if label:
            self.placeholder = str(label)
        self.items.append({"item_id": record.item_id, "winner": winner,
                           "first": getattr(verdict, "first", None),
                           "second": getattr(verdict, "second", None)})

    def lines(self, judge_name: str) -> list[str]:
        out = [f"judge · {self.suite} ({judge_name}, both orders, {self.n} items): adapter "
               f"wins {self.adapter_wins}, base wins {self.base_wins}, ties {self.ties}, "
               f"orders disagree {self.inconsistent}; agreement {self.agreement_rate:.0%}"]
        rule = f"placeholder ({self.placeholder})" if self.placeholder else "rule"
        out.append(f"    secondary, {rule}: base {self.rule_base}/{self.n}, adapter "
                   f"{self.rule_adapter}/{self.n}")
        return out


@dataclass
class RunJudgement:
    judge: str
    suites: dict[str, SuiteJudgement] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return sum(s.n for s in self.suites.values())

    def lines(self) -> list[str]:
        if not self.suites:
            return [f"judge ({self.judge}): no free-text or judge-rubric item with both "
                    "replies in this run"]
        return [line for s in self.suites.values() for line in s.lines(self.judge)]

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "suites": {k: asdict(v) for k, v in self.suites.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunJudgement:
        suites = {}
        for name, s in dict(data.get("suites") or {}).items():
            known = {k: v for k, v in dict(s).items() if k in SuiteJudgement.__dataclass_fields__}
            suites[name] = SuiteJudgement(**known)
        return cls(str(data.get("judge") or "judge"), suites)


def judge_records(records: Iterable[ItemResult], judge: PairJudge, *, name: str,
                  on_item: Callable[[int], None] | None = None) -> RunJudgement:
    """Judge every free-text / rubric record of a run (base = a, adapter = b)."""
    out = RunJudgement(name)
    done = 0
    for record in records:
        found = judged_item(record)
        if found is None:
            continue
        reference, rubric = found
        verdict = judge(record.prompt or "", record.base_reply or "",
                        record.adapter_reply or "", reference, rubric)
        out.suites.setdefault(record.suite, SuiteJudgement(record.suite)).add(record, verdict)
        done += 1
        if on_item is not None:
            on_item(done)
    return out


def save_judgement(run_dir: Path, judgement: RunJudgement) -> Path:
    path = Path(run_dir) / JUDGE_FILE
    path.write_text(json.dumps(judgement.to_dict(), indent=1), encoding="utf-8")
    return path


def load_judgement(run_dir: Path) -> RunJudgement | None:
    """The run's stored judgement, or None when the run was not judged."""
    path = Path(run_dir) / JUDGE_FILE
    if not path.is_file():
        return None
    try:
        return RunJudgement.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise QConsoleError(f"cannot read the judge's results {path}: {exc}") from None
