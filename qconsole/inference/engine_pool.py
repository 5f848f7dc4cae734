"""Several llama.cpp contexts over one model, each on its own thread: evaluation on every core
with the very numbers of one context alone.

Why not one context with several sequences in a batch: measured here (benchmarks/eval.py
``--cycle`` and the README), batching 4 to 8 greedy sequences in one decode call gained only
1.1 to 1.2x on this CPU (Gemma's 262k-word output layer costs the same per token either way)
and changed some greedy replies: llama.cpp's matrix kernels round a batch of rows differently
from one row. Greedy answers must not depend on how they were computed, so qconsole runs
independent contexts instead: each decodes its requests exactly as a single engine does
(qconsole.inference.llama_engine: the same blocks, the same kernels, one thread each), so every
reply and every log-likelihood is identical, and llama.cpp releases the GIL while it computes.
One context with two threads pays a thread barrier per layer; two contexts with one thread
each do not.

The pool's first member is the caller's engine (its thread count is lowered while the pool
works and restored after); the others are loaded on first use (the GGUF is memory-mapped, so
the weights are shared through the page cache). The adapter set on the first is applied to
all before each call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from qconsole.inference.llama_engine import DEFAULT_MAX_GEN_TOKS, Generation, LlamaEngine

if TYPE_CHECKING:
    from qconsole.inference.llama_engine import ProgressFn


class EnginePool:
    """``size`` engines over ``engine``'s model, ``threads_each`` CPU threads apiece."""

    def __init__(self, engine: LlamaEngine, size: int, threads_each: int = 1) -> None:
        self.engine = engine
        self.size = max(1, int(size))
        self.threads_each = max(1, int(threads_each))
        self._others: list[LlamaEngine] = []
        self._lock = threading.Lock()
        self._progress_lock = threading.Lock()

    def _members(self) -> list[LlamaEngine]:
        with self._lock:
            while len(self._others) < self.size - 1:
                self._others.append(LlamaEngine(self.engine.model_path,
                                                n_ctx=self.engine.n_ctx,
                                                n_threads=self.threads_each))
        for other in self._others:
            if other.adapter != self.engine.adapter:
                other.set_adapter(self.engine.adapter, self.engine.backend.adapter_scale)
        return [self.engine, *self._others]

    def close(self) -> None:
        with self._lock:
            for other in self._others:
                other.close()
                other.backend.close()
            self._others = []

    def _run(self, jobs: list[Callable[[LlamaEngine], Any]]) -> list[Any]:
        """Run ``jobs`` (one per member, in order) on the members, concurrently."""
        members = self._members()[: len(jobs)]
        first = self.engine.backend
        saved = first.n_threads
        first.set_threads(self.threads_each)
        try:
            if len(jobs) == 1:
                return [jobs[0](members[0])]
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                futures = [pool.submit(job, member) for job, member in zip(jobs, members,
                                                                           strict=True)]
                return [f.result() for f in futures]
        finally:
            first.set_threads(saved)

    # -- generation --------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        until: Sequence[str] = (),
        max_tokens: int = DEFAULT_MAX_GEN_TOKS,
        cancel: threading.Event | None = None,
        on_done: Callable[[int], object] | None = None,
    ) -> list[Generation]:
        """Greedy continuations of ``prompts``, in their order; each member takes the next
        prompt when it is free (in prompt order, so shared prefixes stay on one member)."""
        order = sorted(range(len(prompts)), key=lambda n: list(prompts[n]))
        results: list[Generation | None] = [None] * len(prompts)
        queue = iter(order)
        take = threading.Lock()
        finished = [0]

        def work(member: LlamaEngine) -> None:
            while True:
                with take:
                    n = next(queue, None)
                if n is None:
                    return
                results[n] = member.generate(prompts[n], until=until, max_tokens=max_tokens,
                                             cancel=cancel)
                with self._progress_lock:
                    finished[0] += 1
                    if on_done is not None:
                        on_done(finished[0])

        self._run([work] * min(self.size, max(1, len(prompts))))
        return [r for r in results if r is not None]

    # -- scoring ---------------------------------------------------------------------------
    def score(
        self,
        requests: Sequence[tuple[Sequence[int], Sequence[int]]],
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> list[tuple[float, bool]]:
        """:meth:`LlamaEngine.score` split over the members: the requests in token order, cut
        into one contiguous share each where the context changes (so a question's choices stay
        on one member and reuse its cache)."""
        n = len(requests)
        order = sorted(range(n), key=lambda k: (list(requests[k][0]), list(requests[k][1])))
        shares: list[list[int]] = []
        size = -(-n // self.size) if n else 0
        start = 0
        while start < n:
            end = min(n, start + size)
            while end < n and list(requests[order[end]][0]) == list(requests[order[end - 1]][0]):
                end += 1
            shares.append(order[start:end])
            start = end
        done = [0] * len(shares)

        def job(i: int) -> Callable[[LlamaEngine], list[tuple[float, bool]]]:
            def on_progress(k: int, total: int) -> None:
                with self._progress_lock:
                    done[i] = k
                    if progress is not None:
                        progress(sum(done), n)

            def run(member: LlamaEngine) -> list[tuple[float, bool]]:
                return member.score([requests[k] for k in shares[i]], progress=on_progress,
                                    cancel=cancel)
            return run

        if not shares:
            return []
        out: list[tuple[float, bool] | None] = [None] * n
        for share, scores in zip(shares, self._run([job(i) for i in range(len(shares))]),
                                 strict=True):
            for k, s in zip(share, scores, strict=True):
                out[k] = s
        return [s for s in out if s is not None]
