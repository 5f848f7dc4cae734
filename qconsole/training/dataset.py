"""The training set: examples rendered and tokenised exactly as the chat will see them.

Three rules keep training and chat identical (a base model has no end-of-turn habit; the only
one it gets is the one trained here, see GUIDE section 4):

1. The prompt is ``template.render(context + [user], add_generation_prompt=True)``, the very
   function ``ChatSide.plan`` calls, and the completion is ``template.completion_text(target)``:
   the reply followed by ``end_of_turn``, the string the chat stops on.
2. Token ids are those llama.cpp produces for the chat: the prompt is tokenised on its own
   with BOS prepended when the GGUF says llama.cpp adds one (``tokenizer.ggml.add_bos_token``),
   special-token text parsed, invalid UTF-8 replaced the way ``LlamaBackend.tokenize`` does; the
   completion is tokenised on its own, without BOS, as the model will generate it after the
   prompt.
3. Labels are -100 over the prompt: the loss is on the reply and its end-of-turn only.

Too long an example loses its oldest turns first, the way ``fit_to_context`` trims the chat;
one whose reply alone does not fit is dropped and counted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.inference.context_budget import FitResult, fit_to_context
from qconsole.prompts import Message, PromptTemplate
from qconsole.training.examples import TrainingExample, dedupe

IGNORE_INDEX = -100


class NothingToTrain(QConsoleError):
    """No usable example: the console says so instead of starting a job."""


@dataclass(frozen=True)
class TokenRule:
    """How llama.cpp turns the chat's prompt into tokens, for one base model."""

    add_bos: bool
    bos_id: int | None
    add_eos: bool = False
    eos_id: int | None = None


def token_rule_from_gguf(gguf_path: str | os.PathLike[str], tokenizer: Any) -> TokenRule:
    """Read llama.cpp's BOS/EOS policy from the GGUF (what ``tokenize(add_bos=True)`` does).

    Where the file does not say, llama.cpp adds BOS for SentencePiece vocabularies
    (``tokenizer.ggml.model == "llama"``) and not for BPE ones.
    """
    from qconsole.models.fingerprint import read_gguf_header

    meta = read_gguf_header(gguf_path).metadata
    bos_id = meta.get("tokenizer.ggml.bos_token_id", getattr(tokenizer, "bos_token_id", None))
    eos_id = meta.get("tokenizer.ggml.eos_token_id", getattr(tokenizer, "eos_token_id", None))
    add_bos = meta.get("tokenizer.ggml.add_bos_token")
    if add_bos is None:
        add_bos = meta.get("tokenizer.ggml.model") == "llama"
    add_eos = bool(meta.get("tokenizer.ggml.add_eos_token", False))
    return TokenRule(
        add_bos=bool(add_bos) and bos_id is not None,
        bos_id=int(bos_id) if bos_id is not None else None,
        add_eos=add_eos and eos_id is not None,
        eos_id=int(eos_id) if eos_id is not None else None,
    )


def llama_safe_text(text: str) -> str:
    """The text llama.cpp actually sees: ``LlamaBackend.tokenize`` encodes with 'replace'."""
    return text.encode("utf-8", "replace").decode("utf-8")


class ChatTokenizer:
    """A transformers tokenizer wrapped to produce llama.cpp's ids for prompts and replies."""

    def __init__(self, tokenizer: Any, rule: TokenRule) -> None:
        self.tokenizer = tokenizer
        self.rule = rule

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(llama_safe_text(text), add_special_tokens=False)["input_ids"])

    def prompt_ids(self, text: str) -> list[int]:
        ids = self._encode(text)
        if self.rule.add_bos and self.rule.bos_id is not None:
            ids = [self.rule.bos_id, *ids]
        if self.rule.add_eos and self.rule.eos_id is not None:
            ids.append(self.rule.eos_id)
        return ids

    def completion_ids(self, text: str) -> list[int]:
        return self._encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)


@dataclass(frozen=True)
class TokenizedExample:
    example: TrainingExample
    prompt: str
    completion: str
    input_ids: tuple[int, ...]
    prompt_len: int
    dropped_messages: int = 0
    cut_chars: int = 0

    @property
    def labels(self) -> list[int]:
        """-100 over the prompt, the token ids over the completion."""
        return [IGNORE_INDEX] * self.prompt_len + list(self.input_ids[self.prompt_len:])

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def n_completion(self) -> int:
        return len(self.input_ids) - self.prompt_len

    @property
    def truncated(self) -> bool:
        return bool(self.dropped_messages or self.cut_chars)


@dataclass(frozen=True)
class ExamplePreview:
    id: str
    source: str
    prompt: str
    completion: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DatasetSummary:
    examples: int
    by_source: dict[str, int]
    prompt_tokens: int
    completion_tokens: int
    longest: int
    truncated: int  # oldest turns left out to fit max_seq_len
    dropped: int  # reply alone too long, or empty
    duplicates: int
    template: str
    end_of_turn: str
    max_seq_len: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "total_tokens": self.total_tokens}

    def lines(self) -> list[str]:
        sources = ", ".join(f"{n} {s}" for s, n in sorted(self.by_source.items()))
        out = [
            f"{self.examples} examples ({sources})",
            f"{self.total_tokens} tokens: {self.completion_tokens} trained on (replies + "
            f"end-of-turn {self.end_of_turn!r}), {self.prompt_tokens} of context; "
            f"longest {self.longest}",
            f"template {self.template}, max {self.max_seq_len} tokens per example",
        ]
        notes = set_notes(self.truncated, self.dropped, "reply empty or too long", self.duplicates)
        return out + (["; ".join(notes)] if notes else [])


def set_notes(truncated: int, dropped: int, dropped_why: str, duplicates: int) -> list[str]:
    """What a training set's summary says of the examples it shortened, dropped or skipped."""
    notes = []
    if truncated:
        notes.append(f"{truncated} shortened (oldest turns left out)")
    if dropped:
        notes.append(f"{dropped} dropped ({dropped_why})")
    if duplicates:
        notes.append(f"{duplicates} duplicates skipped")
    return notes


def prompt_tail(prompt: str, max_chars: int) -> str:
    """A preview's prompt: its end (what the model continues from) when it is long."""
    return prompt if len(prompt) <= max_chars else "…" + prompt[-max_chars:]


def unusable(skipped: Sequence[tuple[str, str]]) -> str:
    """`` (3 unusable: <the first reason>)`` for a NothingToTrain message, or nothing."""
    return f" ({len(skipped)} unusable: {skipped[0][1]})" if skipped else ""


def fit_prompt(
    messages: Sequence[Message], template: PromptTemplate, tok: ChatTokenizer, budget: int,
) -> tuple[FitResult, list[int]] | None:
    """The prompt for ``messages`` fitted to ``budget`` tokens (oldest turns left out first)
    and its ids, or None when even the fitted prompt is longer than ``budget``."""
    if budget < 1:
        return None

    def render(msgs: Sequence[Message]) -> str:
        return template.render(msgs, add_generation_prompt=True)

    fit = fit_to_context(messages, render, lambda s: len(tok.prompt_ids(s)), budget)
    prompt_ids = tok.prompt_ids(fit.prompt)
    return None if len(prompt_ids) > budget else (fit, prompt_ids)


@dataclass
class TrainingSet:
    examples: list[TokenizedExample]
    summary: DatasetSummary
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (example id, reason)

    def preview(self, n: int = 3, *, max_chars: int = 600) -> list[ExamplePreview]:
        """The first ``n`` examples as text; long prompts keep their end (what the model
        continues from)."""
        out = []
        for t in self.examples[:n]:
            out.append(ExamplePreview(
                t.example.id, t.example.source, prompt_tail(t.prompt, max_chars), t.completion,
                t.prompt_len,
                t.n_completion, t.truncated,
            ))
        return out


def build_training_set(
    examples: Sequence[TrainingExample],
    template: PromptTemplate,
    tokenizer: ChatTokenizer,
    *,
    max_seq_len: int = 1024,
) -> TrainingSet:
    """Render and tokenise ``examples``; raise :class:`NothingToTrain` when none is usable."""
    unique = dedupe(examples)
    duplicates = len(examples) - len(unique)
    out: list[TokenizedExample] = []
    skipped: list[tuple[str, str]] = []
    for ex in unique:
        if not ex.target.strip():
            skipped.append((ex.id, "empty reply"))
            continue
        item = _tokenize(ex, template, tokenizer, max_seq_len)
        if item is None:
            skipped.append((ex.id, f"reply alone is longer than {max_seq_len} tokens"))
            continue
        out.append(item)
    if not out:
        raise NothingToTrain(
            "nothing to train on: no rewritten reply" + unusable(skipped)
            + "; mark a failing reply and write the correct answer first"
        )
    counts = Counter(t.example.source for t in out)
    summary = DatasetSummary(
        examples=len(out),
        by_source=dict(counts),
        prompt_tokens=sum(t.prompt_len for t in out),
        completion_tokens=sum(t.n_completion for t in out),
        longest=max(t.n_tokens for t in out),
        truncated=sum(t.truncated for t in out),
        dropped=len(skipped),
        duplicates=duplicates,
        template=template.describe(),
        end_of_turn=template.end_of_turn,
        max_seq_len=max_seq_len,
    )
    return TrainingSet(out, summary, skipped)


def _tokenize(
    ex: TrainingExample, template: PromptTemplate, tok: ChatTokenizer, max_seq_len: int
) -> TokenizedExample | None:
    completion = template.completion_text(ex.target)
    completion_ids = tok.completion_ids(completion)
    fitted = fit_prompt(ex.prompt_messages, template, tok, max_seq_len - len(completion_ids))
    if fitted is None:
        return None
    fit, prompt_ids = fitted
    return TokenizedExample(
        example=ex,
        prompt=fit.prompt,
        completion=completion,
        input_ids=tuple(prompt_ids + completion_ids),
        prompt_len=len(prompt_ids),
        dropped_messages=fit.dropped_messages,
        cut_chars=fit.cut_chars,
    )
