"""What a pane needs from a model, whether llama.cpp in this process or a remote server."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Protocol

from qconsole.inference.llama_backend import GenerationStats
from qconsole.sampling import SamplingSettings


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
