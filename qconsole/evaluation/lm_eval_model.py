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
from collections.abc import Sequence
from typing import Any

from lm_eval import utils as lm_utils
from lm_eval.api.model import TemplateLM

from qconsole.inference.llama_engine import DEFAULT_MAX_GEN_TOKS, LlamaEngine, ProgressFn

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
    ) -> None:
        super().__init__()
        self.engine = engine
        self._max_gen_toks = max_gen_toks
        self.progress = progress
        self.cancel = cancel
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
        out = self.engine.score(pairs, progress=self.progress, cancel=self.cancel)
        for (key, _, _), res in zip(requests, out, strict=True):
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, res)
        return out

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
        scores = self.engine.score(windows, progress=self.progress, cancel=self.cancel)
        totals = [0.0] * len(requests)
        for n, (lp, _) in zip(owners, scores, strict=True):
            totals[n] += lp
        return totals

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        order = []
        for n, req in enumerate(requests):
            context, gen_kwargs = req.args
            order.append((self.tok_encode(context), dict(gen_kwargs or {}), n, req))
        order.sort(key=lambda o: o[0])
        outputs: list[str] = [""] * len(requests)
        eos_text = self.engine.detokenize([self.eot_token_id]) if self.eot_token_id >= 0 else ""
        for done, (tokens, kw, n, req) in enumerate(order, start=1):
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
            gen = self.engine.generate(
                tokens, until=until, max_tokens=max_gen, cancel=self.cancel
            )
            outputs[n] = gen.text
            self.cache_hook.add_partial("generate_until", req.args, gen.text)
            if self.progress is not None:
                self.progress(done, len(requests))
        return outputs

