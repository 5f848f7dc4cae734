"""lm-eval's ``LM`` interface over qconsole's llama.cpp engine (qconsole.inference.llama_engine).

Why in-process and not lm-eval's ``gguf`` backend: that backend goes through a llama.cpp
server that sends no ``max_tokens`` (answers are cut at 16 tokens) and cannot switch adapters.
Here the engine scores whatever adapter is set on its context, so base and adapter are measured
on identical weights. Tokenisation follows lm-eval's ``TemplateLM`` (context and continuation
encoded together, then split), exactly as its ``hf`` backend does.

This module imports lm-eval at import time, like lm-eval's own model modules; it is imported in
one place only, lazily (:func:`qconsole.evaluation.benchmarks.llama_lm`), as lm-eval's
``models/__init__.py`` maps model names to modules imported on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lm_eval import utils as lm_utils
from lm_eval.api.model import TemplateLM

from qconsole.evaluation.base_cache import BaseCache, Decoding
from qconsole.inference.llama_engine import DEFAULT_MAX_GEN_TOKS, LlamaEngine, ProgressFn

if TYPE_CHECKING:
    from qconsole.inference.engine_pool import EnginePool

log = logging.getLogger(__name__)


class LlamaCppLM(TemplateLM):
    """lm-eval ``LM`` over a :class:`LlamaEngine` (see the module docstring)."""

    backend = "causal"

    def __init__(
        self,
        engine: LlamaEngine,
        *,
        max_gen_toks: int = DEFAULT_MAX_GEN_TOKS,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        cache: BaseCache | None = None,
        pool: Callable[[], EnginePool] | None = None,
    ) -> None:
        """``cache``: the base cache (give it only while the plain base is set);
        ``pool``: makes the engine pool that scores and generates on every core."""
        super().__init__()
        self.engine = engine
        self._max_gen_toks = max_gen_toks
        self.progress = progress
        self.cancel = cancel
        self.cache = cache
        self.pool = pool
        self._warned_sampling = False

    # identity used in lm-eval's results["config"]
    def get_model_info(self) -> dict[str, Any]:
        adapter = self.engine.adapter
        return {
            "model_path": str(self.engine.model_path),
            "adapter_path": str(adapter) if adapter else None,
            "backend": "llama.cpp (qconsole in-process)",
        }

    @property
    def eot_token_id(self) -> int:
        return self.engine.eos_id

    @property
    def prefix_token_id(self) -> int:
        bos = self.engine.bos_id
        return bos if bos >= 0 else self.engine.eos_id

    @property
    def max_length(self) -> int:
        return self.engine.n_ctx

    @property
    def max_gen_toks(self) -> int:
        return self._max_gen_toks

    @property
    def tokenizer_name(self) -> str:
        return self.engine.model_path.name

    def tok_encode(
        self, string: str, add_special_tokens: bool | None = None, **kwargs: Any
    ) -> list[int]:
        return self.engine.tokenize(string, add_bos=add_special_tokens)

    def tok_decode(self, tokens: Sequence[int], **kwargs: Any) -> str:
        return self.engine.detokenize(tokens)

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = True
                      ) -> list[tuple[float, bool]]:
        return super().loglikelihood(requests, disable_tqdm=True)  # progress: self.progress

    def _loglikelihood_tokens(
        self, requests: list[tuple[tuple[str, str], list[int], list[int]]], **kwargs: Any
    ) -> list[tuple[float, bool]]:
        pairs = [(ctx, cont) for _, ctx, cont in requests]
        out = self._score_cached(pairs)
        for (key, _, _), res in zip(requests, out, strict=True):
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, res)
        return out

    def _score(self, pairs: list[tuple[list[int], list[int]]], progress: ProgressFn | None
               ) -> list[tuple[float, bool]]:
        scorer = self.pool() if self.pool is not None else self.engine
        return scorer.score(pairs, progress=progress, cancel=self.cancel)

    def _score_cached(self, pairs: list[tuple[list[int], list[int]]]
                      ) -> list[tuple[float, bool]]:
        """The engine's scores, the base cache's where it has them."""
        if self.cache is None:
            return self._score(pairs, self.progress)
        n_ctx = self.engine.n_ctx
        keys = [self.cache.loglikelihood_key(c, k, n_ctx=n_ctx) for c, k in pairs]
        found = self.cache.get_many(keys)
        todo = [n for n, key in enumerate(keys) if key not in found]
        offset = len(pairs) - len(todo)

        def progress(done: int, total: int) -> None:
            if self.progress is not None:
                self.progress(offset + done, len(pairs))

        scored = self._score([pairs[n] for n in todo], progress)
        self.cache.put_many({keys[n]: list(res) for n, res in zip(todo, scored, strict=True)})
        fresh = dict(zip(todo, scored, strict=True))
        return [fresh[n] if n in fresh else (float(found[key][0]), bool(found[key][1]))
                for n, key in enumerate(keys)]

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False
                              ) -> list[float]:
        windows: list[tuple[list[int], list[int]]] = []
        owners: list[int] = []
        for n, req in enumerate(requests):
            (string,) = req.args
            tokens = self.tok_encode(string, add_special_tokens=False)
            for ctx, cont in map(
                lm_utils.make_disjoint_window,
                lm_utils.get_rolling_token_windows(
                    token_list=tokens,
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length,
                    context_len=1,
                ),
            ):
                windows.append((list(ctx), list(cont)))
                owners.append(n)
        scores = self._score(windows, self.progress)
        totals = [0.0] * len(requests)
        for n, (lp, _) in zip(owners, scores, strict=True):
            totals[n] += lp
        return totals

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        eos_text = self.engine.detokenize([self.eot_token_id]) if self.eot_token_id >= 0 else ""
        groups: dict[tuple[tuple[str, ...], int], list[tuple[int, list[int], str]]] = {}
        for n, req in enumerate(requests):
            context, gen_kwargs = req.args
            kw = dict(gen_kwargs or {})
            until = kw.pop("until", None) or []
            if isinstance(until, str):
                until = [until]
            if eos_text and eos_text not in until:
                until = [*until, eos_text]
            max_gen = int(kw.pop("max_gen_toks", self._max_gen_toks))
            sampling = kw.get("do_sample") and float(kw.get("temperature", 1.0) or 0) > 0
            if sampling and not self._warned_sampling:
                log.warning("sampling requested; qconsole evaluates greedily")
                self._warned_sampling = True
            groups.setdefault((tuple(until), max_gen), []).append(
                (n, self.tok_encode(context), context))
        outputs: list[str] = [""] * len(requests)
        done = 0
        for (until, max_gen), members in groups.items():
            def tick(k: int, base: int = done) -> None:
                self._tick(base + k, len(requests))

            texts = self._generate_cached(members, list(until), max_gen, tick)
            for (n, _, _), text in zip(members, texts, strict=True):
                outputs[n] = text
                self.cache_hook.add_partial("generate_until", requests[n].args, text)
            done += len(members)
        return outputs

    def _tick(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def _generate_cached(self, members: list[tuple[int, list[int], str]], until: list[str],
                         max_gen: int, on_done: Callable[[int], None]) -> list[str]:
        """Greedy texts for (index, tokens, context) members: cached, batched or one by one."""
        keys: list[str] = []
        found: dict[str, Any] = {}
        if self.cache is not None:
            decoding = Decoding(max_tokens=max_gen, stop=tuple(until), n_ctx=self.engine.n_ctx)
            keys = [self.cache.generation_key(item_id="lm-eval", prompt=context,
                                              decoding=decoding, scorer={"lm_eval": "raw"})
                    for _, _, context in members]
            found = self.cache.get_many(keys)
        todo = [k for k in range(len(members)) if not keys or keys[k] not in found]
        offset = len(members) - len(todo)
        prompts = [members[k][1] for k in todo]
        if self.pool is not None and len(prompts) > 1:
            gens = self.pool().generate(prompts, until=until, max_tokens=max_gen,
                                        cancel=self.cancel,
                                        on_done=lambda d: on_done(offset + d))
        else:
            order = sorted(range(len(prompts)), key=lambda k: prompts[k])  # shared prefixes
            slots: list[Any] = [None] * len(prompts)
            for d, k in enumerate(order, start=1):
                slots[k] = self.engine.generate(prompts[k], until=until, max_tokens=max_gen,
                                                cancel=self.cancel)
                on_done(offset + d)
            gens = slots
        texts = {k: g.text for k, g in zip(todo, gens, strict=True)}
        if self.cache is not None:
            self.cache.put_many({keys[k]: {"text": texts[k], "finish": g.finish_reason}
                                 for k, g in zip(todo, gens, strict=True)})
        return [texts[k] if k in texts else str(found[keys[k]]["text"])
                for k in range(len(members))]
