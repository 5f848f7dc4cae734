"""A scripted stand-in for llama.cpp, for UI-only tests (snapshots) whose screens must not
depend on what a real model happens to say or how fast it runs (the scripted_loader fixture of
tests/ui/conftest.py). Every behaviour of the real model path has its own tests against the real
embedded model."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from qconsole.chat.side import ChatSide
from qconsole.inference.backend import GenerationStats
from qconsole.prompts import TranscriptTemplate
from qconsole.sampling import SamplingSettings


class ScriptedBackend:
    n_ctx = 4096

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.path = None

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self,
        prompt: str,
        settings: SamplingSettings,
        *,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        reply = self.replies.pop(0) if self.replies else "…"
        words = reply.split(" ")
        for i, w in enumerate(words):
            yield w if i == 0 else " " + w
        if stats is not None:
            stats.prompt_tokens = self.count_tokens(prompt)
            stats.completion_tokens = len(words)
            stats.ttft_s, stats.elapsed_s = 0.05, 0.05 + 0.02 * len(words)
            stats.finish_reason = "stop"


def scripted_loader(left_replies: list[str], right_replies: list[str] | None):
    def load(config, template_choice):
        template = TranscriptTemplate()
        left = ChatSide("left", ScriptedBackend(left_replies), template, model_name="scripted-base")
        right = None
        if right_replies is not None:
            right = ChatSide("right", ScriptedBackend(right_replies), template,
                             model_name="scripted-base", adapter_name="fairness-v1",
                             adapter_fingerprint="0123456789abcdef")
        return left, right, None

    return load


class GatedBackend(ScriptedBackend):
    """Yields the first word of its reply, then holds the rest until ``gate`` is set (or the
    turn is cancelled): a reply still streaming while a test changes what is on screen."""

    def __init__(self, replies: list[str], gate: threading.Event) -> None:
        super().__init__(replies)
        self.gate = gate

    def stream(self, prompt, settings, *, stop=(), cancel=None, stats=None):
        pieces = super().stream(prompt, settings, stop=stop, cancel=cancel, stats=stats)
        yield next(pieces)
        while not self.gate.wait(0.02):
            if cancel is not None and cancel.is_set():
                return
        yield from pieces


def gated_loader(reply: str, gate: threading.Event):
    """A sides loader with a gated left side and no right side."""

    def load(config, template_choice):
        left = ChatSide("left", GatedBackend([reply], gate), TranscriptTemplate(),
                        model_name="scripted-base")
        return left, None, None

    return load
