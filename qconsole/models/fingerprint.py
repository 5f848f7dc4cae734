"""Who a base model is: its *shape* (does an adapter fit?) and its exact *file* (is it the same?).

Two notions, on purpose:

- :func:`shape_signature` is what decides compatibility. A LoRA only touches matrices of given
  shapes in given blocks, so an adapter fits every base with the same architecture, block count,
  widths, head layout and vocabulary, for example the Q4_K_M and the Q8_0 file of one model.
- :func:`file_fingerprint` (sha256 of the file) names the exact weights an adapter was trained
  on. A different file with the same shape is allowed, with a warning: a requantised base works,
  a fine-tuned cousin of the same shape works badly.

Both read only the GGUF header with a small parser of our own. ``gguf.GGUFReader`` builds a numpy
view for every element of every array, about ten seconds for a 262k vocabulary, and we need
nothing from those arrays but their lengths. The sha256 of a 250 MB file takes about a second, so
it is cached under ``cache_dir()/fingerprints`` keyed by (path, size, mtime_ns).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from qconsole.errors import QConsoleError
from qconsole.paths import cache_dir

# GGUF value types (gguf.GGUFValueType), as struct formats; 8 = string, 9 = array.
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
           11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# Arrays longer than this keep only their length (vocabularies, merges, scores).
_MAX_ARRAY_KEPT = 1024

SHAPE_KEYS = (
    "block_count",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "vocab_size",
)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # GGUF order: ne0 first (a matrix is [in_features, out_features])
    ggml_type: int
    offset: int = 0  # of its data, relative to the header's data_offset


@dataclass(frozen=True)
class GGUFHeader:
    """The metadata and tensor table of a GGUF file, without its big arrays."""

    path: Path
    version: int
    metadata: dict[str, Any]
    array_lengths: dict[str, int]
    tensors: dict[str, TensorInfo] = field(repr=False)
    # Byte layout, so a copy can drop metadata and keep the tensor data verbatim.
    kv_spans: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    tensor_info_span: tuple[int, int] = (0, 0)
    data_offset: int = 0

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def arch_value(self, key: str) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}")


class _Reader:
    """Reads a header whose every length is hostile until checked against the file size: a
    47-byte file claiming a 2^40-byte string is corrupt, not a MemoryError."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self.fh = fh
        self.size = size

    def need(self, n: int, what: str = "a value") -> None:
        if n < 0 or n > self.size - self.fh.tell():
            raise EOFError(f"{what} of {n:,} bytes runs past the end of the file")

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.fh.read(size)
        if len(data) != size:
            raise EOFError("unexpected end of GGUF header")
        return struct.unpack(fmt, data)[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        self.need(n, "a string")
        data = self.fh.read(n)
        if len(data) != n:
            raise EOFError("unexpected end of GGUF header")
        return data.decode("utf-8", "replace")

    def skip_string(self) -> None:
        n = self.unpack("<Q")
        self.need(n, "a string")
        self.fh.seek(n, os.SEEK_CUR)

    def value(self, vtype: int, *, key: str, lengths: dict[str, int]) -> Any:
        if vtype in _SCALAR:
            return self.unpack(_SCALAR[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            sub = self.unpack("<I")
            count = self.unpack("<Q")
            lengths[key] = count
            keep = count <= _MAX_ARRAY_KEPT
            if sub in _SCALAR:
                fmt = _SCALAR[sub]
                size = struct.calcsize(fmt)
                self.need(size * count, f"the array {key[:60]!r}")
                if not keep:
                    self.fh.seek(size * count, os.SEEK_CUR)
                    return None
                raw = self.fh.read(size * count)
                return [v[0] for v in struct.iter_unpack(fmt, raw)]
            if sub == _STRING:
                self.need(8 * count, f"the array {key[:60]!r}")
                if not keep:
                    for _ in range(count):
                        self.skip_string()
                    return None
                return [self.string() for _ in range(count)]
            if count == 0:
                return []
            # Nested arrays do not occur in model files; refuse rather than misparse.
            raise ValueError(f"unsupported GGUF array element type {sub} in {key}")
        raise ValueError(f"unknown GGUF value type {vtype} in {key}")


def read_gguf_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """Parse a GGUF header (metadata and tensor table) in well under a second."""
    from qconsole.safe_files import UnsafeFile, open_regular

    p = Path(path).expanduser()
    try:
        with open_regular(p, what="GGUF file") as fh:
            size = os.fstat(fh.fileno()).st_size
            r = _Reader(fh, size)
            if fh.read(4) != b"GGUF":
                raise QConsoleError(f"not a GGUF file: {p}")
            version = r.unpack("<I")
            if version < 2:
                raise QConsoleError(f"GGUF version {version} is too old: {p}")
            n_tensors = r.unpack("<Q")
            n_kv = r.unpack("<Q")
            # each key/value takes at least 12 bytes, each tensor entry at least 24
            r.need(12 * n_kv + 24 * n_tensors, "the key/value and tensor tables")
            metadata: dict[str, Any] = {}
            lengths: dict[str, int] = {}
            spans: dict[str, tuple[int, int]] = {}
            for _ in range(n_kv):
                start = fh.tell()
                key = r.string()
                vtype = r.unpack("<I")
                metadata[key] = r.value(vtype, key=key, lengths=lengths)
                spans[key] = (start, fh.tell())
            tensors: dict[str, TensorInfo] = {}
            ti_start = fh.tell()
            for _ in range(n_tensors):
                name = r.string()
                n_dims = r.unpack("<I")
                if n_dims > 8:
                    raise ValueError(f"tensor {name[:60]!r} claims {n_dims} dimensions")
                shape = tuple(r.unpack("<Q") for _ in range(n_dims))
                ggml_type = r.unpack("<I")
                offset = r.unpack("<Q")
                tensors[name] = TensorInfo(name, shape, ggml_type, offset)
            ti_end = fh.tell()
    except FileNotFoundError:
        raise QConsoleError(f"model file not found: {p}") from None
    except UnsafeFile as exc:
        raise QConsoleError(str(exc)) from None
    except IsADirectoryError:
        raise QConsoleError(f"model path is a directory, not a .gguf file: {p}") from None
    except OSError as exc:
        raise QConsoleError(f"cannot read GGUF file {p}: {exc.strerror or exc}") from exc
    except (EOFError, ValueError, struct.error, OverflowError, MemoryError) as exc:
        raise QConsoleError(f"GGUF header is truncated or corrupt: {p} ({exc})") from None
    alignment = metadata.get("general.alignment", 32)
    if not (isinstance(alignment, int) and not isinstance(alignment, bool)
            and 0 < alignment <= 1 << 20):
        raise QConsoleError(
            f"GGUF header is corrupt: {p} (general.alignment is {str(alignment)[:40]!r}, "
            "not a small positive integer)"
        )
    data_offset = -(-ti_end // alignment) * alignment
    end = data_offset
    for t in tensors.values():
        nbytes = tensor_bytes(t.shape, t.ggml_type)
        if nbytes is not None:
            end = max(end, data_offset + t.offset + nbytes)
    if end > size:
        raise QConsoleError(f"GGUF file is truncated ({size:,} of {end:,} bytes): {p}")
    return GGUFHeader(
        p, version, metadata, lengths, tensors, spans, (ti_start, ti_end), data_offset
    )


def tensor_bytes(shape: tuple[int, ...], ggml_type: int) -> int | None:
    """Bytes of a tensor's data, or None for a type this gguf package does not know."""
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        block, size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ImportError, KeyError, ValueError):
        return None
    n = 1
    for d in shape:
        n *= d
    return n // block * size


def shape_signature(gguf_path: str | os.PathLike[str]) -> dict[str, Any]:
    """What decides whether an adapter fits: architecture, depth, widths, heads, vocabulary."""
    return shape_signature_of(read_gguf_header(gguf_path))


def shape_signature_of(header: GGUFHeader) -> dict[str, Any]:
    sig: dict[str, Any] = {"architecture": header.architecture}
    for key in SHAPE_KEYS:
        value = header.arch_value(key)
        if key == "vocab_size" and value is None:
            value = header.array_lengths.get("tokenizer.ggml.tokens")
        if key == "vocab_size" and value is None and "token_embd.weight" in header.tensors:
            value = header.tensors["token_embd.weight"].shape[-1]
        sig[key] = value
    return sig


def signature_id(signature: dict[str, Any]) -> str:
    """A short stable id of a shape signature, for cache keys and display."""
    canon = json.dumps(signature, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def signature_mismatch(recorded: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """One line naming the first difference between two shape signatures, or None if equal."""
    for key in ("architecture", *SHAPE_KEYS):
        if recorded.get(key) != actual.get(key):
            return f"{key} {recorded.get(key)!r} != base {actual.get(key)!r}"
    return None


def file_fingerprint(gguf_path: str | os.PathLike[str]) -> str:
    """sha256 of the file, computed once per (path, size, mtime_ns) and cached."""
    p = Path(gguf_path).expanduser().resolve()
    try:
        st = p.stat()
    except OSError as exc:
        raise QConsoleError(f"model file not found: {p}") from exc
    key = hashlib.sha256(str(p).encode()).hexdigest()[:32]
    record_path = cache_dir() / "fingerprints" / f"{key}.json"
    try:
        record = json.loads(record_path.read_text())
        if (
            record.get("path") == str(p)
            and record.get("size") == st.st_size
            and record.get("mtime_ns") == st.st_mtime_ns
        ):
            return str(record["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    with open(p, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    sha = digest.hexdigest()
    record = {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    _write_json_atomic(record_path, record)
    return sha


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs a recomputation next time
