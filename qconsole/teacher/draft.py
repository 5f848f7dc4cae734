"""Draft a correction in LEMA's form: the first wrong step, why it is wrong, the corrected reply.

LEMA (arXiv 2310.20689) trains on (first incorrect step, explanation, corrected solution). The
person edits the draft in the rewrite editor; what is stored as the rewrite is the corrected
reply (what the model should have said), and the step and explanation go with it as
provenance, together with the teacher model, the hash of the exact instruction sent, and
whether the person accepted the draft unchanged or edited it. So a trained adapter can always
be traced to which corrections were the teacher's words and which were the person's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qconsole.prompts import Message
from qconsole.teacher.instructions import draft_instruction, read_draft
from qconsole.teacher.model import Teacher, prompt_hash

DRAFT_TOKENS = 384


@dataclass(frozen=True)
class DraftCorrection:
    first_wrong_step: str
    why: str
    corrected: str
    parsed: bool  # False: the teacher ignored the format; ``corrected`` is its whole answer
    teacher: str
    prompt_hash: str

    def provenance(self, final_text: str) -> dict:
        """What is stored with the rewrite once the person saves ``final_text``."""
        return {
            "source": "teacher-draft",
            "teacher": self.teacher,
            "prompt_hash": self.prompt_hash,
            "accepted": "unchanged" if final_text.strip() == self.corrected.strip() else "edited",
            "first_wrong_step": self.first_wrong_step,
            "why": self.why,
            "format_followed": self.parsed,
        }

    def text(self) -> str:
        return (f"First wrong step: {self.first_wrong_step or '(not given)'}\n"
                f"Why: {self.why or '(not given)'}\n\nCorrected reply:\n{self.corrected}")


def draft_correction(teacher: Teacher, question: str, reply: str, *,
                     context: Sequence[Message] = (), kind: str | None = None, note: str = "",
                     reference: str | None = None) -> DraftCorrection:
    instruction = draft_instruction(context, question, reply, kind, note, reference)
    answer = teacher.ask(instruction, max_tokens=DRAFT_TOKENS)
    step, why, corrected, parsed = read_draft(answer)
    return DraftCorrection(step, why, corrected, parsed, teacher.name, prompt_hash(instruction))
