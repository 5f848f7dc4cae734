"""Read a PEFT LoRA directory without torch: its config and the shapes of its tensors.

A safetensors file starts with an 8-byte length and a JSON table of every tensor's dtype, shape
and byte range, so listing and checking adapters needs neither torch nor the tensor data. The
tensor names are PEFT's (``base_model.model.<module>.lora_A.weight``), which Unsloth writes too.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_WEIGHTS_PICKLE = "adapter_model.bin"
JSON_MAX_BYTES = 4 << 20  # an adapter config or metadata file is a few KB

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


def read_json_object(path: Path, error: type[QConsoleError] = QConsoleError) -> dict[str, Any]:
    """A small JSON file holding an object, read with the bounded reader; ``error`` (one
    line) when it is not a regular file, too large, not JSON (NaN included) or not an object."""
    from qconsole.safe_files import UnsafeFile, read_text_bounded

    try:
        text = read_text_bounded(path, max_bytes=JSON_MAX_BYTES, what=path.name)
        data = json.loads(text, parse_constant=_no_constant)
    except FileNotFoundError:
        raise error(f"missing {path.name}") from None
    except UnsafeFile as exc:
        raise error(str(exc)) from None
    except OSError as exc:
        raise error(f"cannot read {path.name}: {exc.strerror or exc}") from None
    except QConsoleError as exc:  # not UTF-8
        raise error(str(exc)) from None
    except RecursionError:
        raise error(f"unreadable {path.name}: nested too deeply") from None
    except ValueError as exc:
        raise error(f"unreadable {path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"unreadable {path.name}: not a JSON object")
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def read_safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """The tensor table of a safetensors file (name -> dtype, shape, data_offsets), checked
    against the file: every entry well formed and every tensor's bytes inside the file (a
    truncated download is refused here, not when ``convert`` reads it)."""
    from qconsole.safe_files import UnsafeFile, open_regular

    try:
        with open_regular(path, what=path.name) as fh:
            size = os.fstat(fh.fileno()).st_size
            raw_len = fh.read(8)
            if len(raw_len) != 8:
                raise AdapterFormatError(f"{path.name} is empty or truncated")
            (n,) = struct.unpack("<Q", raw_len)
            if n > min(100 * 2**20, size - 8):
                raise AdapterFormatError(f"{path.name} is not a safetensors file (or truncated)")
            table = json.loads(fh.read(n))
    except UnsafeFile as exc:
        raise AdapterFormatError(str(exc)) from None
    except OSError as exc:
        raise AdapterFormatError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AdapterFormatError(f"{path.name} is not a safetensors file") from exc
    if not isinstance(table, dict):
        raise AdapterFormatError(f"{path.name} is not a safetensors file")
    table.pop("__metadata__", None)
    data_size = size - 8 - n
    for key, info in table.items():
        _check_tensor_entry(path.name, key, info, data_size)
    return table


def _check_tensor_entry(file: str, key: str, info: Any, data_size: int) -> None:
    bad = f"{file} is damaged: tensor {key[:80]!r}"
    if not isinstance(info, dict):
        raise AdapterFormatError(f"{bad} has no description")
    shape, offsets, dtype = info.get("shape"), info.get("data_offsets"), info.get("dtype")
    if not (isinstance(shape, list) and len(shape) <= 8
            and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40
                    for d in shape)):
        raise AdapterFormatError(f"{bad} has a bad shape")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise AdapterFormatError(f"{bad} has bad data offsets")
    if offsets[1] > data_size:
        raise AdapterFormatError(
            f"{file} is truncated: tensor {key[:80]!r} ends at byte {offsets[1]:,} of "
            f"{data_size:,} (an interrupted download or copy?)"
        )
    width = _DTYPE_BYTES.get(dtype) if isinstance(dtype, str) else None
    if width is not None and math.prod(shape) * width != offsets[1] - offsets[0]:
        raise AdapterFormatError(f"{bad}: its shape does not match its byte size")


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
    config = read_json_object(cfg_path, AdapterFormatError)
    from qconsole.adapters.documents import PeftConfig
    from qconsole.validated import InvalidData, check

    try:
        check(PeftConfig, config, f"bad {ADAPTER_CONFIG}")
    except InvalidData as exc:
        raise AdapterFormatError(str(exc)) from None
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
