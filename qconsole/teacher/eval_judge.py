"""``qconsole eval --judge``: the teacher judges a finished run's free-text items.

The evaluation side (qconsole/evaluation/judge_scoring.py) takes the judge as a callable, since
evaluation may not import the teacher; this module makes that callable from the configured
teacher: :func:`~qconsole.teacher.judge.judge_pair`, both orders, a win only when both agree,
graded against the reference and the item's rubric where there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qconsole.teacher.config import TeacherSpec
from qconsole.teacher.judge import judge_pair
from qconsole.teacher.model import Teacher, open_teacher


def pair_judge(teacher: Teacher) -> Callable[..., Any]:
    def judge(question: str, base: str, adapter: str, reference: str | None,
              rubric: str | None) -> Any:
        return judge_pair(teacher, question, base, adapter, reference, rubric)

    return judge


def judge_run(run: Any, spec: TeacherSpec, *, aliases: dict[str, str] | None = None,
              on_item: Callable[[int], None] | None = None) -> Any:
    """Judge a StoredRun's free-text and rubric items; the verdicts are saved beside it."""
    from qconsole.evaluation.judge_scoring import judge_records, save_judgement

    teacher = open_teacher(spec, aliases=aliases)
    try:
        records = [*run.items(), *run.judge_items()]  # judge-only probes are stored apart
        judgement = judge_records(records, pair_judge(teacher), name=teacher.name,
                                  on_item=on_item)
    finally:
        teacher.close()
    save_judgement(run.path, judgement)
    return judgement
