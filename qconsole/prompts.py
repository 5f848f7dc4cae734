"""Prompt formats: one definition used by chat, training and evaluation alike.

A base model has no end-of-turn habit. What the chat stops on (``end_of_turn``) is exactly what
training appends after every corrected reply, so a trained adapter stops where the chat expects
it to. Change a template here and all three change together.

Two kinds:
- ``transcript``: a plain "User: / Assistant:" transcript, the natural format for a base model;
  the turn ends where the model starts the next "User:" line.
- ``chat``: the model's own Jinja chat template from its GGUF, ending turns on its EOS token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


def as_messages(items: Sequence[Message | dict]) -> list[Message]:
    return [m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in items]


def conversation_hash(context: Sequence[Message], user: str, **replies: str) -> str:
    """16 hex digits of a sha256 over a conversation and its named replies: the one recipe of
    the store's correction hash (``target=``), a training example's (the same, so the adapter's
    metadata names the store's corrections) and a preference pair's (``chosen=, rejected=``)."""
    payload = json.dumps(
        {"context": [m.to_dict() for m in context], "user": user, **replies},
        ensure_ascii=False, sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class PromptTemplate:
    """Renders a conversation into the text the model continues."""

    name: str
    stop: tuple[str, ...]
    end_of_turn: str

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        raise NotImplementedError

    def training_pair(self, context: Sequence[Message], target: str) -> tuple[str, str]:
        """(prompt, completion) for supervised training: loss goes on the completion only.

        The completion is the target reply followed by ``end_of_turn``, the very string the
        chat stops on.
        """
        prompt = self.render(context, add_generation_prompt=True)
        return prompt, self.completion_text(target)

    def completion_text(self, reply: str) -> str:
        return reply.strip() + self.end_of_turn

    def clean_reply(self, text: str) -> str:
        """Cut a raw continuation at the first stop string and trim it."""
        cut = len(text)
        for s in self.stop:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
        return text[:cut].strip()

    def describe(self) -> str:
        return self.name


DEFAULT_PREAMBLE = (
    "The following is a conversation between a User and an Assistant. "
    "The Assistant answers carefully and reasons step by step when needed.\n\n"
)


@dataclass(frozen=True)
class TranscriptTemplate(PromptTemplate):
    name: str = "transcript"
    stop: tuple[str, ...] = ("\nUser:", "\nAssistant:")
    end_of_turn: str = "\nUser:"
    preamble: str = DEFAULT_PREAMBLE
    user_label: str = "User"
    assistant_label: str = "Assistant"

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        parts = [self.preamble]
        for m in messages:
            if m.role == "system":
                parts.append(m.content.strip() + "\n\n")
            elif m.role == "user":
                parts.append(f"{self.user_label}: {m.content.strip()}\n")
            else:
                parts.append(f"{self.assistant_label}: {m.content.strip()}\n")
        if add_generation_prompt:
            parts.append(f"{self.assistant_label}:")
        return "".join(parts)

    def completion_text(self, reply: str) -> str:
        # The generation prompt ends in "Assistant:"; the model continues with " reply".
        return " " + reply.strip() + self.end_of_turn


@dataclass(frozen=True)
class JinjaChatTemplate(PromptTemplate):
    """The model's own chat template (from GGUF metadata ``tokenizer.chat_template``)."""

    name: str = "chat"
    stop: tuple[str, ...] = ()
    end_of_turn: str = ""
    source: str = ""
    bos_token: str = ""
    eos_token: str = ""
    # llama.cpp adds BOS itself when tokenizing (for most models): then a template's leading
    # BOS text is dropped so it is not doubled. False for a model llama.cpp adds none to
    # (SmolLM2: BOS is "<|im_start|>", the opening of every message): dropping it there
    # removed the start of the first message.
    strip_bos: bool = True
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

        def raise_exception(message: str) -> None:
            raise ValueError(message)

        env.globals["raise_exception"] = raise_exception
        tpl = env.from_string(self.source)
        text = tpl.render(
            messages=[m.to_dict() for m in messages],
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            enable_thinking=False,
            **self.extra,
        )
        if self.strip_bos and self.bos_token and text.startswith(self.bos_token):
            text = text[len(self.bos_token):]
        return text


TEMPLATE_NAMES = ("auto", "transcript", "chat")


def template_for(
    choice: str = "auto",
    *,
    chat_template: str | None = None,
    is_base_model: bool = True,
    bos_token: str | None = None,
    eos_token: str | None = None,
    adds_bos: bool = True,
) -> PromptTemplate:
    """Pick the prompt format for a model.

    ``auto``: the transcript for base models (their GGUF may still carry a chat template they
    were never trained to follow), the model's own template otherwise. ``adds_bos``: whether
    the tokenizer puts BOS in front by itself (GGUF ``tokenizer.ggml.add_bos_token``).
    """
    if choice not in TEMPLATE_NAMES:
        raise ValueError(f"unknown prompt template {choice!r}; choose one of {TEMPLATE_NAMES}")
    use_chat = choice == "chat" or (choice == "auto" and not is_base_model)
    if use_chat and chat_template:
        eot = _end_of_turn_for(chat_template, eos_token)
        stops = tuple(s for s in {eot, eos_token or ""} if s)
        return JinjaChatTemplate(
            stop=stops,
            end_of_turn=eot,
            source=chat_template,
            bos_token=bos_token or "",
            eos_token=eos_token or "",
            strip_bos=adds_bos,
        )
    return TranscriptTemplate()


def template_for_model(info, choice: str = "auto") -> PromptTemplate:
    """The template for a model described by a ``GGUFInfo`` (or anything with its
    ``chat_template``, ``is_base_model``, ``bos_token``, ``eos_token`` and
    ``add_bos_token``): the one call that
    chat, training and evaluation all make, so the three always agree."""
    return template_for(
        choice,
        chat_template=info.chat_template,
        is_base_model=info.is_base_model,
        bos_token=info.bos_token,
        eos_token=info.eos_token,
        adds_bos=getattr(info, "add_bos_token", True),
    )


def _end_of_turn_for(chat_template: str, eos_token: str | None) -> str:
    """The marker that closes an assistant turn in this template family."""
    for marker in ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>"):
        if marker in chat_template:
            return marker
    return eos_token or ""
