"""A local multiple-choice file, scored by log-likelihood exactly as lm-eval scores its own.

The file is JSON lines (or a JSON list), BIG-bench style, one question a line::

    {"input": "Is a whale a fish?\\nAnswer:", "choices": ["yes", "no"], "gold": 1}

``gold`` is the index of the right choice or its text. Why through lm-eval and not a scorer of
our own: a multiple-choice number means something when it is lm-eval's ``multiple_choice``
(each choice's log-likelihood after the input, ``acc`` and length-normalised ``acc_norm``),
so the file becomes an lm-eval task config (``dataset_path: json``) and runs down the same path
as ARC or HellaSwag (qconsole.evaluation.benchmarks). The file is checked first, each problem
reported as ``file:line``; the checked rows are written once, normalised (gold as an index), to
qconsole's cache, so lm-eval reads one consistent schema.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError

MC_FILE_VERSION = 1


def read_mc_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The file's rows as ``{"input", "choices", "gold": index}``, or a QConsoleError naming
    the first bad line."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QConsoleError(f"cannot read multiple-choice file {p}: {exc}") from exc
    entries: list[tuple[int, Any]] = []
    if text.lstrip().startswith("["):
        try:
            entries = list(enumerate(json.loads(text), start=1))
        except ValueError as exc:
            raise QConsoleError(f"{p}: not valid JSON: {exc}") from exc
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append((n, json.loads(line)))
            except ValueError as exc:
                raise QConsoleError(f"{p}:{n}: not valid JSON: {exc}") from exc
    rows = []
    for n, row in entries:
        where = f"{p}:{n}"
        if not isinstance(row, dict):
            raise QConsoleError(f"{where}: expected an object with input, choices, gold")
        missing = [k for k in ("input", "choices", "gold") if k not in row]
        if missing:
            raise QConsoleError(f"{where}: missing {', '.join(missing)}")
        choices = row["choices"]
        if (not isinstance(choices, list) or len(choices) < 2
                or not all(isinstance(c, str) and c.strip() for c in choices)):
            raise QConsoleError(f"{where}: choices must be a list of two or more texts")
        if not isinstance(row["input"], str) or not row["input"].strip():
            raise QConsoleError(f"{where}: input must be a non-empty text")
        gold = row["gold"]
        if isinstance(gold, bool) or not isinstance(gold, int | str):
            raise QConsoleError(f"{where}: gold must be a choice index or a choice's text")
        if isinstance(gold, str):
            if gold not in choices:
                raise QConsoleError(f"{where}: gold {gold!r} is not one of the choices")
            gold = choices.index(gold)
        if not 0 <= gold < len(choices):
            raise QConsoleError(f"{where}: gold {gold} is out of range for "
                                f"{len(choices)} choices")
        rows.append({"input": row["input"], "choices": choices, "gold": gold})
    if not rows:
        raise QConsoleError(f"{p}: no questions in the file")
    return rows


def mc_task_config(path: str | os.PathLike[str], task: str) -> dict[str, Any]:
    """The lm-eval task config (a dict ``TaskManager.load`` accepts) for the file."""
    from qconsole.paths import cache_dir

    rows = read_mc_file(path)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]
    target = cache_dir() / "mc-files" / f"{digest}.jsonl"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, target)
    return {
        "task": task,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": {"test": str(target)}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "input",
        "doc_to_choice": "choices",
        "doc_to_target": "gold",
        "target_delimiter": " ",
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
        "metadata": {"version": MC_FILE_VERSION, "qconsole_mc_file": str(Path(path).resolve())},
    }


def mc_suite(path: str | os.PathLike[str], *, name: str | None = None,
             limit: int | None = None) -> Any:
    """The file as a benchmark suite (named after the file), checked now, not mid-run."""
    from qconsole.evaluation.suites import SuiteSpec

    read_mc_file(path)
    task = name or Path(path).stem
    return SuiteSpec(name=task, kind="benchmark", task=task, topic=task,
                     path=str(Path(path).expanduser().resolve()), limit=limit)
