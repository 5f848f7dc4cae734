"""Read what a GGUF file says about itself, and turn a bad file into one clear line.

llama.cpp reports a truncated or foreign file as a bare failure (or worse, a crash), so every
model path goes through :func:`read_gguf_info` first: magic, full header parse, tensor data
inside the file, and a memory check against what the machine has free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from qconsole.errors import QConsoleError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    architecture: str
    name: str
    file_type: str
    size_bytes: int
    context_length: int | None
    block_count: int | None
    chat_template: str | None
    bos_token: str | None
    eos_token: str | None
    general_type: str = "model"
    metadata: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_base_model(self) -> bool:
        """Base (pretrained, no instruction tuning) by name: such models get the transcript
        template even when their GGUF carries a chat template."""
        text = f"{self.name} {self.path.name}".lower()
        return "base" in text or "pretrain" in text or self.chat_template is None


def _field_value(reader, key: str):
    fld = reader.fields.get(key)
    if fld is None:
        return None
    try:
        return fld.contents()
    except Exception:  # pragma: no cover - very old gguf package
        return None


def _token(reader, key: str) -> str | None:
    idx = _field_value(reader, key)
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    if idx is None or tokens is None:
        return None
    try:
        return tokens.contents(int(idx))
    except Exception:
        return None


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, or None where there is no such file."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def read_gguf_info(path: str | os.PathLike[str], *, check_memory: bool = True) -> GGUFInfo:
    """Validate ``path`` as a loadable GGUF and return its description, or raise QConsoleError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise QConsoleError(f"model file not found: {p}")
    if p.is_dir():
        raise QConsoleError(f"model path is a directory, not a .gguf file: {p}")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise QConsoleError(f"cannot read model file {p}: {exc.strerror}") from exc
    if magic != GGUF_MAGIC:
        raise QConsoleError(f"not a GGUF file (bad magic {magic!r}): {p}")
    size = p.stat().st_size
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(p), "r")
    except Exception as exc:
        kind = type(exc).__name__
        raise QConsoleError(f"GGUF file is truncated or corrupt: {p} ({kind})") from exc
    if reader.tensors:
        end = max(int(t.data_offset) + int(t.n_bytes) for t in reader.tensors)
        if end > size:
            raise QConsoleError(f"GGUF file is truncated ({size} of {end} bytes): {p}")
    arch = str(_field_value(reader, "general.architecture") or "unknown")
    ftype = _field_value(reader, "general.file_type")
    info = GGUFInfo(
        path=p,
        architecture=arch,
        name=str(_field_value(reader, "general.name") or p.stem),
        file_type=str(ftype) if ftype is not None else "unknown",
        size_bytes=size,
        context_length=_int_or_none(_field_value(reader, f"{arch}.context_length")),
        block_count=_int_or_none(_field_value(reader, f"{arch}.block_count")),
        chat_template=_str_or_none(_field_value(reader, "tokenizer.chat_template")),
        bos_token=_token(reader, "tokenizer.ggml.bos_token_id"),
        eos_token=_token(reader, "tokenizer.ggml.eos_token_id"),
        general_type=str(_field_value(reader, "general.type") or "model"),
    )
    if check_memory:
        free = available_memory_bytes()
        # Weights are mmapped, but they must fit in RAM to run at any useful speed; leave room
        # for the KV cache and the rest of the process.
        if free is not None and size * 1.2 + 256 * 2**20 > free:
            raise QConsoleError(
                f"model too large for memory: {p.name} needs about {size * 1.2 / 2**30:.1f} GiB, "
                f"{free / 2**30:.1f} GiB available; pick a smaller quantisation"
            )
    return info


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _str_or_none(value) -> str | None:
    return str(value) if value else None
