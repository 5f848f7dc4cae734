"""A llama.cpp engine for evaluation: scores continuations and generates greedily, fast.

It serves lm-eval (qconsole.evaluation.lm_eval_model) and qconsole's own generated suites over
the same GGUF (and GGUF LoRA) the chat talks to: one loaded model scores base and adapter by
switching the LoRA on the context (:meth:`LlamaEngine.set_adapter`), so both are measured on
identical weights.

Why our own decode loop instead of ``Llama.eval``: ``Llama`` with ``logits_all`` computes and
copies logits for every prompt position. With Gemma's 262k vocabulary the output layer is as
costly as the rest of the network, so :class:`LlamaEngine` asks llama.cpp for logits only at the
positions being scored, and keeps the KV cache of the previous request: requests are sorted by
their tokens, so a multiple-choice question's endings and a few-shot prompt's shared examples
are computed once. Every request is nevertheless computed exactly as a fresh engine would
compute it alone (fixed decode grouping, see "KV cache" below): scores never depend on order.

Greedy generation is argmax decoding, the chat's GREEDY settings. Prompt formats are applied by
the callers (qconsole.prompts), not here.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qconsole.errors import QConsoleError

if TYPE_CHECKING:
    import numpy as np

    from qconsole.inference.llama_backend import LlamaBackend

DEFAULT_N_CTX = 4096
DEFAULT_MAX_GEN_TOKS = 256
BLOCK = 64  # prompt tokens per decode call, aligned from position 0 (see "KV cache" below)
ProgressFn = Callable[[int, int], None]


class EvalCancelled(QConsoleError):
    """Raised between requests when the cancel event is set."""


@dataclass
class EngineStats:
    """What the engine did: tokens decoded vs reused from the KV cache."""

    requests: int = 0
    decoded_tokens: int = 0
    reused_tokens: int = 0
    generated_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Generation:
    text: str
    tokens: list[int] = field(default_factory=list)
    finish_reason: str = "length"  # stop | eos | length


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class LlamaEngine:
    """One llama.cpp context scoring and generating tokens, with KV prefix reuse.

    Not thread-safe by itself; every public method takes the backend's lock.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        backend: LlamaBackend | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
    ) -> None:
        if backend is None:
            if model_path is None:
                raise ValueError("give a model path or a loaded LlamaBackend")
            from qconsole.inference.llama_backend import LlamaBackend

            backend = LlamaBackend(model_path, n_ctx=n_ctx, n_threads=n_threads)
        import llama_cpp

        self._c = llama_cpp
        self.backend = backend
        self.llm = backend.llm
        self.lock = backend.lock
        self.n_ctx = backend.n_ctx
        self.n_batch = int(llama_cpp.llama_n_batch(self.llm._ctx.ctx))
        self.vocab = self.llm._model.vocab
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.bos_id = int(llama_cpp.llama_vocab_bos(self.vocab))
        self.eos_id = int(llama_cpp.llama_vocab_eos(self.vocab))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))
        self.stats = EngineStats()
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._past: list[int] = []  # tokens whose keys/values sit in sequence 0
        self._past_adapter: Path | None = None
        self._aligned = 0
        self._ctx_row: tuple[tuple[int, ...], np.ndarray] | None = None  # last context's logits

    # -- model identity ---------------------------------------------------------------------
    @property
    def model_path(self) -> Path:
        return self.backend.path

    @property
    def adapter(self) -> Path | None:
        return self.backend.adapter_path

    def set_adapter(self, gguf_lora: str | os.PathLike[str] | None, scale: float = 1.0) -> None:
        """Switch to ``gguf_lora`` (None: the plain base); the KV cache is dropped."""
        with self.lock:
            self.backend.set_adapter(gguf_lora, scale)
            self._forget()

    def close(self) -> None:
        """Free the engine's batch (the backend stays open: it may be shared)."""
        with self.lock:
            if self._batch is not None:
                self._c.llama_batch_free(self._batch)
                self._batch = None

    # -- tokens -------------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_bos: bool | None = None) -> list[int]:
        """Tokens of ``text``; ``add_bos=None`` follows the model (and never doubles a BOS)."""
        if add_bos is None:
            add_bos = self.add_bos and not self._starts_with_bos(text)
        with self.lock:
            return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def detokenize(self, tokens: Sequence[int]) -> str:
        with self.lock:
            return self.llm.detokenize(list(tokens)).decode("utf-8", errors="replace")

    def is_eog(self, token: int) -> bool:
        return bool(self._c.llama_vocab_is_eog(self.vocab, token))

    @functools.cached_property
    def bos_text(self) -> str:
        if self.bos_id < 0:
            return ""
        with self.lock:
            return self.llm.detokenize([self.bos_id], special=True).decode("utf-8", "replace")

    def _starts_with_bos(self, text: str) -> bool:
        return bool(self.bos_text) and text.startswith(self.bos_text)

    # -- KV cache -----------------------------------------------------------------------------
    # llama.cpp's numbers depend on how tokens are grouped into decode calls (its kernels and
    # 8-bit activation quantisation differ with the batch shape; Gemma's BOS attention sink
    # magnifies that to a tenth of a nat). So every request is computed with one fixed grouping,
    # as a fresh engine would: the prompt in blocks aligned at multiples of BLOCK from position
    # 0 (the last one partial), then the continuation in one call (or generated tokens one by
    # one). A cached prefix is reused only up to a block boundary that was itself decoded that
    # way, so reuse changes the speed, never the result.
    def _forget(self) -> None:
        mem = self._c.llama_get_memory(self.llm._ctx.ctx)
        if mem is not None:
            self._c.llama_memory_clear(mem, True)
        self._past = []
        self._aligned = 0  # cached positions [0, _aligned) were decoded as whole aligned blocks
        self._ctx_row = None
        self._past_adapter = self.backend.adapter_path
        self.llm.reset()

    def _keep_prefix(self, tokens: Sequence[int], limit: int, *, exact: bool = False) -> int:
        """Keep the cached prefix of ``tokens`` that may be reused; return its length.

        ``exact``: keep exactly ``limit`` tokens if they are cached (the caller knows they were
        computed canonically), else fall back to the aligned rule.
        """
        if self.llm.n_tokens != 0 or self._past_adapter != self.backend.adapter_path:
            # Someone used Llama.generate on this context, or the adapter changed under us.
            self._forget()
        common = _common_prefix(self._past, tokens)
        if exact and common >= limit:
            keep = limit
        else:
            keep = min(common, limit, self._aligned) // BLOCK * BLOCK
        if keep < len(self._past):
            mem = self._c.llama_get_memory(self.llm._ctx.ctx)
            if not self._c.llama_memory_seq_rm(mem, 0, keep, -1):
                self._forget()
                keep = 0
            else:
                del self._past[keep:]
        self._aligned = min(self._aligned, keep // BLOCK * BLOCK)
        if self._ctx_row is not None and len(self._ctx_row[0]) > keep:
            self._ctx_row = None  # that context's last position is no longer cached
        self.stats.reused_tokens += keep
        return keep

    def _decode(self, tokens: Sequence[int], want_from: int, *, aligned: bool) -> np.ndarray:
        """Append ``tokens`` to the cached sequence; return logits of positions >= want_from.

        ``aligned``: split the calls at multiples of BLOCK (prompts); otherwise one call per
        n_batch tokens from here (continuations, single generated tokens). Positions are
        absolute; one row per wanted position, in order.
        """
        import numpy as np

        start = len(self._past)
        if start + len(tokens) > self.n_ctx:
            raise QConsoleError(
                f"{start + len(tokens)} tokens do not fit the context of {self.n_ctx}"
            )
        rows: list[np.ndarray] = []
        batch = self._batch
        ctx = self.llm._ctx.ctx
        off = 0
        while off < len(tokens):
            pos0 = start + off
            size = BLOCK - pos0 % BLOCK if aligned else self.n_batch
            chunk = tokens[off : off + size]
            wanted: list[int] = []
            batch.n_tokens = len(chunk)
            for i, tok in enumerate(chunk):
                pos = pos0 + i
                batch.token[i] = tok
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                want = pos >= want_from
                batch.logits[i] = want
                if want:
                    wanted.append(i)
            rc = self._c.llama_decode(ctx, batch)
            if rc != 0:
                self._forget()
                raise QConsoleError(f"llama.cpp could not decode (code {rc})")
            self._past.extend(chunk)
            if aligned and pos0 == self._aligned and len(self._past) % BLOCK == 0:
                self._aligned = len(self._past)
            self.stats.decoded_tokens += len(chunk)
            for i in wanted:
                ptr = self._c.llama_get_logits_ith(ctx, i)
                rows.append(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy())
            off += len(chunk)
        if not rows:
            return np.zeros((0, self.n_vocab), dtype=np.float32)
        return np.stack(rows)

    # -- scoring ------------------------------------------------------------------------------
    def score(
        self,
        requests: Sequence[tuple[Sequence[int], Sequence[int]]],
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> list[tuple[float, bool]]:
        """Log-probability of each continuation given its context, and whether greedy.

        ``requests`` are (context tokens, continuation tokens); the context must hold at least
        one token (lm-eval puts BOS there for an empty context). Inputs longer than the context
        window are cut from the left, as lm-eval's hf backend does.

        Every request is computed the same way: the context (past what the previous request
        already left in the KV cache) in one pass, then the continuation in one pass. llama.cpp's
        numbers depend slightly on how tokens are batched, so this fixed split is what makes
        the endings of one question comparable to each other, whatever order they come in.
        """
        import numpy as np

        results: list[tuple[float, bool] | None] = [None] * len(requests)
        prepared: list[tuple[list[int], list[int], int]] = []
        for idx, (ctx_toks, cont_toks) in enumerate(requests):
            if not cont_toks:
                results[idx] = (0.0, True)
                continue
            whole = (list(ctx_toks) + list(cont_toks))[-(self.n_ctx + 1) :]
            n_cont = min(len(cont_toks), len(whole) - 1)
            if n_cont < 1:
                raise ValueError("a scoring request needs at least one context token")
            prepared.append((whole[:-n_cont], whole[-n_cont:], idx))
        prepared.sort(key=lambda p: (p[0], p[1]))  # neighbours share prefixes
        done = len(requests) - len(prepared)
        with self.lock:
            for ctx, cont, idx in prepared:
                if cancel is not None and cancel.is_set():
                    raise EvalCancelled("evaluation cancelled")
                first_row = self._context_logits(ctx)
                rest = self._decode(cont[:-1], len(ctx), aligned=False)
                logits = np.vstack([first_row[None, :], rest])
                lse = _logsumexp_rows(logits)
                picked = logits[np.arange(len(cont)), cont].astype(np.float64)
                logprob = float(np.sum(picked - lse))
                greedy = bool(np.all(np.argmax(logits, axis=1) == np.asarray(cont)))
                results[idx] = (logprob, greedy)
                self.stats.requests += 1
                done += 1
                if progress is not None:
                    progress(done, len(requests))
        return [r for r in results if r is not None]

    def _context_logits(self, ctx: list[int]) -> np.ndarray:
        """Logits after the last context token, from the cache when this context was just seen."""
        key = tuple(ctx)
        if self._ctx_row is not None and self._ctx_row[0] == key:
            row = self._ctx_row[1]
            if self._keep_prefix(ctx, len(ctx), exact=True) == len(ctx):
                return row
        keep = self._keep_prefix(ctx, len(ctx) - 1)
        row = self._decode(ctx[keep:], len(ctx) - 1, aligned=True)[-1]
        self._ctx_row = (key, row)
        return row

    # -- generation ---------------------------------------------------------------------------
    def generate(
        self,
        prompt_tokens: Sequence[int],
        *,
        until: Sequence[str] = (),
        max_tokens: int = DEFAULT_MAX_GEN_TOKS,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """Greedy continuation of ``prompt_tokens``, cut before the first ``until`` string.

        Stops at an end-of-generation token, at ``until``, or after ``max_tokens`` tokens. A
        prompt too long for the window keeps its last ``n_ctx - max_tokens`` tokens.
        """
        import numpy as np

        max_tokens = max(1, min(max_tokens, self.n_ctx - 1))
        prompt = list(prompt_tokens)[-(self.n_ctx - max_tokens) :]
        if not prompt:
            prompt = [self.bos_id if self.bos_id >= 0 else self.eos_id]
        stops = [s for s in until if s]
        out: list[int] = []
        text = ""
        reason = "length"
        with self.lock:
            keep = self._keep_prefix(prompt, len(prompt) - 1)
            logits = self._decode(prompt[keep:], len(prompt) - 1, aligned=True)[-1]
            while len(out) < max_tokens:
                if cancel is not None and cancel.is_set():
                    raise EvalCancelled("evaluation cancelled")
                tok = int(np.argmax(logits))
                if self.is_eog(tok):
                    reason = "eos"
                    break
                out.append(tok)
                self.stats.generated_tokens += 1
                text = self.llm.detokenize(out).decode("utf-8", errors="replace")
                if stops and any(s in text for s in stops):
                    reason = "stop"
                    break
                if len(out) >= max_tokens or len(self._past) + 1 >= self.n_ctx:
                    break
                logits = self._decode([tok], len(self._past), aligned=False)[-1]
            self.stats.requests += 1
        return Generation(cut_at(text, stops), out, reason)

    def generate_text(
        self,
        prompt: str,
        *,
        until: Sequence[str] = (),
        max_tokens: int = DEFAULT_MAX_GEN_TOKS,
        cancel: threading.Event | None = None,
    ) -> Generation:
        return self.generate(
            self.tokenize(prompt), until=until, max_tokens=max_tokens, cancel=cancel
        )


def cut_at(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the first of ``stops``."""
    cut = len(text)
    for s in stops:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


def _logsumexp_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp: exponentials in float32 (30x faster over 262k logits than float64),
    the sum and log in float64; about 1e-8 from the all-float64 result."""
    import numpy as np

    m = logits.max(axis=1, keepdims=True)
    total = np.exp(logits - m).sum(axis=1, dtype=np.float64)
    return m[:, 0].astype(np.float64) + np.log(total)
