"""How good a teacher is, measured on a labelled set of failing replies (benchmarks/teacher.py).

Per item: the failing reply, its hand label (a failure kind), the correct reply a person
would write, and the checks (script check format) a correction must pass. Measured:

- kind agreement: the teacher's proposed kind equals the label (and, beside it, the kind the
  rule checks alone would propose, so the teacher's share is visible);
- draft pass: the teacher's corrected reply passes every check of the item;
- seconds per correction, simulated: typing the correct reply from scratch at a fixed typing
  speed, against waiting for the draft and then accepting it (one key) when it passes, or
  typing the characters that turn it into the correct reply when it does not (never more
  than typing from scratch: a person would rather retype).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.prompts import Message, as_messages
from qconsole.store.failure_kinds import KIND_BY_KEY
from qconsole.teacher.checks import CHECKS, TurnContext, default_kind, run_check

TYPING_CPS = 5.0  # characters per second: about 60 words a minute
ITEM_KEYS = ("id", "label", "context", "prompt", "reply", "reference", "correct", "checks")


@dataclass(frozen=True)
class LabelledItem:
    id: str
    label: str
    context: tuple[Message, ...]
    prompt: str
    reply: str
    reference: str | None
    correct: str
    checks: tuple[tuple[str, Mapping[str, Any]], ...]

    def passes(self, text: str) -> bool:
        ctx = TurnContext(self.prompt, text, {})
        return all(run_check(name, opts, ctx).passed is True for name, opts in self.checks)

    def rule_kind(self) -> str | None:
        """The kind the rule checks alone propose for the failing reply (None: all pass)."""
        earlier = {f"c{i}": m.content for i, m in enumerate(self.context) if m.role == "assistant"}
        ctx = TurnContext(self.prompt, self.reply, earlier)
        for name, opts in (("answers", {}), *self.checks):
            if run_check(name, opts, ctx).passed is False:
                return default_kind(name)
        return None


def load_labelled(path: str | os.PathLike[str]) -> list[LabelledItem]:
    from qconsole.safe_files import read_yaml_file

    p = Path(path)
    data = read_yaml_file(p, what="labelled set")
    items = []
    for n, d in enumerate(data or [], 1):
        where = f"{p.name} item {n}"
        if not isinstance(d, dict) or set(d) - set(ITEM_KEYS):
            raise QConsoleError(f"{where}: expected the keys {', '.join(ITEM_KEYS)}")
        if d.get("label") not in KIND_BY_KEY:
            raise QConsoleError(f"{where}: label must be a failure kind")
        checks = []
        for c in d.get("checks") or []:
            opts = {k: v for k, v in c.items() if k != "check"}
            if c.get("check") not in CHECKS:
                raise QConsoleError(f"{where}: unknown check {c.get('check')!r}")
            CHECKS[c["check"]].validate(opts)
            checks.append((c["check"], opts))
        items.append(LabelledItem(
            id=str(d["id"]), label=d["label"], context=tuple(as_messages(d.get("context") or [])),
            prompt=str(d["prompt"]), reply=str(d["reply"]),
            reference=str(d["reference"]) if d.get("reference") is not None else None,
            correct=str(d["correct"]), checks=tuple(checks),
        ))
    return items


def chars_to_edit(draft: str, target: str) -> int:
    """Keys to turn ``draft`` into ``target``: characters inserted or replaced, plus one key
    per deleted stretch."""
    keys = 0
    for op, _i1, _i2, j1, j2 in SequenceMatcher(None, draft, target, autojunk=False).get_opcodes():
        if op in ("replace", "insert"):
            keys += j2 - j1
        elif op == "delete":
            keys += 1
    return keys


@dataclass
class ItemRecord:
    id: str
    label: str
    teacher_kind: str | None
    rule_kind: str | None
    draft: str
    draft_parsed: bool
    draft_pass: bool
    teacher_s: float
    accept_s: float
    type_s: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def measure_item(controller: Any, item: LabelledItem, *, cps: float = TYPING_CPS) -> ItemRecord:
    """One item through the teacher: its kind, its draft, the simulated person's time."""
    from qconsole.teacher.draft import draft_correction

    start = time.perf_counter()
    kind = controller.propose_kind(item.prompt, item.reply, item.reference)
    kind_s = time.perf_counter() - start
    start = time.perf_counter()
    draft = draft_correction(controller.teacher, item.prompt, item.reply, context=item.context,
                             kind=item.label, reference=item.reference)
    draft_s = time.perf_counter() - start
    ok = item.passes(draft.corrected)
    type_s = len(item.correct) / cps
    keys = 1 if ok else min(chars_to_edit(draft.corrected, item.correct), len(item.correct)) + 1
    return ItemRecord(item.id, item.label, kind, item.rule_kind(), draft.corrected, draft.parsed,
                      ok, kind_s + draft_s, draft_s + keys / cps, type_s)
