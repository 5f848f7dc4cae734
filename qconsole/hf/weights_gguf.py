"""A copy of a GGUF without its tokenizer arrays, so transformers can open the weights quickly.

transformers reads a GGUF with ``gguf.GGUFReader``, which builds a numpy view for every element
of every metadata array: for a 262k vocabulary that is about ten seconds, spent again on every
load, although the weights loader needs none of it (the tokenizer is converted once and cached).
The copy keeps every other metadata entry and the tensor table and data byte for byte, so the
dequantised weights are exactly those of the original file. Writing it is a plain file copy.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

from qconsole.models.fingerprint import GGUFHeader, read_gguf_header

# Arrays under tokenizer.* longer than this are dropped (tokens, scores, token types, merges).
DROP_ARRAYS_LONGER_THAN = 1024
_UINT32 = 4


def _kv_uint32(key: str, value: int) -> bytes:
    raw = key.encode()
    return struct.pack("<Q", len(raw)) + raw + struct.pack("<I", _UINT32) + struct.pack("<I", value)


def write_weights_only_gguf(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], header: GGUFHeader | None = None
) -> Path:
    """Write ``dst``: ``src`` minus its long tokenizer arrays, plus ``<arch>.vocab_size``."""
    src, dst = Path(src), Path(dst)
    header = header or read_gguf_header(src)
    drop = {
        key
        for key, n in header.array_lengths.items()
        if key.startswith("tokenizer.") and n > DROP_ARRAYS_LONGER_THAN
    }
    keep = [key for key in header.kv_spans if key not in drop]
    extra = b""
    n_kv = len(keep)
    vocab_key = f"{header.architecture}.vocab_size"
    vocab = header.array_lengths.get("tokenizer.ggml.tokens")
    if vocab_key not in header.metadata and vocab:
        extra = _kv_uint32(vocab_key, int(vocab))
        n_kv += 1
    alignment = int(header.metadata.get("general.alignment") or 32)
    with open(src, "rb") as fin, open(dst, "wb") as out:
        out.write(b"GGUF" + struct.pack("<I", header.version))
        out.write(struct.pack("<Q", len(header.tensors)) + struct.pack("<Q", n_kv))
        for key in keep:
            start, end = header.kv_spans[key]
            fin.seek(start)
            out.write(fin.read(end - start))
        out.write(extra)
        ti_start, ti_end = header.tensor_info_span
        fin.seek(ti_start)
        out.write(fin.read(ti_end - ti_start))
        # Tensor offsets are relative to the aligned start of the data section: keep it aligned.
        out.write(b"\0" * (-out.tell() % alignment))
        fin.seek(header.data_offset)
        shutil.copyfileobj(fin, out, 1 << 22)
        out.flush()
        os.fsync(out.fileno())
    return dst
