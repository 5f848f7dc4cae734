"""The DPO training set: preference pairs rendered and tokenised exactly as SFT examples are.

The rules of dataset.py hold unchanged (one prompt template for chat, SFT and DPO): the prompt
is ``template.render(context + [user], add_generation_prompt=True)`` tokenised with llama.cpp's
BOS rule, each reply is ``template.completion_text(reply)`` (the reply and the end-of-turn the
chat stops on) tokenised on its own. One thing is particular to a pair: chosen and rejected
must be scored after the *same* prompt, so the prompt is fitted to the context budget left by
the longer of the two replies, and both share it.

Each side is also a ``TokenizedExample`` (prompt + that reply, loss on the reply), so the SFT
term of ``sft+dpo`` and any code that reads SFT examples reads these the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qconsole.prompts import PromptTemplate
from qconsole.training.dataset import (
    ChatTokenizer,
    NothingToTrain,
    TokenizedExample,
    fit_prompt,
    prompt_tail,
    set_notes,
    unusable,
)
from qconsole.training.examples import TrainingExample
from qconsole.training.preference_pairs import PairSelection, PreferenceExample, count_by_source

NO_PAIRS = (
    "nothing to train on with DPO: no preference pair (a rewrite, a preferred pane, or a blind "
    "vote for A or B)"
)


@dataclass(frozen=True)
class TokenizedPair:
    example: PreferenceExample
    prompt: str
    prompt_ids: tuple[int, ...]
    chosen_ids: tuple[int, ...]  # the chosen reply and its end-of-turn, without the prompt
    rejected_ids: tuple[int, ...]
    chosen_text: str
    rejected_text: str
    dropped_messages: int = 0
    cut_chars: int = 0

    @property
    def n_tokens(self) -> int:
        """Tokens of one forward pass over both sides (the prompt counted twice)."""
        return 2 * len(self.prompt_ids) + len(self.chosen_ids) + len(self.rejected_ids)

    @property
    def truncated(self) -> bool:
        return bool(self.dropped_messages or self.cut_chars)

    def side(self, which: str) -> TokenizedExample:
        """The chosen or rejected side as an SFT example (loss on that reply only)."""
        ids = self.chosen_ids if which == "chosen" else self.rejected_ids
        text = self.chosen_text if which == "chosen" else self.rejected_text
        ex = self.example
        return TokenizedExample(
            example=TrainingExample(
                ex.context, ex.user, ex.chosen if which == "chosen" else ex.rejected,
                source="preference", id=f"{ex.id}#{which}",
            ),
            prompt=self.prompt,
            completion=text,
            input_ids=self.prompt_ids + ids,
            prompt_len=len(self.prompt_ids),
            dropped_messages=self.dropped_messages,
            cut_chars=self.cut_chars,
        )


@dataclass(frozen=True)
class PairSetSummary:
    """The DPO counterpart of ``DatasetSummary``: same field names where they mean the same,
    so the start event and the console read both alike."""

    examples: int  # pairs
    by_source: dict[str, int]
    prompt_tokens: int
    completion_tokens: int  # chosen + rejected
    longest: int
    truncated: int
    dropped: int
    duplicates: int
    identical: int
    template: str
    end_of_turn: str
    max_seq_len: int
    objective: str

    @property
    def total_tokens(self) -> int:
        return 2 * self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "pairs": self.examples, "total_tokens": self.total_tokens}

    def lines(self) -> list[str]:
        sources = ", ".join(f"{n} {s}" for s, n in self.by_source.items())
        out = [
            f"{self.examples} preference pairs ({sources}), objective {self.objective}",
            f"{self.total_tokens} tokens per pass: {self.completion_tokens} of chosen and "
            f"rejected replies (+ end-of-turn {self.end_of_turn!r}), {self.prompt_tokens} of "
            f"context; longest pair {self.longest}",
            f"template {self.template}, max {self.max_seq_len} tokens per side",
        ]
        notes = set_notes(self.truncated, self.dropped, "a reply alone too long", self.duplicates)
        if self.identical:
            notes.append(f"{self.identical} skipped (chosen and rejected the same text)")
        if notes:
            out.append("; ".join(notes))
        return out


@dataclass
class PairSet:
    pairs: list[TokenizedPair]
    summary: PairSetSummary
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def examples(self) -> list[TokenizedPair]:
        """The tokenised pairs (named like ``TrainingSet.examples`` for the pipeline)."""
        return self.pairs

    def preview(self, n: int = 3, *, max_chars: int = 600) -> list[PairPreview]:
        out = []
        for t in self.pairs[:n]:
            out.append(PairPreview(
                t.example.id, t.example.source, prompt_tail(t.prompt, max_chars), t.chosen_text,
                t.rejected_text,
                len(t.prompt_ids), len(t.chosen_ids), t.truncated,
            ))
        return out


@dataclass(frozen=True)
class PairPreview:
    id: str
    source: str
    prompt: str
    completion: str  # the chosen reply (the field name SFT previews use)
    rejected: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def build_pair_set(
    selection: PairSelection,
    template: PromptTemplate,
    tokenizer: ChatTokenizer,
    *,
    max_seq_len: int = 1024,
    objective: str = "dpo",
) -> PairSet:
    """Render and tokenise the pairs; :class:`NothingToTrain` when none is usable."""
    out: list[TokenizedPair] = []
    skipped: list[tuple[str, str]] = []
    for ex in selection.pairs:
        item = tokenize_pair(ex, template, tokenizer, max_seq_len)
        if item is None:
            skipped.append((ex.id, f"a reply alone is longer than {max_seq_len} tokens"))
            continue
        out.append(item)
    if not out:
        raise NothingToTrain(
            NO_PAIRS + unusable(skipped) + "; rewrite a failing reply or vote on a blind turn first"
        )
    summary = PairSetSummary(
        examples=len(out),
        by_source=count_by_source(t.example for t in out),
        prompt_tokens=sum(len(t.prompt_ids) for t in out),
        completion_tokens=sum(len(t.chosen_ids) + len(t.rejected_ids) for t in out),
        longest=max(t.n_tokens for t in out),
        truncated=sum(t.truncated for t in out),
        dropped=len(skipped),
        duplicates=selection.duplicates,
        identical=selection.identical,
        template=template.describe(),
        end_of_turn=template.end_of_turn,
        max_seq_len=max_seq_len,
        objective=objective,
    )
    return PairSet(out, summary, skipped)


def tokenize_pair(
    ex: PreferenceExample, template: PromptTemplate, tok: ChatTokenizer, max_seq_len: int
) -> TokenizedPair | None:
    """Both sides after one shared prompt, or None when a reply alone does not fit."""
    chosen = template.completion_text(ex.chosen)
    rejected = template.completion_text(ex.rejected)
    chosen_ids = tok.completion_ids(chosen)
    rejected_ids = tok.completion_ids(rejected)
    fitted = fit_prompt(
        ex.prompt_messages, template, tok, max_seq_len - max(len(chosen_ids), len(rejected_ids))
    )
    if fitted is None or not fitted[1]:
        return None
    fit, prompt_ids = fitted
    return TokenizedPair(
        example=ex,
        prompt=fit.prompt,
        prompt_ids=tuple(prompt_ids),
        chosen_ids=tuple(chosen_ids),
        rejected_ids=tuple(rejected_ids),
        chosen_text=chosen,
        rejected_text=rejected,
        dropped_messages=fit.dropped_messages,
        cut_chars=fit.cut_chars,
    )
