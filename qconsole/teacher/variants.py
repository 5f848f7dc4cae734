"""More like this (LLM2LLM, arXiv 2403.15042): new (prompt, corrected reply) pairs for one
marked failure, to train on beside it.

Three sources:
- the diagnostic script's own authored variants of the turn (``script_variants``): other
  wordings of the question, which take the person's correction, and contrast cases with their
  own replies (a judgement whose every variant answers "No" teaches "No" to everything);
- the teacher writes them (``teacher_variants``): asked for N at once, asked again with another
  seed until N distinct ones are in (or a few rounds pass);
- for a failure on a reasoning-gym family the family's own generator makes them
  (``gym_variants``): exact answers, worked solutions computed here (arithmetic step by step),
  no LLM. Seeds are far from any evaluation seed so the items cannot be the evaluation's.

For an arithmetic failure the list also holds rewordings of the failing item itself
(``arithmetic_rewordings``: the same expression under reasoning-gym's other question templates,
the same worked answer). New numbers teach the procedure; the same question in other words is
what carries a correction over to a paraphrase of it (LLM2LLM's variants are of the failing
item). They are near-duplicates of the failing item by design, so that check skips them.

Then every candidate is filtered (``filter_variants``): near-duplicates of each other or of the
failing item are dropped, and so is anything overlapping an evaluation item (leakage). The
dropped ones stay in the list with their reason, so the review shows what was removed and why.
"""

from __future__ import annotations

import ast
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.teacher.instructions import read_variants, variants_instruction
from qconsole.teacher.model import Teacher, prompt_hash
from qconsole.teacher.overlap import EvalIndex, is_near_duplicate, template_shingles

TOKENS_PER_VARIANT = 90  # a question and a worked answer; the whole request is capped below
MAX_VARIANT_TOKENS = 900
GYM_SEED_BASE = 50_000_000  # evaluation seeds are small numbers; this keeps variants apart


@dataclass(frozen=True)
class Variant:
    prompt: str
    reply: str
    source: str  # "teacher" | "gym:<family>"
    dropped: str | None = None  # why the filter removed it; None: kept
    prompt_hash: str | None = None  # the teacher instruction that produced it
    edited: bool = False  # the person changed it in the review before keeping it

    @property
    def kept(self) -> bool:
        return self.dropped is None


def teacher_variants(teacher: Teacher, question: str, corrected: str, *, kind: str | None,
                     n: int, rounds: int = 2) -> list[Variant]:
    """Up to ``n`` distinct teacher-written variants (before the leakage filter)."""
    if n < 1:
        raise QConsoleError("ask for at least one variant")
    out: list[Variant] = []
    for r in range(rounds):
        missing = n - len(out)
        if missing <= 0:
            break
        instruction = variants_instruction(question, corrected, kind, missing)
        budget = min(MAX_VARIANT_TOKENS, 40 + TOKENS_PER_VARIANT * missing)
        text = teacher.ask(instruction, max_tokens=budget,
                           temperature=None if r == 0 else 0.8, seed=r)
        h = prompt_hash(instruction)
        for q, a in read_variants(text):
            if not any(is_near_duplicate(q, v.prompt) for v in out):
                out.append(Variant(q, a, "teacher", None, h))
    return out[:n]


# -- reasoning-gym ------------------------------------------------------------------------------


def _fmt(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    return f"{float(v):.6g}"


_OPS = {ast.Add: ("+", lambda a, b: a + b), ast.Sub: ("-", lambda a, b: a - b),
        ast.Mult: ("*", lambda a, b: a * b), ast.Div: ("/", lambda a, b: a / b)}


def worked_arithmetic(expression: str) -> str | None:
    """ "4 - 3 = 1, 1 - 4 = -3. The answer is -3." for an expression (the standard order of
    operations, parentheses first); None when it is not plain arithmetic."""
    steps: list[str] = []

    def ev(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return Fraction(str(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = ev(node.operand)
            if isinstance(node.op, ast.UAdd):
                return v
            if not isinstance(node.operand, ast.Constant):
                steps.append(f"-({_fmt(v)}) = {_fmt(-v)}")
            return -v
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            sym, fn = _OPS[type(node.op)]
            a, b = ev(node.left), ev(node.right)
            v = fn(a, b)
            steps.append(f"{_fmt(a)} {sym} {_fmt(b)} = {_fmt(v)}")
            return v
        raise ValueError(type(node).__name__)

    try:
        value = ev(ast.parse(expression.replace("×", "*").replace("÷", "/"), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None
    work = ", ".join(steps)
    return (f"{work}. " if work else "") + f"The answer is {_fmt(value)}."


def gym_variants(family: str, n: int, *, config: Mapping[str, Any] | None = None,
                 seed: int | None = None, avoid: str = "") -> list[Variant]:
    """``n`` items of a reasoning-gym family (or preset) with worked solutions."""
    from qconsole.evaluation.gym_suites import (
        PRESETS,
        GymSuiteConfig,
        _entry,
        build_gym_suite,
    )

    data: dict[str, Any] = {"preset": family} if family in PRESETS else {"family": family}
    cfg = dict(config or {})
    if family in PRESETS:
        cfg = {**PRESETS[family].get("config", {}), **cfg}
    if seed is None:  # stable for the same failure, far from evaluation seeds
        seed = GYM_SEED_BASE + zlib.crc32(avoid.encode("utf-8")) % 10_000_000
    data.update(suite=f"variants:{family}", size=n, seed=seed, config=cfg)
    suite = build_gym_suite(GymSuiteConfig.from_dict(data, where=f"variants of {family}"))
    out = []
    for item in suite.items:
        assert item.checker is not None
        g = item.checker.gym
        import json

        entry = _entry(g["family"], int(g["seed"]), int(g["size"]),
                       json.dumps(dict(g.get("config", {})), sort_keys=True), int(g["index"]))
        expression = (entry.get("metadata") or {}).get("expression")
        reply = worked_arithmetic(str(expression)) if expression else None
        dropped = None
        if reply is None:
            reply = f"The answer is {entry['answer']}."
            if entry.get("answer") in (None, ""):  # e.g. propositional_logic: many answers
                dropped = "the family gives no single answer to train on"
        out.append(Variant(item.prompt, reply, f"gym:{suite.meta['family']}", dropped))
    return out


# reasoning-gym basic_arithmetic's question templates ("simple" style: "Calculate E.")
REWORD_TEMPLATES = ("What is {0}?", "Compute {0}.", "Evaluate: {0}.", "Solve {0}.",
                    "Calculate {0}.")
REWORDED = ":reworded"  # the source suffix of a rewording of the failing item
SCRIPT_SOURCE = "script:"  # the source prefix of a script's authored variant
_ASKED = re.compile(r"^\s*(?:Calculate|What is|Compute|Evaluate:|Solve)\s+([-+*/×÷().\d\s]+?)"
                    r"\s*[.?](?=\s|$)(.*)$", re.DOTALL)


def arithmetic_rewordings(question: str, source: str, n: int = 3) -> list[Variant]:
    """The failing arithmetic item asked in other words: up to ``n`` of the other templates,
    the rest of the question (the answer-format instruction) kept, with the worked answer.
    None for a question that is not one expression asked by a template."""
    m = _ASKED.match(question)
    if m is None:
        return []
    expression, rest = m.group(1).strip(), m.group(2)
    reply = worked_arithmetic(expression)
    if reply is None:
        return []
    asked = question[: m.end(1)].strip()
    out: list[Variant] = []
    for template in REWORD_TEMPLATES:
        prompt = template.format(expression)
        if prompt.rstrip(".?") == asked.rstrip(".?") or len(out) >= n:
            continue
        out.append(Variant(prompt + rest, reply, source + REWORDED))
    return out


def script_variants(script: str, turn: Any, corrected: str) -> list[Variant]:
    """A script turn's authored variants (``ScriptTurn.variants``): a rewording takes the
    person's ``corrected`` reply, a contrast case its own."""
    return [Variant(v.say, v.reply or corrected,
                    f"{SCRIPT_SOURCE}{script}" + (":contrast" if v.reply else REWORDED))
            for v in turn.variants]


def _deliberate(v: Variant) -> bool:
    """Near the failing item on purpose (a rewording, an authored contrast): the
    near-duplicate checks skip it; the leakage check does not."""
    return v.source.endswith(REWORDED) or v.source.startswith(SCRIPT_SOURCE)


# -- filtering ----------------------------------------------------------------------------------


def filter_variants(variants: Sequence[Variant], *, original: str,
                    evals: EvalIndex | None = None) -> list[Variant]:
    """Mark near-duplicates (of each other, of the failing item) and leaked items as dropped."""
    template = template_shingles([original, *(v.prompt for v in variants)])
    leaks = evals.leaks([(v.prompt, v.reply) for v in variants]) if evals is not None else {}
    out: list[Variant] = []
    for i, v in enumerate(variants):
        reason = None
        if v.dropped is not None:  # its source already refused it (a gym family, say)
            out.append(v)
            continue
        if not v.prompt.strip() or not v.reply.strip():
            reason = "empty question or answer"
        elif not _deliberate(v) and is_near_duplicate(v.prompt, original, ignore=template):
            reason = "near-duplicate of the failing item"
        else:
            twin = next((k for k in out if k.kept and not _deliberate(k)
                         and not _deliberate(v)
                         and is_near_duplicate(v.prompt, k.prompt, ignore=template)), None)
            if twin is not None:
                reason = f"near-duplicate of variant {out.index(twin) + 1}"
            elif i in leaks:
                reason = f"overlaps evaluation item {leaks[i]}"
        out.append(replace(v, dropped=reason) if reason else v)
    return out
