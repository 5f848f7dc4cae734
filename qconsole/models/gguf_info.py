"""Read what a GGUF file says about itself, and turn a bad file into one clear line.

llama.cpp reports a truncated or foreign file as a bare failure (or worse, a crash), so every
model path goes through :func:`read_gguf_info` first: magic, full header parse, tensor data
inside the file (every length checked against the file size first, so a hostile header is one
line, never a MemoryError), and a memory check against what the machine has free.
"""

from __future__ import annotations

import os
import struct
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
    # Whether llama.cpp puts a BOS token in front when it tokenizes a prompt: a template's
    # leading BOS text is dropped only then (qconsole/prompts.py), never for a model such as
    # SmolLM2 whose BOS ("<|im_start|>") llama.cpp does not add.
    add_bos_token: bool = True
    metadata: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_base_model(self) -> bool:
        """Base (pretrained, no instruction tuning) by name: such models get the transcript
        template even when their GGUF carries a chat template."""
        text = f"{self.name} {self.path.name}".lower()
        return "base" in text or "pretrain" in text or self.chat_template is None


def _token_texts(path: Path, header, ids: list[int | None]) -> dict[int, str]:
    """Texts of a few token ids, read straight from the tokens array (only what is needed)."""
    span = header.kv_spans.get("tokenizer.ggml.tokens")
    wanted = {i for i in ids if i is not None and i >= 0}
    if span is None or not wanted:
        return {}
    out: dict[int, str] = {}
    with open(path, "rb", buffering=1 << 16) as fh:  # already checked: a regular GGUF file
        fh.seek(span[0])
        (klen,) = struct.unpack("<Q", fh.read(8))
        fh.seek(klen, os.SEEK_CUR)
        vtype, etype = struct.unpack("<II", fh.read(8))
        if (vtype, etype) != (9, 8):  # not an array of strings: no token texts
            return {}
        (count,) = struct.unpack("<Q", fh.read(8))
        last = max(wanted)
        for i in range(min(count, last + 1)):
            (n,) = struct.unpack("<Q", fh.read(8))
            if i in wanted:
                out[i] = fh.read(n).decode("utf-8", "replace")
            else:
                fh.seek(n, os.SEEK_CUR)
    return out


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


def adds_bos(meta: dict) -> bool:
    """llama.cpp's rule: ``tokenizer.ggml.add_bos_token`` where the file says, else a BOS for
    SentencePiece vocabularies (``tokenizer.ggml.model == "llama"``) and none for BPE ones."""
    value = meta.get("tokenizer.ggml.add_bos_token")
    if value is None:
        return meta.get("tokenizer.ggml.model") == "llama"
    return bool(value)


def read_gguf_info(path: str | os.PathLike[str], *, check_memory: bool = True) -> GGUFInfo:
    """Validate ``path`` as a loadable GGUF and return its description, or raise QConsoleError."""
    from qconsole.models.fingerprint import read_gguf_header
    from qconsole.safe_files import UnsafeFile, open_regular

    p = Path(path).expanduser()
    if not p.exists():
        raise QConsoleError(f"model file not found: {p}")
    if p.is_dir():
        raise QConsoleError(f"model path is a directory, not a .gguf file: {p}")
    try:
        with open_regular(p, what="model file") as fh:  # a FIFO or device: refused, no hang
            magic = fh.read(4)
            size = os.fstat(fh.fileno()).st_size
    except UnsafeFile as exc:
        raise QConsoleError(str(exc)) from None
    except OSError as exc:
        raise QConsoleError(f"cannot read model file {p}: {exc.strerror}") from exc
    if magic != GGUF_MAGIC:
        raise QConsoleError(f"not a GGUF file (bad magic {magic!r}): {p}")
    # about 0.1 s even for a 262k vocabulary; checks every length and that no tensor's data
    # runs past the end of the file
    header = read_gguf_header(p)
    meta = header.metadata
    arch = header.architecture
    chat_template = _str_or_none(meta.get("tokenizer.chat_template"))
    bos_id = _int_or_none(meta.get("tokenizer.ggml.bos_token_id"))
    eos_id = _int_or_none(meta.get("tokenizer.ggml.eos_token_id"))
    # Token texts are only needed to render a chat template; skip the read otherwise.
    texts = _token_texts(p, header, [bos_id, eos_id]) if chat_template else {}
    ftype = meta.get("general.file_type")
    info = GGUFInfo(
        path=p,
        architecture=arch,
        name=str(meta.get("general.name") or p.stem),
        file_type=str(ftype) if ftype is not None else "unknown",
        size_bytes=size,
        context_length=_int_or_none(meta.get(f"{arch}.context_length")),
        block_count=_int_or_none(meta.get(f"{arch}.block_count")),
        chat_template=chat_template,
        bos_token=texts.get(bos_id) if bos_id is not None else None,
        eos_token=texts.get(eos_id) if eos_id is not None else None,
        general_type=str(meta.get("general.type") or "model"),
        add_bos_token=adds_bos(meta),
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
