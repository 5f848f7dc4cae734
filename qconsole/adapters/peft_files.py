"""Read a PEFT LoRA directory without torch: its config and the shapes of its tensors.

A safetensors file starts with an 8-byte length and a JSON table of every tensor's dtype, shape
and byte range, so listing and checking adapters needs neither torch nor the tensor data. The
tensor names are PEFT's (``base_model.model.<module>.lora_A.weight``), which Unsloth writes too.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_WEIGHTS_PICKLE = "adapter_model.bin"

# base_model.model.<module>.lora_A[.<adapter name>].weight
_LORA_KEY = re.compile(
    r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$"
)
# Wrappers around the language model in multimodal checkpoints; the text tower is what we patch.
_MODULE_PREFIXES = (
    ("model.language_model.", "model."),
    ("language_model.model.", "model."),
)


class AdapterFormatError(QConsoleError):
    """The directory is not a LoRA adapter qconsole can read; the message says why."""


@dataclass(frozen=True)
class LoraPair:
    """One patched linear layer: lora_A [r, in] and lora_B [out, r] of an HF module."""

    module: str
    a_key: str
    b_key: str
    a_shape: tuple[int, ...]
    b_shape: tuple[int, ...]

    @property
    def rank(self) -> int:
        return int(self.a_shape[0])

    @property
    def in_features(self) -> int:
        return int(self.a_shape[1])

    @property
    def out_features(self) -> int:
        return int(self.b_shape[0])

    @property
    def short_name(self) -> str:
        return self.module.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class PeftAdapterFiles:
    path: Path
    config: dict[str, Any]
    pairs: dict[str, LoraPair]
    other_keys: tuple[str, ...]  # tensors that are not plain LoRA A/B matrices
    dtypes: frozenset[str]
    incomplete: tuple[str, ...] = ()  # modules with lora_A or lora_B but not both

    @property
    def lora_alpha(self) -> float:
        return float(self.config.get("lora_alpha") or self.config.get("r") or 8)

    @property
    def rank(self) -> int | None:
        ranks = {p.rank for p in self.pairs.values()}
        return ranks.pop() if len(ranks) == 1 else None

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(sorted({p.short_name for p in self.pairs.values()}))


def read_safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """The tensor table of a safetensors file (name -> dtype, shape, data_offsets)."""
    try:
        with open(path, "rb") as fh:
            raw_len = fh.read(8)
            if len(raw_len) != 8:
                raise AdapterFormatError(f"{path.name} is empty or truncated")
            (n,) = struct.unpack("<Q", raw_len)
            if n > 100 * 2**20:
                raise AdapterFormatError(f"{path.name} is not a safetensors file")
            table = json.loads(fh.read(n))
    except OSError as exc:
        raise AdapterFormatError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdapterFormatError(f"{path.name} is not a safetensors file") from exc
    if not isinstance(table, dict):
        raise AdapterFormatError(f"{path.name} is not a safetensors file")
    table.pop("__metadata__", None)
    return table


def normalise_module(module: str) -> str:
    for prefix, replacement in _MODULE_PREFIXES:
        if module.startswith(prefix):
            return replacement + module[len(prefix) :]
    return module


def read_peft_adapter(path: str | Path) -> PeftAdapterFiles:
    """Parse a PEFT LoRA directory, or raise AdapterFormatError with one line saying why not."""
    folder = Path(path)
    cfg_path = folder / ADAPTER_CONFIG
    weights = folder / ADAPTER_WEIGHTS
    if not cfg_path.is_file():
        raise AdapterFormatError(f"missing {ADAPTER_CONFIG}")
    if not weights.is_file():
        if (folder / ADAPTER_WEIGHTS_PICKLE).is_file():
            raise AdapterFormatError(
                f"only {ADAPTER_WEIGHTS_PICKLE} (pickle); re-save with safe_serialization=True"
            )
        raise AdapterFormatError(f"missing {ADAPTER_WEIGHTS}")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise AdapterFormatError(f"unreadable {ADAPTER_CONFIG}: {exc}") from exc
    if not isinstance(config, dict):
        raise AdapterFormatError(f"unreadable {ADAPTER_CONFIG}: not a JSON object")
    table = read_safetensors_header(weights)
    halves: dict[str, dict[str, tuple[str, tuple[int, ...]]]] = {}
    other: list[str] = []
    dtypes: set[str] = set()
    for key, info in table.items():
        match = _LORA_KEY.match(key)
        shape = tuple(int(d) for d in info.get("shape", ()))
        dtypes.add(str(info.get("dtype")))
        if not match or len(shape) != 2:
            other.append(key)
            continue
        module = normalise_module(match["module"])
        halves.setdefault(module, {})[match["ab"]] = (key, shape)
    pairs: dict[str, LoraPair] = {}
    incomplete: list[str] = []
    for module, ab in sorted(halves.items()):
        if "A" not in ab or "B" not in ab:
            incomplete.append(module)
            continue
        (a_key, a_shape), (b_key, b_shape) = ab["A"], ab["B"]
        pairs[module] = LoraPair(module, a_key, b_key, a_shape, b_shape)
    return PeftAdapterFiles(
        folder, config, pairs, tuple(sorted(other)), frozenset(dtypes), tuple(incomplete)
    )
