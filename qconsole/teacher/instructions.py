"""What the teacher is asked, and how its answers are read. One place for every teacher text.

Why fixed formats with labelled lines ("FIRST WRONG STEP: ..."): small local teachers ramble;
a label lets the reader take what is there and say plainly what is not, instead of guessing.
Every reader is lenient about markdown (``**WHY:**``), case and numbering, and strict about
content: an answer it cannot read is ``None``, never a default that looks like a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qconsole.prompts import Message
from qconsole.store.failure_kinds import FAILURE_KINDS, KIND_BY_KEY, ROUTE_STEPS

MAX_QUOTE = 1500  # characters of a reply or dialogue put into one instruction


def _cut(text: str, limit: int = MAX_QUOTE) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit // 2] + " [...] " + text[-limit // 2:]


def dialogue_text(messages: Sequence[Message], limit: int = 3000) -> str:
    lines = [f"{'User' if m.role == 'user' else 'Model'}: {_cut(m.content, 600)}"
             for m in messages if m.role in ("user", "assistant")]
    text = "\n".join(lines)
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


# -- next question -----------------------------------------------------------------------------


def next_question_instruction(messages: Sequence[Message], goal: str,
                              failures: Sequence[str]) -> str:
    seen = "\n".join(f"- {f}" for f in failures) or "- none yet"
    steps = ", then ".join(s.label.lower() for s in ROUTE_STEPS)
    return (
        "You are a teacher probing a weak language model to find where its reasoning breaks.\n"
        f"Goal of this session: {goal or 'find a failure of reasoning, consistency or memory'}\n"
        f"A good route asks the model to {steps}; traps ask the same thing paraphrased, or ask "
        "later about a fact or a rule set earlier.\n\n"
        f"The conversation so far:\n{dialogue_text(messages) or '(empty)'}\n\n"
        f"Failures seen so far:\n{seen}\n\n"
        "Write the single next question to ask the model. Write only the question, one or two "
        "sentences, nothing else."
    )


_SPEAKER = re.compile(r"^\s*(?:\*\*)?(?:next question|question|user|teacher|q\d*)(?:\*\*)?"
                      r"\s*[:\-]\s*", re.I)


def read_question(text: str) -> str | None:
    """The question in the teacher's answer: the first line that asks something (a small
    teacher often writes a whole imagined dialogue; its model lines are skipped)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not re.match(r"^\s*(model|assistant|a\d*)\s*:", ln, re.I)]
    asking = [ln for ln in lines if "?" in ln]
    chosen = (asking or lines or [""])[0]
    chosen = _SPEAKER.sub("", chosen).strip().strip('"“”*').strip()
    return chosen or None


# -- failure kind ------------------------------------------------------------------------------


def kind_instruction(question: str, reply: str, reference: str | None = None) -> str:
    kinds = "\n".join(f"- {k.key}: {k.description}" for k in FAILURE_KINDS)
    ref = f"A correct answer would be: {_cut(reference, 400)}\n" if reference else ""
    return (
        "A weak language model answered a question badly. Name the kind of failure.\n\n"
        f"Question: {_cut(question)}\nModel's reply: {_cut(reply)}\n{ref}\n"
        f"Kinds:\n{kinds}\n\n"
        "Answer with the kind's key only (for example: reasoning_step)."
    )


def read_kind(text: str) -> str | None:
    """The first failure-kind key (or a label's first word) named in the teacher's answer."""
    low = text.casefold()
    best: tuple[int, str] | None = None
    for kind in FAILURE_KINDS:
        for name in {kind.key, kind.key.replace("_", " "), kind.label.casefold()}:
            i = low.find(name.casefold())
            if i != -1 and (best is None or i < best[0]):
                best = (i, kind.key)
    return best[1] if best else None


# -- judge -------------------------------------------------------------------------------------


def check_instruction(question: str, reply: str, rubric: str) -> str:
    return (
        "You grade one reply of a language model against a rule.\n\n"
        f"Question: {_cut(question)}\nReply: {_cut(reply)}\n\nRule: {rubric}\n\n"
        "Does the reply follow the rule? Answer PASS or FAIL, then one short reason."
    )


def read_pass_fail(text: str) -> bool | None:
    m = re.search(r"\b(pass|fail|yes|no)\b", text, re.I)
    if not m:
        return None
    return m.group(1).casefold() in ("pass", "yes")


def pair_instruction(question: str, first: str, second: str, reference: str | None,
                     rubric: str | None = None) -> str:
    ref = (f"Reference answer (correct): {_cut(reference, 600)}\n"
           "Grade each reply by how well it agrees with the reference.\n" if reference else "")
    if rubric:
        ref += f"What a good reply does: {_cut(rubric, 300)}\n"
    return (
        "Two replies of language models to the same question. Which is better: correct, "
        "on point, and honest?\n\n"
        f"Question: {_cut(question)}\n{ref}\n"
        f"Reply 1: {_cut(first)}\n\nReply 2: {_cut(second)}\n\n"
        'Answer with exactly one of "1", "2" or "tie".'
    )


def read_pair_verdict(text: str) -> str | None:
    """'1', '2', 'tie' or None."""
    m = re.search(r"\b(tie|both|neither|equal|1|2|one|two)\b", text, re.I)
    if not m:
        return None
    word = m.group(1).casefold()
    return {"one": "1", "two": "2", "1": "1", "2": "2"}.get(word, "tie")


# -- draft correction (LEMA) -------------------------------------------------------------------


def draft_instruction(messages: Sequence[Message], question: str, reply: str,
                      kind: str | None, note: str, reference: str | None) -> str:
    label = KIND_BY_KEY[kind].label if kind in KIND_BY_KEY else None
    marked = f"The person marked this reply as: {label}" + (f" ({note})" if note else "") + "\n" \
        if label else ""
    ref = f"The correct final answer is: {_cut(reference, 400)}\n" if reference else ""
    earlier = dialogue_text(messages)
    return (
        "A weak language model gave a wrong reply. Correct it, the way a teacher corrects a "
        "student's worked answer.\n\n"
        + (f"Earlier conversation:\n{earlier}\n\n" if earlier else "")
        + f"Question: {_cut(question)}\nModel's reply: {_cut(reply)}\n{marked}{ref}\n"
        # No worked example here: a small teacher copies the example's answer into every
        # draft (measured with SmolLM2-135M: "The answer is 14." for 16 of 17 items).
        "Answer in exactly this format:\n"
        "FIRST WRONG STEP: <quote the first wrong step of the reply>\n"
        "WHY: <one sentence: why that step is wrong>\n"
        "CORRECTED REPLY: <the whole reply as it should have been, reasoning step by step "
        'and ending with "The answer is X." when there is a final answer>'
    )


_LABELS = ("first wrong step", "why", "corrected reply")
_LABEL_RE = re.compile(
    r"^[\s*#>_-]*(first wrong step|why|corrected reply|correct(?:ed)? answer|correction)"
    r"[\s*_]*[:\-]\s*", re.I | re.M)


def read_draft(text: str) -> tuple[str, str, str, bool]:
    """(first wrong step, why, corrected reply, parsed). Not parsed: the whole answer is offered
    as the corrected reply and the other two are empty, for the person to fill or reject."""
    found: dict[str, str] = {}
    matches = list(_LABEL_RE.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        label = m.group(1).casefold()
        label = "corrected reply" if label not in _LABELS[:2] else label
        found.setdefault(label, text[m.end():end].strip().strip("*").strip())
    corrected = found.get("corrected reply", "")
    if not corrected:
        return "", "", text.strip(), False
    return found.get("first wrong step", ""), found.get("why", ""), corrected, True


# -- more like this (LLM2LLM) ------------------------------------------------------------------


def variants_instruction(question: str, corrected: str, kind: str | None, n: int) -> str:
    label = KIND_BY_KEY[kind].label.lower() if kind in KIND_BY_KEY else "a wrong answer"
    return (
        "A weak language model failed this question "
        f"({label}).\n\nQuestion: {_cut(question, 800)}\n"
        f"Correct answer: {_cut(corrected, 800)}\n\n"
        f"Write {n} new, different questions that test the same skill, each with its correct "
        "answer worked out step by step. Change the names, numbers and situation. Format:\n"
        "Q1: <question>\nA1: <correct answer>\nQ2: <question>\nA2: <correct answer>"
    )


_QA = re.compile(r"^[\s*#]*Q(?:uestion)?\s*(\d+)[\s*]*[:.)]\s*(.+?)\s*^[\s*#]*A(?:nswer)?\s*\1"
                 r"[\s*]*[:.)]\s*(.+?)(?=^[\s*#]*Q(?:uestion)?\s*\d+[\s*]*[:.)]|\Z)",
                 re.I | re.M | re.S)


def read_variants(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _QA.finditer(text):
        q, a = " ".join(m.group(2).split()), m.group(3).strip()
        if q and a and not _placeholder(q) and not _placeholder(a):
            out.append((q, a))
    return out


def _placeholder(text: str) -> bool:
    """The format's own "<question>" copied back instead of a question."""
    return bool(re.fullmatch(r"[\s\"'*]*<[^>]{0,40}>[\s\"'*.]*", text))
