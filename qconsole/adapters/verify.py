"""Equivalence check: does llama.cpp with our GGUF LoRA compute what transformers + PEFT computes?

For each of a few fixed prompts (tokenised once, by llama.cpp, and fed to both engines as the
same token ids), llama.cpp decodes greedily with the adapter, keeping its full next-token
distribution at every step; transformers + PEFT (fp32, on the dequantised base) scores the same
path in one forward pass, with the adapter and with it disabled, and also decodes greedily on its
own. Both engines also run the base with no adapter along that path. Reported:

- ``greedy``: how many leading greedy tokens the two engines share (of ``n_tokens``);
- ``top1``: on the shared path, the share of steps where both engines pick the same next token;
- ``KL eng``: mean KL(transformers || llama.cpp) with the adapter, the engines' disagreement;
- ``KL base``: the same with no adapter, the floor set by the base's quantisation;
- ``effect``: mean KL(adapter || base) inside each engine, what the adapter changes.

It passes when the adapter changes the output in transformers clearly above the engines' noise
(else there is nothing to check), llama.cpp shows a change of the same size (an ignored or zeroed
adapter shows none, a mis-scaled one a much larger one), the engines' disagreement with the
adapter stays near their disagreement without it, and the next-token choices agree.

Why these thresholds. Measured on Gemma 3 270M Q4_K_M (4 prompts x 16 tokens, 2 threads): the
llama.cpp model computes with Q4_K/Q6_K weights and 8-bit-quantised activations in its dot
products, transformers with the same weights dequantised to fp32, so even without an adapter the
engines differ: mean KL 0.003 to 0.03 nats per prompt (0.005 to 0.010 overall), 88 to 100% of
next tokens equal per prompt (97% overall). Correct conversions of random r=4 adapters with B of
std 0.005 / 0.02 / 0.05 and of an adapter trained 8 steps on one sentence: effect 0.045 / 0.27 /
1.66 / 2.0 nats in transformers, llama.cpp/transformers effect ratio 0.94 to 1.42, engine KL with
the adapter 0.004 to 0.016 (at most 2.2 x the floor), next-token agreement 95 to 98%. Deliberate
faults on the 0.02 adapter: B zeroed (llama.cpp effect 0.000, engine KL 0.29, agreement 78%),
every block's LoRA moved to the next block (engine KL 0.48, agreement 75%), B doubled (effect
ratio 4.0, engine KL 0.48, agreement 69%), unknown tensor names (llama.cpp refuses the file). So:
effect in transformers >= max(0.01, 2 x floor); effect ratio within [0.5, 2]; engine KL <=
2 x floor + 0.25 x effect; next-token agreement >= 85%. Greedy agreement is reported but not
required: one near-tie legitimately sends two correct engines down different continuations
(the 0.05 adapter's first prompt: 0/16 greedy, 94% next-token agreement).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qconsole.errors import QConsoleError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from qconsole.adapters.registry import AdapterEntry
    from qconsole.inference.llama_backend import LlamaBackend

DEFAULT_PROMPTS: tuple[str, ...] = (
    "The capital of France is",
    "Q: Tom has 3 apples. He buys 5 more and eats 2. How many apples does he have now?\nA:",
    "User: How does a judgement differ from a description?\nAssistant:",
    "def fibonacci(n):\n",
)
DEFAULT_TOKENS = 16

MIN_EFFECT = 0.01  # nats: below this the adapter does nothing measurable even in transformers
MIN_EFFECT_OVER_FLOOR = 2.0  # ... and it must stand out from the engines' disagreement
EFFECT_RATIO_RANGE = (0.5, 2.0)  # llama.cpp effect / transformers effect
FLOOR_FACTOR = 2.0  # engine KL with adapter <= FLOOR_FACTOR x floor + CROSS_MAX_RATIO x effect
CROSS_MAX_RATIO = 0.25
MIN_TOP1 = 0.85  # teacher-forced next-token agreement between engines


@dataclass
class PromptResult:
    prompt: str
    n_tokens: int
    greedy_match: int
    top1_agreement: float
    kl_engines: float
    kl_engines_base: float
    effect_hf: float
    effect_llama: float
    max_logprob_diff: float
    tokenizer_agrees: bool
    llama_text: str
    changed_top1: float  # share of steps where the adapter changes llama.cpp's next token
    hf_text: str


@dataclass
class VerifyReport:
    adapter: str
    gguf_lora: Path | None
    results: list[PromptResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures and bool(self.results)

    def _mean(self, attr: str) -> float:
        values = [getattr(r, attr) for r in self.results]
        return sum(values) / len(values) if values else 0.0

    @property
    def effect_hf(self) -> float:
        return self._mean("effect_hf")

    @property
    def effect_llama(self) -> float:
        return self._mean("effect_llama")

    @property
    def kl_engines(self) -> float:
        return self._mean("kl_engines")

    @property
    def kl_engines_base(self) -> float:
        return self._mean("kl_engines_base")

    @property
    def top1_agreement(self) -> float:
        total = sum(r.n_tokens for r in self.results)
        agree = sum(r.top1_agreement * r.n_tokens for r in self.results)
        return agree / total if total else 0.0

    @property
    def greedy_agreement(self) -> float:
        total = sum(r.n_tokens for r in self.results)
        return sum(r.greedy_match for r in self.results) / total if total else 0.0

    def table(self) -> str:
        """A plain-text table, one row per prompt, a total row and the verdict."""
        head = (
            f"{'prompt':<34} {'greedy':>7} {'top1':>6} {'KL eng':>8} {'KL base':>8} "
            f"{'effect HF':>10} {'effect llama':>12}"
        )
        lines = [f"adapter {self.adapter}: {self.gguf_lora or '(no GGUF LoRA)'}", head,
                 "-" * len(head)]
        for r in self.results:
            label = r.prompt.replace("\n", " ")
            label = label if len(label) <= 34 else label[:31] + "..."
            lines.append(
                f"{label:<34} {r.greedy_match:>3}/{r.n_tokens:<3} {r.top1_agreement:>6.0%} "
                f"{r.kl_engines:>8.4f} {r.kl_engines_base:>8.4f} {r.effect_hf:>10.4f} "
                f"{r.effect_llama:>12.4f}"
            )
        if self.results:
            lines.append("-" * len(head))
            lines.append(
                f"{'all':<34} {self.greedy_agreement:>7.0%} {self.top1_agreement:>6.0%} "
                f"{self.kl_engines:>8.4f} {self.kl_engines_base:>8.4f} {self.effect_hf:>10.4f} "
                f"{self.effect_llama:>12.4f}"
            )
        lines += [f"warning: {w}" for w in self.warnings]
        if self.passed:
            lines.append(f"PASS ({self.seconds:.1f} s): llama.cpp applies the adapter as PEFT does")
        else:
            lines += [f"FAIL: {f}" for f in self.failures]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "gguf_lora": str(self.gguf_lora) if self.gguf_lora else None,
            "passed": self.passed,
            "failures": self.failures,
            "warnings": self.warnings,
            "greedy_agreement": self.greedy_agreement,
            "top1_agreement": self.top1_agreement,
            "kl_engines": self.kl_engines,
            "kl_engines_base": self.kl_engines_base,
            "effect_hf": self.effect_hf,
            "effect_llama": self.effect_llama,
            "seconds": self.seconds,
            "prompts": [vars(r) for r in self.results],
        }


def judge(report: VerifyReport) -> list[str]:
    """The failures of a report by the thresholds in this module's docstring."""
    failures: list[str] = []
    effect_hf, effect_llama = report.effect_hf, report.effect_llama
    floor = report.kl_engines_base
    needed = max(MIN_EFFECT, MIN_EFFECT_OVER_FLOOR * floor)
    if effect_hf < needed:
        failures.append(
            f"the adapter changes too little to check, even in transformers (effect "
            f"{effect_hf:.4f} < {needed:.4f} nats): untrained adapter, or try other --prompt"
        )
        return failures
    ratio = effect_llama / effect_hf
    low, high = EFFECT_RATIO_RANGE
    if ratio < low:
        failures.append(
            f"llama.cpp barely applies the adapter: effect {effect_llama:.4f} vs "
            f"{effect_hf:.4f} in transformers (ratio {ratio:.2f} < {low})"
        )
    elif ratio > high:
        failures.append(
            f"llama.cpp applies the adapter too strongly: effect {effect_llama:.4f} vs "
            f"{effect_hf:.4f} in transformers (ratio {ratio:.2f} > {high})"
        )
    allowed = FLOOR_FACTOR * floor + CROSS_MAX_RATIO * effect_hf
    if report.kl_engines > allowed:
        failures.append(
            f"the engines disagree with the adapter: KL {report.kl_engines:.4f} > "
            f"{allowed:.4f} ({FLOOR_FACTOR:g} x base floor + {CROSS_MAX_RATIO} x effect)"
        )
    if report.top1_agreement < MIN_TOP1:
        failures.append(
            f"next-token agreement {report.top1_agreement:.0%} < {MIN_TOP1:.0%}"
        )
    return failures


# -- numerics ----------------------------------------------------------------------------------
def _log_softmax(x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _kl(lp: np.ndarray, lq: np.ndarray) -> float:
    """Mean over rows of KL(p || q) from log-probabilities."""
    import numpy as np

    return float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=-1)))


def _leading_match(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


# -- engines -----------------------------------------------------------------------------------
def _last_logits(backend: LlamaBackend, index: int = -1) -> np.ndarray:
    import llama_cpp
    import numpy as np

    llm = backend.llm
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, index)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float32)


def _llama_greedy(backend: LlamaBackend, ids: list[int], n: int) -> list[int]:
    """llama.cpp's own greedy continuation (stops early at an end-of-generation token)."""
    llm = backend.llm
    llm.reset()
    llm.eval(ids)
    tokens: list[int] = []
    for _ in range(n):
        token = int(_last_logits(backend).argmax())
        tokens.append(token)
        if backend.is_eog(token) or len(tokens) == n:
            break
        llm.eval([token])
    return tokens


def _llama_scores(backend: LlamaBackend, ids: list[int], path: list[int]) -> np.ndarray:
    """Logits predicting each token of ``path`` after ``ids``, in one batched decode."""
    import numpy as np

    llm = backend.llm
    tokens = ids + path[:-1]
    llm.reset()
    if len(tokens) > llm.n_batch:
        rows = []
        llm.eval(ids)
        for i, token in enumerate(path):
            rows.append(_last_logits(backend))
            if i + 1 < len(path):
                llm.eval([token])
        return np.stack(rows)
    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    llm._batch.set_batch(batch=tokens, n_past=0, logits_all=True)
    llm._ctx.decode(llm._batch)
    rows = [_last_logits(backend, len(ids) - 1 + i) for i in range(len(path))]
    llm.reset()
    return np.stack(rows)


def _hf_scores(model: Any, ids: list[int], path: list[int]) -> np.ndarray:
    """Logits (fp32) predicting each token of ``path`` after ``ids``, one forward pass."""
    import torch

    device = next(model.parameters()).device
    full = torch.tensor([ids + path[:-1]], dtype=torch.long, device=device)
    with torch.no_grad():
        logits = model(input_ids=full, logits_to_keep=len(path)).logits[0]
    return logits.float().cpu().numpy()


def verify_adapter(
    entry: AdapterEntry,
    *,
    backend: LlamaBackend | None = None,
    hf: tuple[Any, Any] | None = None,
    prompts: Sequence[str] = DEFAULT_PROMPTS,
    n_tokens: int = DEFAULT_TOKENS,
    gguf_lora: str | Path | None = None,
) -> VerifyReport:
    """Run the equivalence check for a registry entry and judge it.

    ``backend`` (a LlamaBackend on the entry's base) and ``hf`` (``load_hf_model``'s result) are
    loaded when not given; a given backend gets its adapter state back afterwards, a given HF
    model (the plain base, no LoRA layers) is cast to float32 in place, as the thresholds assume,
    and gets its LoRA layers removed again. ``gguf_lora`` overrides the converted file (tests use
    it to prove a broken conversion fails).
    """
    import numpy as np

    from qconsole.adapters.gguf_lora import ensure_gguf_lora

    started = time.perf_counter()
    if not entry.usable:
        raise QConsoleError(f"adapter {entry.name} cannot be used: {entry.reason}")
    if entry.base_gguf is None:
        raise QConsoleError(f"adapter {entry.name}: no base model to check it against")
    lora_path = Path(gguf_lora) if gguf_lora is not None else ensure_gguf_lora(entry)
    report = VerifyReport(entry.name, lora_path, warnings=list(entry.warnings))

    own_backend = backend is None
    if backend is None:
        from qconsole.inference.llama_backend import LlamaBackend

        backend = LlamaBackend(entry.base_gguf, n_ctx=512)
    if hf is None:
        from qconsole.hf.gguf_model import load_hf_model

        hf = load_hf_model(entry.base_gguf)
    model, tokenizer = hf
    _to_float32(model)
    previous = backend.adapter_path
    try:
        with backend.lock:
            encoded = [backend.tokenize(p) for p in prompts]
            longest = max((len(ids) for ids in encoded), default=0)
            if longest + n_tokens > backend.n_ctx:
                raise QConsoleError(
                    f"a check prompt of {longest} tokens plus {n_tokens} generated does not "
                    f"fit the context; use shorter prompts"
                )
            try:
                backend.set_adapter(lora_path)
            except QConsoleError as exc:
                report.failures.append(f"llama.cpp refused the GGUF LoRA: {exc}")
                report.seconds = time.perf_counter() - started
                return report
            paths = [_llama_greedy(backend, ids, n_tokens) for ids in encoded]
            pairs = list(zip(encoded, paths, strict=True))
            llama_adapter = [_llama_scores(backend, ids, path) for ids, path in pairs]
            backend.set_adapter(None)
            llama_base = [_llama_scores(backend, ids, path) for ids, path in pairs]
        hf_rows = _hf_side(model, entry.path, encoded, paths)
    finally:
        with backend.lock:
            try:
                backend.set_adapter(previous)
            except QConsoleError:
                backend.set_adapter(None)
        if own_backend:
            backend.close()

    for prompt, ids, path, la, lb, (ha, hb) in zip(
        prompts, encoded, paths, llama_adapter, llama_base, hf_rows, strict=True
    ):
        lp_llama, lp_llama_base = _log_softmax(la), _log_softmax(lb)
        lp_hf, lp_hf_base = _log_softmax(ha), _log_softmax(hb)
        steps = np.arange(len(path))
        hf_choice = lp_hf.argmax(-1)
        # transformers' greedy decode follows llama.cpp's path for as long as its own argmax
        # on that path equals llama.cpp's token, so this equals a separate greedy generation.
        match = _leading_match(hf_choice.tolist(), path)
        hf_path = path[:match] + ([int(hf_choice[match])] if match < len(path) else [])
        hf_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        report.results.append(
            PromptResult(
                prompt=prompt,
                n_tokens=len(path),
                greedy_match=match,
                top1_agreement=float(np.mean(hf_choice == lp_llama.argmax(-1))),
                kl_engines=_kl(lp_hf, lp_llama),
                kl_engines_base=_kl(lp_hf_base, lp_llama_base),
                effect_hf=_kl(lp_hf, lp_hf_base),
                effect_llama=_kl(lp_llama, lp_llama_base),
                max_logprob_diff=float(
                    np.max(np.abs(lp_hf[steps, path] - lp_llama[steps, path]))
                ),
                tokenizer_agrees=list(hf_ids) == list(ids),
                llama_text=_detok(tokenizer, path),
                hf_text=_detok(tokenizer, hf_path),
                changed_top1=float(np.mean(lp_llama.argmax(-1) != lp_llama_base.argmax(-1))),
            )
        )
    if not all(r.tokenizer_agrees for r in report.results):
        report.warnings.append(
            "the transformers tokenizer splits some prompts differently from llama.cpp "
            "(training and chat may see different tokens)"
        )
    report.failures.extend(judge(report))
    report.seconds = time.perf_counter() - started
    return report


def _to_float32(model: Any) -> None:
    import torch

    if any(p.dtype != torch.float32 for p in model.parameters()):
        model.float()


def _detok(tokenizer: Any, tokens: Sequence[int]) -> str:
    return str(tokenizer.decode(list(tokens), skip_special_tokens=False))


def _hf_side(
    model: Any, adapter_dir: Path, encoded: list[list[int]], paths: list[list[int]]
) -> list[tuple[Any, Any]]:
    """transformers + PEFT scores on llama.cpp's paths, with the adapter and with it disabled."""
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(
        model, str(adapter_dir), adapter_name="qconsole_verify", is_trainable=False
    )
    peft_model.eval()
    rows = []
    try:
        for ids, path in zip(encoded, paths, strict=True):
            adapter_scores = _hf_scores(peft_model, ids, path)
            with peft_model.disable_adapter():
                base_scores = _hf_scores(peft_model, ids, path)
            rows.append((adapter_scores, base_scores))
    finally:
        peft_model.unload()  # the caller's model, without LoRA layers again
    return rows
