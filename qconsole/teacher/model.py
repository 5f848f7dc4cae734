"""The teacher as one call: an instruction in, a reply out, from a local GGUF or a chat server.

Why one user message and not a system prompt plus turns: the remote backend's chat endpoint
sends a single user message (it exists for providers that only offer chat), and a local model
gets the very same message through its own chat template, so a local and a served teacher see
byte-identical requests and their answers can be compared (the tests do). Every teacher task
(next question, draft, variants, judge, kind) is one self-contained instruction anyway.

Why greedy by default: a draft correction should be reproducible from its provenance (teacher,
prompt hash); variants ask for diversity explicitly with a temperature and a per-call seed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.prompts import Message, PromptTemplate
from qconsole.sampling import SamplingSettings
from qconsole.teacher.config import TeacherSpec, packaged_model_path


def prompt_hash(prompt: str) -> str:
    """16 hex digits of the sha256 of the exact instruction sent: provenance of a draft."""
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass
class Teacher:
    """A text model that follows instructions. ``backend`` is a LlamaBackend or RemoteBackend
    (anything with ``stream``); ``template`` renders the message for a local model (None: the
    server applies its own)."""

    backend: Any
    name: str
    template: PromptTemplate | None = None
    settings: SamplingSettings = SamplingSettings(temperature=0.0, top_p=1.0, top_k=1,
                                                  repeat_penalty=1.0, max_tokens=384)
    where: str = "local"  # local | remote

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def ask(self, instruction: str, *, max_tokens: int | None = None,
            temperature: float | None = None, seed: int | None = None) -> str:
        """The teacher's whole reply to one instruction (stripped)."""
        settings = self.settings
        changes: dict[str, Any] = {}
        if max_tokens is not None:
            changes["max_tokens"] = max_tokens
        if temperature is not None:
            changes["temperature"] = temperature
            if temperature > 0:
                changes.update(top_k=40, top_p=0.95)
        if seed is not None:
            changes["seed"] = seed
        if changes:
            settings = replace(settings, **changes)
        if self.template is not None:
            text = self.template.render([Message("user", instruction)])
            stop = self.template.stop
        else:
            text, stop = instruction, ()
        with self._lock:  # one llama.cpp context serves one request at a time
            reply = "".join(self.backend.stream(text, settings, stop=stop))
        if self.template is not None:
            reply = self.template.clean_reply(reply)
        return reply.strip()

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()


def _settings(spec: TeacherSpec) -> SamplingSettings:
    return SamplingSettings(temperature=spec.temperature, top_p=1.0 if spec.temperature == 0
                            else 0.95, top_k=1 if spec.temperature == 0 else 40,
                            repeat_penalty=1.0, max_tokens=spec.max_tokens, seed=spec.seed)


def open_teacher(spec: TeacherSpec, *, aliases: dict[str, str] | None = None) -> Teacher:
    """Load a local teacher or connect to a served one (raises one clear line)."""
    if spec.is_remote:
        from qconsole.inference.remote import RemoteBackend

        assert spec.url is not None
        rb = RemoteBackend(spec.url, spec.model, api_key_env=spec.api_key_env, n_ctx=spec.n_ctx,
                           timeout_s=spec.timeout_s, endpoint="chat",
                           sampling_extras=spec.sampling_extras).probe()
        model = spec.model or (rb.served_models[0] if rb.served_models else "remote")
        return Teacher(rb, f"{model} @ {rb.host}", None, _settings(spec), "remote")
    return open_local_teacher(spec, aliases=aliases)


def open_local_teacher(spec: TeacherSpec, *, aliases: dict[str, str] | None = None) -> Teacher:
    from qconsole.inference.llama_backend import LlamaBackend, default_threads
    from qconsole.models.gguf_info import read_gguf_info
    from qconsole.models.resolve import resolve_model
    from qconsole.prompts import template_for_model

    assert spec.spec is not None
    path = packaged_model_path(spec.spec)
    if path is None:
        path = resolve_model(spec.spec, aliases=aliases).path
    info = read_gguf_info(path)
    if not info.chat_template:
        raise QConsoleError(
            f"the teacher {path.name} has no chat template: a teacher must be an instruct "
            "(chat) model, not a base model"
        )
    backend = LlamaBackend(path, n_ctx=spec.n_ctx, n_threads=spec.threads or default_threads(),
                           info=info)
    # the template keeps a leading BOS text the tokenizer will not add (SmolLM2's
    # "<|im_start|>"): see JinjaChatTemplate.strip_bos
    template = template_for_model(info, "chat")
    return Teacher(backend, f"{path.stem} (local)", template, _settings(spec), "local")
