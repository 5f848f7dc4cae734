"""Build the two sides of the console from the configuration: resolve the model, load it into
llama.cpp, choose the prompt template, and attach the adapter for the right side.

Both sides are separate llama.cpp contexts over the same mmapped GGUF (the weights are shared
in the page cache), so they stream truly in parallel; the right side switches adapters in place
through llama.cpp's adapter API without reloading anything (see benchmarks/compare.py).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from qconsole.chat.side import ChatSide
from qconsole.config import Config, load_state
from qconsole.errors import QConsoleError
from qconsole.inference.backend import TextBackend
from qconsole.inference.llama_backend import LlamaBackend
from qconsole.models.gguf_info import read_gguf_info
from qconsole.models.resolve import resolve_model
from qconsole.prompts import PromptTemplate, template_for_model
from qconsole.sides import Side


def threads_per_side(total: int | None = None) -> int:
    """Both sides stream at once: split the cores between them."""
    return max(1, (total or os.cpu_count() or 2) // 2)


def template_for_backend(backend: TextBackend | None, choice: str) -> PromptTemplate:
    """The prompt template ``choice`` for a pane's model: from the GGUF's metadata for
    llama.cpp, from what the server reported (``/props``) for a remote one."""
    if isinstance(backend, LlamaBackend):
        return template_for_model(backend.info, choice)
    from qconsole.inference.remote import RemoteBackend
    from qconsole.prompts import template_for

    if isinstance(backend, RemoteBackend):
        return template_for(choice, chat_template=backend.chat_template,
                            bos_token=backend.bos_token, eos_token=backend.eos_token)
    return template_for(choice)


def load_backend(config: Config, path: Path | None = None) -> tuple[LlamaBackend, str]:
    """Load the configured model (or ``path``, the same model for a second context)."""
    if path is not None:
        backend = LlamaBackend(path, n_ctx=config.n_ctx,
                               n_threads=config.threads or threads_per_side())
        return backend, path.stem
    resolved = resolve_model(config.model, aliases=config.models)
    info = read_gguf_info(resolved.path)
    backend = LlamaBackend(
        resolved.path,
        n_ctx=config.n_ctx,
        n_threads=config.threads or threads_per_side(),
        info=info,
    )
    return backend, resolved.name


NO_ADAPTER = (
    "No adapter yet.\n\n"
    "This pane shows the same base model patched with a LoRA adapter. "
    "Make one: Ctrl+T to select a turn, m to mark a failing reply, w to rewrite it, "
    "then F5 to train. Or drop a PEFT adapter directory into adapters/ and press F3."
)


def adapter_fingerprint(adapter_dir: Path) -> str:
    """A short hash of the adapter weights, recorded with every reply it produced."""
    digest = hashlib.sha256()
    for name in ("adapter_model.safetensors", "adapter_model.bin", "adapter_config.json"):
        f = adapter_dir / name
        if f.is_file():
            with open(f, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest()[:16]


def default_adapter_name(base_gguf: Path) -> tuple[str | None, str | None]:
    """The adapter to show at start: the last one used, else the newest usable one.
    Returns (name, note for the pane when there is none)."""
    from qconsole.adapters.registry import list_adapters

    entries = list_adapters(base_gguf)
    usable = [e for e in entries if e.usable]
    if not usable:
        if entries:
            reasons = "; ".join(f"{e.name}: {e.reason}" for e in entries[:3])
            return None, NO_ADAPTER + f"\n\nAdapters found but not usable with this base: {reasons}"
        return None, NO_ADAPTER
    last = load_state().get("adapter")
    for e in usable:
        if e.name == last:
            return e.name, None
    newest = max(usable, key=lambda e: (e.meta.created if e.meta else "", e.path.stat().st_mtime))
    return newest.name, None


def attach_adapter(
    config: Config, left: ChatSide, right: ChatSide | None, name: str
) -> ChatSide:
    """The right side with adapter ``name`` applied, reusing its llama.cpp context if it has one
    (an adapter switch never reloads the model)."""
    from qconsole.adapters.gguf_lora import ensure_gguf_lora
    from qconsole.adapters.registry import get_adapter

    if not isinstance(left.backend, LlamaBackend):
        raise QConsoleError(f"adapter {name} applies to a local model; the left pane is remote")
    base_path = left.backend.path
    entry = get_adapter(name, base_path)
    if not entry.usable:
        raise QConsoleError(f"adapter {name} cannot be used: {entry.reason}")
    if right is not None and _is_remote(right.backend):
        # a server pane: vLLM loads the PEFT folder at runtime, llama-server selects its file
        right.backend.load_adapter(entry.name, entry.path)  # type: ignore[union-attr]
        right.adapter_name = entry.name
        right.adapter_fingerprint = adapter_fingerprint(entry.path)
        return right
    gguf = ensure_gguf_lora(entry, base_gguf=base_path)
    if right is not None and isinstance(right.backend, LlamaBackend):
        backend = right.backend
    else:
        backend, _ = load_backend(config, base_path)
    backend.set_adapter(gguf)
    side = right or ChatSide("right", backend, left.template, model_name=left.model_name)
    side.backend = backend
    side.template = left.template
    side.adapter_name = entry.name
    side.adapter_fingerprint = adapter_fingerprint(entry.path)
    return side


def _is_remote(backend: object) -> bool:
    from qconsole.inference.remote import RemoteBackend

    return isinstance(backend, RemoteBackend)


def _remote_side(config: Config, side: Side, template: PromptTemplate | None) -> ChatSide | None:
    """A side served by an OpenAI-compatible server, if the config has ``[remote.<side>]``."""
    from qconsole.inference.remote.config import remote_spec_for

    spec = remote_spec_for(config.remote, side)
    if spec is None:
        return None
    rb = spec.open()  # probes the server: QConsoleError with one line if it is not there
    if template is None:  # both sides get the same template, so the comparison stays fair
        template = template_for_backend(rb, config.template)
    return ChatSide(side, rb, template, model_name=rb.display_name,
                    adapter_name=None if rb.adapter is None else str(rb.adapter))


def load_sides(
    config: Config, template_choice: str
) -> tuple[ChatSide, ChatSide | None, str | None]:
    """(left, right or None, a note on why the right side is empty)."""
    left = _remote_side(config, "left", None)
    if left is None:
        backend, name = load_backend(config)
        template = template_for_backend(backend, template_choice)
        left = ChatSide("left", backend, template, model_name=name)
    remote_right = _remote_side(config, "right", left.template)
    if remote_right is not None:
        return left, remote_right, None
    if not isinstance(left.backend, LlamaBackend):
        return left, None, "The right pane has no [remote.right] server configured."
    try:
        adapter, note = default_adapter_name(left.backend.path)
    except QConsoleError as exc:
        return left, None, f"{NO_ADAPTER}\n\n({exc})"
    if adapter is None:
        return left, None, note
    try:
        return left, attach_adapter(config, left, None, adapter), None
    except QConsoleError as exc:
        return left, None, f"{NO_ADAPTER}\n\nThe adapter {adapter} could not be loaded: {exc}"
