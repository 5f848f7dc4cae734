"""The dequantised GGUF base written once as an ordinary Hugging Face folder (bf16
safetensors, config, tokenizer), for the engines that load HF weights and not GGUF: Unsloth,
vLLM (``vllm serve DIR``), lm-eval's vLLM backend.

Why once per GGUF file (keyed by its fingerprint) and renamed into place: dequantising Gemma 3
270M takes about half a minute, and a console, a training job and a test may ask at once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from qconsole.paths import cache_dir


def hf_weights_dir(gguf_path: Path, log=lambda message: None) -> Path:
    """The dequantised base as an HF safetensors folder, written once per GGUF file."""
    from qconsole.models.fingerprint import file_fingerprint

    target = cache_dir() / "hf_weights" / file_fingerprint(gguf_path)[:16]
    if (target / "config.json").is_file():
        return target
    import torch

    from qconsole.hf.gguf_model import load_hf_model

    log(f"writing the dequantised base as safetensors to {target} (once)")
    model, tokenizer = load_hf_model(gguf_path, dtype=torch.bfloat16)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build-"))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
