"""Greedy generation of several prompts at once: one llama.cpp decode call advances them all.

Why: generating one token of a 270M model reads every weight once, for one row of activations;
with several sequences in the batch the same weights serve several rows, so on a CPU the tokens
per second of the whole grow with the number of sequences (measured in benchmarks/eval.py).

How it stays the same answer as one at a time (:meth:`LlamaEngine.generate`): every prompt is
still decoded alone, in the engine's aligned blocks (qconsole.inference.llama_engine); only the
generated tokens of the running sequences share a decode call, each its own sequence in a
split (non-unified) KV cache, so attention never sees another sequence's cells. Whether the
shared matrix products round exactly as single rows do is a property of llama.cpp's kernels,
checked by the tests and the benchmark (greedy texts identical, item by item), not assumed.

A second llama.cpp context over the same loaded weights holds the sequences; the adapter set on
the engine is applied to it before every call.
"""

from __future__ import annotations

import ctypes
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qconsole.errors import QConsoleError
from qconsole.inference.llama_engine import (
    BLOCK,
    DEFAULT_MAX_GEN_TOKS,
    EvalCancelled,
    Generation,
    cut_at,
)

if TYPE_CHECKING:
    import numpy as np

    from qconsole.inference.llama_engine import LlamaEngine


@dataclass
class _Slot:
    index: int  # the request's position in the caller's list
    max_tokens: int
    pos: int = 0  # next position in this sequence
    out: list[int] = field(default_factory=list)
    text: str = ""


class BatchGenerator:
    """Up to ``n_seq`` greedy generations in flight on a context of their own.

    ``ctx_per_seq`` tokens of context per sequence (prompt plus reply). Not thread-safe by
    itself; calls take the engine's lock.
    """

    def __init__(self, engine: LlamaEngine, n_seq: int, ctx_per_seq: int | None = None) -> None:
        import llama_cpp
        import llama_cpp._internals as internals

        if n_seq < 1:
            raise ValueError("n_seq must be at least 1")
        self._c = llama_cpp
        self.engine = engine
        self.n_seq = n_seq
        self.ctx_per_seq = int(ctx_per_seq or engine.n_ctx)
        base = engine.llm.context_params
        params = llama_cpp.llama_context_params.from_buffer_copy(base)
        params.n_seq_max = n_seq
        params.n_ctx = self.ctx_per_seq * n_seq
        params.kv_unified = False  # a KV stream per sequence: attention is per sequence
        params.n_batch = max(int(base.n_batch), n_seq)
        params.n_ubatch = max(int(base.n_ubatch), n_seq)
        with engine.lock:
            self._context = internals.LlamaContext(model=engine.llm._model, params=params,
                                                   verbose=False)
        self.ctx = self._context.ctx
        self.n_batch = int(llama_cpp.llama_n_batch(self.ctx))
        self._batch = llama_cpp.llama_batch_init(max(self.n_batch, n_seq), 0, 1)
        self._adapter: object = ()  # what is set on this context (() = never set)

    def close(self) -> None:
        with self.engine.lock:
            if self._batch is not None:
                self._c.llama_batch_free(self._batch)
                self._batch = None
            self._context.close()

    # -- adapter ---------------------------------------------------------------------------
    def _sync_adapter(self) -> None:
        path = self.engine.adapter
        if path == self._adapter:
            return
        if path is None:
            rc = self._c.llama_set_adapters_lora(self.ctx, None, 0, None)
        else:
            handle = self.engine.backend.lora_handle(path)
            adapters = (self._c.llama_adapter_lora_p_ctypes * 1)(handle)
            scales = (ctypes.c_float * 1)(self.engine.backend.adapter_scale)
            rc = self._c.llama_set_adapters_lora(self.ctx, adapters, 1, scales)
        if rc != 0:
            raise QConsoleError(f"llama.cpp could not set the adapter (code {rc})")
        self._adapter = path
        self._clear()

    def _clear(self) -> None:
        mem = self._c.llama_get_memory(self.ctx)
        if mem is not None:
            self._c.llama_memory_clear(mem, True)

    # -- decoding --------------------------------------------------------------------------
    def _decode(self, entries: Sequence[tuple[int, int, int, bool]]) -> list[np.ndarray]:
        """Decode (token, position, sequence, want_logits) entries in one call."""
        import numpy as np

        batch = self._batch
        batch.n_tokens = len(entries)
        wanted = []
        for i, (tok, pos, seq, want) in enumerate(entries):
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = want
            if want:
                wanted.append(i)
        rc = self._c.llama_decode(self.ctx, batch)
        if rc != 0:
            self._clear()
            raise QConsoleError(f"llama.cpp could not decode (code {rc})")
        n_vocab = self.engine.n_vocab
        return [np.ctypeslib.as_array(self._c.llama_get_logits_ith(self.ctx, i),
                                      shape=(n_vocab,)).copy() for i in wanted]

    def _prefill(self, seq: int, prompt: Sequence[int]) -> np.ndarray:
        """Decode ``prompt`` alone into sequence ``seq`` in aligned blocks; last logits."""
        mem = self._c.llama_get_memory(self.ctx)
        self._c.llama_memory_seq_rm(mem, seq, -1, -1)
        row = None
        off = 0
        while off < len(prompt):
            size = BLOCK - off % BLOCK
            chunk = prompt[off : off + size]
            last = off + len(chunk) == len(prompt)
            entries = [(tok, off + i, seq, last and i == len(chunk) - 1)
                       for i, tok in enumerate(chunk)]
            rows = self._decode(entries)
            if rows:
                row = rows[-1]
            off += len(chunk)
        assert row is not None
        return row

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        until: Sequence[str] = (),
        max_tokens: int = DEFAULT_MAX_GEN_TOKS,
        cancel: threading.Event | None = None,
        on_done: object = None,
    ) -> list[Generation]:
        """Greedy continuations of ``prompts`` (token lists), in their order.

        The same rules as :meth:`LlamaEngine.generate`: stop at an end-of-generation token, at
        an ``until`` string or after ``max_tokens``; a too long prompt keeps its tail.
        ``on_done(n_finished)`` is called as generations finish.
        """
        import numpy as np

        engine = self.engine
        max_tokens = max(1, min(max_tokens, self.ctx_per_seq - 1))
        stops = [s for s in until if s]
        queue = deque(range(len(prompts)))
        results: list[Generation | None] = [None] * len(prompts)
        active: dict[int, _Slot] = {}  # sequence id -> slot
        logits: dict[int, np.ndarray] = {}
        finished = 0

        def fit(tokens: Sequence[int]) -> list[int]:
            kept = list(tokens)[-(self.ctx_per_seq - max_tokens):]
            return kept or [engine.bos_id if engine.bos_id >= 0 else engine.eos_id]

        with engine.lock:
            self._sync_adapter()
            self._clear()
            while queue or active:
                if cancel is not None and cancel.is_set():
                    raise EvalCancelled("evaluation cancelled")
                for seq in range(self.n_seq):  # fill free sequences
                    if seq in active or not queue:
                        continue
                    idx = queue.popleft()
                    prompt = fit(prompts[idx])
                    logits[seq] = self._prefill(seq, prompt)
                    active[seq] = _Slot(idx, max_tokens, pos=len(prompt))
                step: list[tuple[int, int, int, bool]] = []
                for seq in sorted(active):
                    slot = active[seq]
                    tok = int(np.argmax(logits[seq]))
                    reason = None
                    if engine.is_eog(tok):
                        reason = "eos"
                    else:
                        slot.out.append(tok)
                        engine.stats.generated_tokens += 1
                        slot.text = engine.llm.detokenize(slot.out).decode("utf-8", "replace")
                        if stops and any(s in slot.text for s in stops):
                            reason = "stop"
                        elif len(slot.out) >= slot.max_tokens or slot.pos + 1 >= self.ctx_per_seq:
                            reason = "length"
                    if reason is None:
                        step.append((tok, slot.pos, seq, True))
                        slot.pos += 1
                        continue
                    results[slot.index] = Generation(cut_at(slot.text, stops), slot.out, reason)
                    engine.stats.requests += 1
                    del active[seq]
                    finished += 1
                    if callable(on_done):
                        on_done(finished)
                if step:
                    rows = self._decode(step)
                    for (_, _, seq, _), row in zip(step, rows, strict=True):
                        logits[seq] = row
        return [r for r in results if r is not None]
