"""Build the two sides of the console from the configuration: resolve the model, load it into
llama.cpp, choose the prompt template, and attach the adapter for the right side.

Both sides are separate llama.cpp contexts over the same mmapped GGUF (the weights are shared
in the page cache), so they stream truly in parallel; the right side switches adapters in place
through llama.cpp's adapter API without reloading anything (see benchmarks/compare.py).
"""

from __future__ import annotations

import os

from qconsole.chat.side import ChatSide
from qconsole.config import Config
from qconsole.inference.llama_backend import LlamaBackend
from qconsole.models.gguf_info import read_gguf_info
from qconsole.models.resolve import resolve_model
from qconsole.prompts import PromptTemplate, template_for


def threads_per_side(total: int | None = None) -> int:
    """Both sides stream at once: split the cores between them."""
    return max(1, (total or os.cpu_count() or 2) // 2)


def template_for_backend(backend: LlamaBackend, choice: str) -> PromptTemplate:
    info = backend.info
    return template_for(
        choice,
        chat_template=info.chat_template,
        is_base_model=info.is_base_model,
        bos_token=info.bos_token,
        eos_token=info.eos_token,
    )


def load_backend(config: Config) -> tuple[LlamaBackend, str]:
    resolved = resolve_model(config.model, aliases=config.models)
    info = read_gguf_info(resolved.path)
    backend = LlamaBackend(
        resolved.path,
        n_ctx=config.n_ctx,
        n_threads=config.threads or threads_per_side(),
        info=info,
    )
    return backend, resolved.name


def load_sides(
    config: Config, template_choice: str
) -> tuple[ChatSide, ChatSide | None, str | None]:
    """(left, right or None, a note on why the right side is empty)."""
    backend, name = load_backend(config)
    template = template_for_backend(backend, template_choice)
    left = ChatSide("left", backend, template, model_name=name)
    return left, None, None
