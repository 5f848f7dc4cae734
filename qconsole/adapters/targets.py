"""Where each LoRA lands in a GGUF base, and how PEFT scales it: shared by check and conversion.

HF module names map to GGUF tensor names through the ``gguf`` package's own table (the one
llama.cpp's converter uses), so qconsole and llama.cpp agree on names by construction.

Scaling: PEFT adds ``s * B @ A`` with ``s = alpha / r`` (``alpha / sqrt(r)`` with rslora), and
``alpha`` or ``r`` may differ per module (``alpha_pattern``, ``rank_pattern``). A GGUF LoRA holds
one ``adapter.lora.alpha`` and llama.cpp applies ``alpha / r`` with ``r`` read from each tensor.
:func:`module_scale` gives PEFT's ``s`` per module; the converter folds ``s * r / alpha`` into B
wherever that is not 1, so llama.cpp's scale times B equals PEFT's ``s * B`` for every module.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

SUPPORTED_ARCHS = ("llama", "qwen2", "qwen3", "gemma3")
# llama.cpp's converter permutes the rows of q and k for these (RoPE layout), so B must follow.
ROPE_PERMUTED_ARCHS = ("llama",)


@functools.lru_cache(maxsize=16)
def _name_map(arch: str, n_blocks: int):
    import gguf

    by_name = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in by_name:
        return None
    return gguf.get_tensor_name_map(by_name[arch], n_blocks)


def gguf_tensor_name(arch: str, n_blocks: int, module: str) -> str | None:
    """``model.layers.3.self_attn.q_proj`` -> ``blk.3.attn_q.weight`` (None: no such tensor)."""
    name_map = _name_map(arch, n_blocks)
    if name_map is None:
        return None
    name = name_map.get_name(module)
    return f"{name}.weight" if name else None


def _pattern_value(patterns: dict[str, Any] | None, module: str) -> Any:
    """PEFT's rank/alpha pattern lookup: an exact module name or a regex on its tail."""
    if not patterns:
        return None
    if module in patterns:
        return patterns[module]
    for key, value in patterns.items():
        if re.fullmatch(rf"(?:.*\.)?(?:{key})", module):
            return value
    return None


def module_scale(config: dict[str, Any], module: str, rank: int) -> float:
    """PEFT's scaling factor ``s`` for this module of an adapter with this config."""
    alpha = _pattern_value(config.get("alpha_pattern"), module)
    if alpha is None:
        alpha = config.get("lora_alpha") or config.get("r") or rank
    alpha = float(alpha)
    if config.get("use_rslora"):
        return alpha / math.sqrt(rank)
    return alpha / rank


def rope_permute_rows(b, n_head: int, n_head_kv: int | None = None):
    """llama.cpp's q/k row permutation (convert_hf_to_gguf ``LlamaModel.permute``) for B [out, r].

    The base's q/k rows were stored permuted (W_gguf = P W_hf); P (B A) = (P B) A, so applying the
    same permutation to B makes the LoRA update land on the rows llama.cpp expects.
    """
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    rows = b.shape[0]
    return b.reshape(n_head, 2, rows // n_head // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)
