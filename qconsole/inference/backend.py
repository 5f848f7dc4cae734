"""What a pane needs from a model, whether llama.cpp in this process or a remote server."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from qconsole.sampling import SamplingSettings


@dataclass
class GenerationStats:
    """Filled in while a reply streams; final when ``finish_reason`` is set."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    elapsed_s: float = 0.0
    finish_reason: str | None = None  # stop | eos | length | cancelled | error

    @property
    def tokens_per_s(self) -> float:
        gen_time = self.elapsed_s - (self.ttft_s or 0.0)
        if self.completion_tokens <= 1 or gen_time <= 0:
            return 0.0
        return (self.completion_tokens - 1) / gen_time

    def to_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "ttft_s": self.ttft_s,
            "elapsed_s": self.elapsed_s,
            "tokens_per_s": self.tokens_per_s,
            "finish_reason": self.finish_reason,
        }


class TextBackend(Protocol):
    n_ctx: int

    def stream(
        self,
        prompt: str,
        settings: SamplingSettings,
        *,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...
