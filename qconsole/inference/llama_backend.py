"""A llama.cpp model behind a lock, streaming text, with LoRA adapters switched in place.

Why a lock: one ``Llama`` object must not serve two threads at once, and the console streams
from worker threads. llama.cpp releases the GIL while it computes, so two backends (one per
pane) stream truly in parallel.

Why our own token loop instead of ``create_completion(stream=True)``: exact token counts, time
to first token, cancellation checked between tokens, and stop strings held back across token
boundaries (see stop_strings.py) with no per-token bookkeeping we do not need.

Adapters attach to the *context*: base weights are untouched, so switching is cheap. After a
switch the KV cache is reset, or a prefix computed under the other adapter would be reused.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from qconsole.errors import QConsoleError
from qconsole.inference.backend import GenerationStats
from qconsole.inference.stop_strings import StopStringFilter
from qconsole.models.gguf_info import GGUFInfo, read_gguf_info
from qconsole.sampling import SamplingSettings


def _no_fd_juggling() -> None:
    """Stop llama-cpp-python from silencing model loads by pointing file descriptors 1 and 2 at
    /dev/null (``suppress_stdout_stderr``). That redirect is process-wide and happens on
    whatever thread loads the model; in the console the UI thread is painting to fd 2 at that
    moment and its frames would be lost. With ``verbose=False`` llama.cpp's own log is already
    filtered to errors by llama-cpp-python's log callback, so the redirect buys nothing here.
    """
    import llama_cpp._internals as internals
    import llama_cpp.llama as llama_module

    for module in (internals, llama_module):
        setattr(module, "suppress_stdout_stderr", _NullSuppress)  # noqa: B010


class _NullSuppress(contextlib.nullcontext):
    def __init__(self, disable: bool = True) -> None:
        super().__init__()


def default_threads() -> int:
    return max(1, (os.cpu_count() or 2))


class LlamaBackend:
    """One loaded GGUF model (one llama.cpp context)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        logits_all: bool = False,
        info: GGUFInfo | None = None,
    ) -> None:
        self.info = info or read_gguf_info(path)
        if self.info.general_type == "adapter":
            raise QConsoleError(f"{self.info.path.name} is a LoRA adapter, not a model")
        self.path = self.info.path
        self.lock = threading.RLock()
        self._adapters: dict[Path, ctypes.c_void_p] = {}  # llama.cpp adapter handles by file
        self.adapter_path: Path | None = None
        self.adapter_scale = 1.0
        if self.info.context_length:
            n_ctx = min(n_ctx, self.info.context_length)
        try:
            from llama_cpp import Llama

            _no_fd_juggling()
        except ImportError as exc:  # pragma: no cover - hard dependency
            raise QConsoleError(
                "llama-cpp-python is not installed; run scripts/setup_env.sh"
            ) from exc
        try:
            self.llm = Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_threads=n_threads or default_threads(),
                n_threads_batch=n_threads or default_threads(),
                n_gpu_layers=n_gpu_layers,
                logits_all=logits_all,
                seed=0,
                verbose=False,
            )
        except Exception as exc:
            raise QConsoleError(f"llama.cpp could not load {self.path.name}: {exc}") from exc
        self.n_ctx = self.llm.n_ctx()
        self.n_threads = n_threads or default_threads()

    # -- tokens ----------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        with self.lock:
            return self.llm.tokenize(text.encode("utf-8", "replace"), add_bos=add_bos, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, add_bos=False))

    def is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    # -- generation ------------------------------------------------------------------------
    def stream(
        self,
        prompt: str,
        settings: SamplingSettings,
        *,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        """Yield the reply as text pieces; ``stats`` is filled in as it goes."""
        stats = stats if stats is not None else GenerationStats()
        with self.lock:
            start = time.perf_counter()
            tokens = self.tokenize(prompt)
            stats.prompt_tokens = len(tokens)
            room = self.n_ctx - len(tokens)
            if room < 1:
                stats.finish_reason = "error"
                raise QConsoleError(
                    f"prompt of {len(tokens)} tokens does not fit the context of {self.n_ctx}"
                )
            max_tokens = min(settings.max_tokens, room)
            self.llm.set_seed(settings.seed)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            stopper = StopStringFilter(stop)
            gen = self.llm.generate(
                tokens,
                top_k=settings.top_k if settings.temperature > 0 else 1,
                top_p=settings.top_p,
                min_p=0.0,
                temp=settings.temperature,
                repeat_penalty=settings.repeat_penalty,
            )
            reason = "length"
            try:
                for token in gen:
                    if stats.ttft_s is None:
                        stats.ttft_s = time.perf_counter() - start
                    if self.is_eog(token):
                        reason = "eos"
                        break
                    stats.completion_tokens += 1
                    piece = decoder.decode(self.llm.detokenize([token]))
                    out = stopper.feed(piece) if piece else ""
                    stats.elapsed_s = time.perf_counter() - start
                    if out:
                        yield out
                    if stopper.stopped:
                        reason = "stop"
                        break
                    if stats.completion_tokens >= max_tokens:
                        break
                    if cancel is not None and cancel.is_set():
                        reason = "cancelled"
                        break
                tail = stopper.feed(decoder.decode(b"", final=True)) + stopper.flush()
                if tail:
                    yield tail
            finally:
                gen.close()
                stats.elapsed_s = time.perf_counter() - start
                stats.finish_reason = stats.finish_reason or reason

    def complete(self, prompt: str, settings: SamplingSettings, *, stop: Sequence[str] = ()) -> str:
        return "".join(self.stream(prompt, settings, stop=stop))

    # -- adapters --------------------------------------------------------------------------
    def set_threads(self, n_threads: int) -> None:
        """Change the CPU threads of this context (prompt and generation) in place."""
        import llama_cpp

        with self.lock:
            llama_cpp.llama_set_n_threads(self.llm._ctx.ctx, n_threads, n_threads)
            self.n_threads = n_threads

    def lora_handle(self, gguf_lora: str | os.PathLike[str]) -> ctypes.c_void_p:
        """llama.cpp's handle of a GGUF LoRA on this model, loaded once per file."""
        import llama_cpp

        path = Path(gguf_lora).resolve()
        with self.lock:
            handle = self._adapters.get(path)
            if handle is None:
                if not path.exists():
                    raise QConsoleError(f"adapter file not found: {path}")
                handle = llama_cpp.llama_adapter_lora_init(
                    self.llm._model.model, str(path).encode("utf-8")
                )
                if not handle:
                    raise QConsoleError(
                        f"llama.cpp refused the adapter {path.name} "
                        "(made for another base model, or a target llama.cpp cannot patch)"
                    )
                self._adapters[path] = handle
            return handle

    def set_adapter(self, gguf_lora: str | os.PathLike[str] | None, scale: float = 1.0) -> None:
        """Apply a GGUF LoRA to this context (None: plain base). Never reloads the model."""
        import llama_cpp

        with self.lock:
            ctx = self.llm._ctx.ctx
            if gguf_lora is None:
                rc = llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
                self.adapter_path = None
            else:
                handle = self.lora_handle(gguf_lora)
                # the binding declares the element as POINTER(c_void_p), the handle it returns is a
                # c_void_p; ctypes converts one to the other, typeshed cannot know
                adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)  # type: ignore[misc]
                scales = (ctypes.c_float * 1)(scale)
                rc = llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales)
                self.adapter_path = Path(gguf_lora).resolve()
            if rc != 0:
                raise QConsoleError(f"llama.cpp could not set the adapter (code {rc})")
            self.adapter_scale = scale
            # The prefix cache was computed under the previous adapter.
            self.llm.reset()

    def close(self) -> None:
        with self.lock:
            self.llm.close()
