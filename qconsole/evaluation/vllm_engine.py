"""``qconsole eval --engine vllm``: the same suites, statistics and stored results as the
default in-process llama.cpp engine, run by vLLM for models too large for a CPU.

Why lm-eval's own vLLM backend (``lm_eval.models.vllm_causallms.VLLM``): benchmark suites then
score exactly as lm-eval scores them on vLLM, adapters included (``lora_local_path``). One vLLM
instance serves both sides: it is built with the adapter enabled, and the base side clears its
``lora_request``, so the weights are loaded once and base and adapter see the same engine.
Generation suites (probes, reasoning-gym, in-domain) call the same ``LLM.generate`` greedily
with the template's stop strings, through the interface the runner already uses for llama.cpp
(``set_adapter``, ``tokenize``, ``generate_text``, ``close``).

vLLM loads Hugging Face weights, not GGUF: the run's GGUF base is written once as an HF folder
(qconsole/hf/export.py) unless ``hf_model`` names the same base's HF weights; the adapter is the
registry's PEFT folder. vLLM must be importable in this interpreter (scripts/setup_vllm.sh
--with-qconsole makes such an environment); without it the run stops with one line.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.inference.llama_engine import Generation
from qconsole.models.gguf_info import read_gguf_info


class _Base:
    """What the runner reads from ``engine.backend``: the GGUF's metadata, for the template."""

    def __init__(self, gguf: Path) -> None:
        self.path = gguf
        self.info = read_gguf_info(gguf)

    def close(self) -> None:
        return None


class VllmEngine:
    """lm-eval's VLLM model with the adapter enabled; ``set_adapter`` picks the side."""

    def __init__(self, gguf: Path, *, adapter_dir: Path | None, n_ctx: int,
                 hf_model: Path | None = None, max_gen_toks: int = 256, **vllm_args: Any) -> None:
        missing = [m for m in ("vllm", "lm_eval") if importlib.util.find_spec(m) is None]
        if missing:
            raise QConsoleError(
                f"--engine vllm needs {' and '.join(missing)} in this Python environment: "
                "run qconsole from the environment scripts/setup_vllm.sh --with-qconsole makes"
            )
        from lm_eval.models.vllm_causallms import VLLM

        from qconsole.hf.export import hf_weights_dir

        self.backend = _Base(Path(gguf))
        self.n_ctx = int(n_ctx)
        model_dir = Path(hf_model) if hf_model else hf_weights_dir(Path(gguf))
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        rank = _adapter_rank(self.adapter_dir)
        try:
            self.lm = VLLM(
                pretrained=str(model_dir), max_model_len=self.n_ctx, max_gen_toks=max_gen_toks,
                lora_local_path=str(self.adapter_dir) if self.adapter_dir else None,
                max_lora_rank=max(16, rank), seed=0, dtype="auto",
                # an int, not "auto": with "auto" lm-eval asks vLLM for its progress bar, and
                # vLLM divides by the bar's elapsed time, 0 while tqdm is disabled (as here)
                batch_size=256,
                **vllm_args,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
            raise QConsoleError(f"vLLM could not load {model_dir}: {first}") from exc
        self._adapter_request = self.lm.lora_request
        self.lm.lora_request = None  # start on the base side

    def set_adapter(self, adapter: object | None) -> None:
        """Any adapter value selects the run's adapter (the one vLLM was built with)."""
        if adapter is not None and self._adapter_request is None:
            raise QConsoleError("this vLLM engine was built without an adapter")
        self.lm.lora_request = self._adapter_request if adapter is not None else None

    def tokenize(self, text: str, *, add_bos: bool | None = None) -> list[int]:
        """Tokens of ``text`` by vLLM's tokenizer; ``add_bos=None`` adds the model's special
        tokens unless the text already starts with the BOS (never doubled)."""
        tok = self.lm.tokenizer
        if add_bos is None:
            bos = getattr(tok, "bos_token", None)
            add_bos = not (bos and text.startswith(bos))
        return list(tok.encode(text, add_special_tokens=add_bos))

    def generate_text(self, prompt: str, *, until: Any = (), max_tokens: int = 256,
                      cancel: threading.Event | None = None) -> Generation:
        from vllm import SamplingParams

        if cancel is not None and cancel.is_set():
            from qconsole.inference.llama_engine import EvalCancelled

            raise EvalCancelled()
        params = SamplingParams(temperature=0.0, max_tokens=int(max_tokens),
                                stop=list(until or ()) or None)
        [out] = self.lm.model.generate([prompt], params, lora_request=self.lm.lora_request,
                                       use_tqdm=False)
        return _generation(out.outputs[0])

    def generate_many(self, prompts: list[str], *, until: Any = (), max_tokens: int = 256,
                      cancel: threading.Event | None = None) -> list[Generation]:
        """Greedy replies to all ``prompts`` in one vLLM call (it batches them itself)."""
        from vllm import SamplingParams

        if cancel is not None and cancel.is_set():
            from qconsole.inference.llama_engine import EvalCancelled

            raise EvalCancelled()
        params = SamplingParams(temperature=0.0, max_tokens=int(max_tokens),
                                stop=list(until or ()) or None)
        outs = self.lm.model.generate(list(prompts), params, lora_request=self.lm.lora_request,
                                      use_tqdm=False)
        return [_generation(o.outputs[0]) for o in outs]

    def lm_eval_model(self) -> Any:
        """The lm-eval ``LM`` the benchmark suites run on (side chosen by ``set_adapter``)."""
        return self.lm

    def close(self) -> None:
        self.lm = None


def _generation(done: Any) -> Generation:
    """vLLM's CompletionOutput as the runner's Generation (finish: stop, eos or length)."""
    reason = "length" if done.finish_reason == "length" else (
        "stop" if isinstance(done.stop_reason, str) else "eos")
    return Generation(text=done.text, tokens=list(done.token_ids), finish_reason=reason)


def _adapter_rank(folder: Path | None) -> int:
    if folder is None:
        return 16
    import json

    try:
        return int(json.loads((folder / "adapter_config.json").read_text()).get("r", 16))
    except (OSError, ValueError):
        return 16
