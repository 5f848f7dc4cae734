"""Convert a PEFT LoRA to a GGUF LoRA that llama.cpp applies to the running base model.

llama.cpp's own converter script ships with no wheel, so qconsole writes the format itself with
the ``gguf`` package. The format, as llama.cpp reads it:

- ``general.type = "adapter"``, ``adapter.type = "lora"``, ``adapter.lora.alpha`` (float32), and
  ``general.architecture`` equal to the base's, or llama.cpp refuses the file;
- for each patched matrix ``W`` named ``blk.N.attn_q.weight`` in the base, two tensors
  ``blk.N.attn_q.weight.lora_a`` and ``.lora_b``: PEFT's lora_A.weight [r, in] and
  lora_B.weight [out, r] exactly as stored (numpy order; GGUF then reports them as [in, r] and
  [r, out]);
- llama.cpp adds ``scale * alpha / r * B @ (A @ x)`` with ``r`` taken from each tensor and
  ``scale`` the runtime strength (1.0 = as trained).

Where PEFT's scaling is not ``alpha / r`` (rslora, ``alpha_pattern``, ``rank_pattern``) the
difference is folded into B (see targets.py), so 1.0 still means "as trained". For the llama
architecture the base's q/k rows are stored RoPE-permuted, so B's rows get the same permutation;
qwen2, qwen3 and gemma3 store them as in HF. Tensors are written in float32 by default: an
adapter is small next to its base, and exact values keep the equivalence check meaningful.

The result is cached beside the adapter as ``adapter.gguf`` and stamped (in its own metadata)
with a hash of the PEFT files, the base's shape and the converter version: when any of them
changes, the next :func:`ensure_gguf_lora` converts again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qconsole.adapters.compat import check_compat
from qconsole.adapters.metadata import AdapterMeta
from qconsole.adapters.peft_files import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    PeftAdapterFiles,
    read_peft_adapter,
)
from qconsole.adapters.targets import (
    ROPE_PERMUTED_ARCHS,
    gguf_tensor_name,
    module_scale,
    rope_permute_rows,
)
from qconsole.errors import QConsoleError
from qconsole.models.fingerprint import (
    GGUFHeader,
    read_gguf_header,
    shape_signature_of,
    signature_id,
)
from qconsole.paths import cache_dir

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from qconsole.adapters.registry import AdapterEntry

CONVERTER_VERSION = 1
STAMP_KEY = "qconsole.lora.stamp"
_NUMPY_DTYPES = frozenset({"F32", "F16", "F64"})


@dataclass(frozen=True)
class ConversionResult:
    path: Path
    tensors: int  # lora_a + lora_b tensors written
    alpha: float
    seconds: float
    rescaled: int  # modules whose B absorbed a PEFT scale different from alpha / r
    permuted: int  # q/k modules whose B rows were RoPE-permuted (llama)


def conversion_stamp(adapter_dir: Path, base: GGUFHeader, dtype: str = "f32") -> str:
    """What the GGUF LoRA depends on: the PEFT files, the base's shape, the converter, dtype."""
    digest = hashlib.sha256()
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        with open(adapter_dir / name, "rb") as fh:
            while block := fh.read(1 << 22):
                digest.update(block)
    digest.update(signature_id(shape_signature_of(base)).encode())
    digest.update(f"v{CONVERTER_VERSION}:{dtype}".encode())
    return digest.hexdigest()


def _load_tensors(files: PeftAdapterFiles) -> dict[str, np.ndarray]:
    """Every tensor of adapter_model.safetensors as float32 numpy (torch only for bf16)."""
    import numpy as np

    path = files.path / ADAPTER_WEIGHTS
    if files.dtypes <= _NUMPY_DTYPES:
        from safetensors.numpy import load_file

        return {k: np.asarray(v, dtype=np.float32) for k, v in load_file(str(path)).items()}
    from safetensors.torch import load_file as load_torch

    return {k: v.float().numpy() for k, v in load_torch(str(path)).items()}


def convert_peft_to_gguf(
    adapter_dir: str | os.PathLike[str],
    base_gguf: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    dtype: str = "f32",
    name: str | None = None,
) -> ConversionResult:
    """Write the GGUF LoRA for the PEFT adapter in ``adapter_dir`` and base ``base_gguf``.

    Raises QConsoleError (one line) when the adapter does not fit the base or llama.cpp could not
    apply it. The file appears atomically at ``out_path``.
    """
    import gguf
    import numpy as np

    started = time.perf_counter()
    folder = Path(adapter_dir)
    out = Path(out_path)
    if dtype not in ("f32", "f16"):
        raise QConsoleError(f"GGUF LoRA dtype must be f32 or f16, not {dtype!r}")
    files = read_peft_adapter(folder)
    header = read_gguf_header(base_gguf)
    try:
        meta = AdapterMeta.read(folder)
    except ValueError:
        meta = None
    report = check_compat(files, meta, header)
    if not report.usable:
        raise QConsoleError(f"cannot convert {folder.name}: {report.reason}")
    arch = header.architecture
    n_blocks = int(header.arch_value("block_count") or 0)
    n_head = int(header.arch_value("attention.head_count") or 0)
    n_head_kv = int(header.arch_value("attention.head_count_kv") or n_head)
    cfg: dict[str, Any] = files.config
    alpha = float(cfg.get("lora_alpha") or cfg.get("r") or files.rank or 8)
    stamp = conversion_stamp(folder, header, dtype)
    tensors = _load_tensors(files)
    np_dtype = np.float32 if dtype == "f32" else np.float16

    out.parent.mkdir(parents=True, exist_ok=True)
    # named by pid: a conversion killed midway leaves a file the next listing removes
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".adapter-p{os.getpid()}.",
                                    suffix=".gguf.part")
    os.close(fd)
    rescaled = permuted = 0
    try:
        writer = gguf.GGUFWriter(tmp_name, arch)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(name or folder.name)
        writer.add_string(STAMP_KEY, stamp)
        written = 0
        ordered = sorted(
            files.pairs.values(),
            key=lambda p: (_block_index(p.module), p.module),
        )
        for pair in ordered:
            target = gguf_tensor_name(arch, n_blocks, pair.module)
            if target is None:  # check_compat already refused these; keep the guard
                raise QConsoleError(f"no GGUF tensor for {pair.module}")
            a = tensors[pair.a_key]
            b = tensors[pair.b_key]
            factor = module_scale(cfg, pair.module, pair.rank) * pair.rank / alpha
            if abs(factor - 1.0) > 1e-9:
                b = b * np.float32(factor)
                rescaled += 1
            if arch in ROPE_PERMUTED_ARCHS and pair.short_name in ("q_proj", "k_proj"):
                kv = n_head if pair.short_name == "q_proj" else n_head_kv
                b = rope_permute_rows(b, n_head, kv)
                permuted += 1
            writer.add_tensor(f"{target}.lora_a", np.ascontiguousarray(a, dtype=np_dtype))
            writer.add_tensor(f"{target}.lora_b", np.ascontiguousarray(b, dtype=np_dtype))
            written += 2
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return ConversionResult(
        out, written, alpha, time.perf_counter() - started, rescaled, permuted
    )


def _block_index(module: str) -> int:
    parts = module.split(".")
    for i, part in enumerate(parts[:-1]):
        if part == "layers" and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return -1


def _stamp_of(path: Path) -> str | None:
    try:
        header = read_gguf_header(path)
    except QConsoleError:
        return None
    value = header.metadata.get(STAMP_KEY)
    return str(value) if value else None


def ensure_gguf_lora(
    entry: AdapterEntry, *, base_gguf: str | os.PathLike[str] | None = None
) -> Path:
    """The GGUF LoRA of a usable registry entry, converted now if missing or out of date.

    Cached as ``adapter.gguf`` in the adapter's directory; where that directory is read-only,
    under ``cache_dir()/gguf_lora/``.
    """
    if not entry.usable:
        raise QConsoleError(f"adapter {entry.name} cannot be used: {entry.reason}")
    base = base_gguf or entry.base_gguf
    if base is None:
        raise QConsoleError(f"adapter {entry.name}: no base model to convert it for")
    header = read_gguf_header(base)
    stamp = conversion_stamp(entry.path, header)
    beside = entry.gguf_lora_path
    if beside.is_file() and _stamp_of(beside) == stamp:
        return beside
    last_error: OSError | None = None
    if os.access(entry.path, os.W_OK):
        try:
            return convert_peft_to_gguf(entry.path, base, beside, name=entry.name).path
        except OSError as exc:  # a read-only adapter directory: use the cache instead
            last_error = exc
    cached = cache_dir() / "gguf_lora" / f"{stamp[:32]}.gguf"
    if cached.is_file() and _stamp_of(cached) == stamp:
        return cached
    try:
        return convert_peft_to_gguf(entry.path, base, cached, name=entry.name).path
    except OSError as exc:
        last_error = exc
    raise QConsoleError(f"cannot write the GGUF LoRA of {entry.name}: {last_error}")
