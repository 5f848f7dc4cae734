"""Open a GGUF base in transformers as a plain (dequantised) PyTorch model that PEFT can train.

Four facts shape this module:

- transformers 5 marks a GGUF-loaded model as quantized although its weights are dequantised, and
  then ``save_pretrained``, PEFT's saving and ``Trainer`` refuse it. We clear the marks
  (``hf_quantizer.remove_quantization_config`` and ``config._is_quantized``), each only where the
  installed version has it.
- transformers' GGUF tokenizer conversion differs between versions (5.17, which the ``gpu`` extra
  resolves to, turns Gemma's vocabulary into a wrong Unigram model); Gemma vocabularies are
  therefore converted by gguf_tokenizer.py, which gives 5.24's result under every version.
- Converting a GGUF's tokenizer takes a dozen seconds for a 262k vocabulary, and parsing the
  GGUF's metadata (the same vocabulary, again) about ten more on every load. So the first use of a
  base converts its config and tokenizer once into ``cache_dir()/hf/<sha256[:16]>/``, beside a
  copy of the GGUF without the tokenizer arrays (see weights_gguf.py); later loads read those.
- Two processes (the console and a training subprocess) may build the same cache at once: the
  build happens in a temporary directory renamed into place, under a file lock, so nobody ever
  reads a half-written cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qconsole.errors import QConsoleError
from qconsole.models.fingerprint import (
    file_fingerprint,
    read_gguf_header,
    shape_signature_of,
)
from qconsole.paths import cache_dir

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

CACHE_FORMAT = 1
WEIGHTS_FILE = "weights.gguf"
MANIFEST_FILE = "qconsole_hf.json"
_build_lock = threading.Lock()


def hf_cache_path(gguf_path: str | os.PathLike[str]) -> Path:
    """Where the converted config and tokenizer of this exact GGUF file live."""
    return cache_dir() / "hf" / file_fingerprint(gguf_path)[:16]


def ensure_hf_cache(gguf_path: str | os.PathLike[str]) -> Path:
    """Build the HF cache of ``gguf_path`` if needed (once, about 25 s) and return its folder."""
    src = _existing_gguf(gguf_path)
    target = hf_cache_path(src)
    if _cache_ok(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock, _file_lock(target.with_name(target.name + ".lock")):
        if _cache_ok(target):  # another thread or process built it meanwhile
            return target
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".build-{target.name}-"))
        try:
            _build(src, tmp)
            if target.exists():  # stale format or a broken leftover
                shutil.rmtree(target)
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_hf_config(gguf_path: str | os.PathLike[str]) -> PretrainedConfig:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(ensure_hf_cache(gguf_path))


def load_hf_tokenizer(gguf_path: str | os.PathLike[str]) -> PreTrainedTokenizerBase:
    """The base's tokenizer as a transformers tokenizer, from the cache (about a second)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ensure_hf_cache(gguf_path))


def load_hf_model(
    gguf_path: str | os.PathLike[str], *, dtype: torch.dtype | str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load the dequantised GGUF as a transformers causal LM (eval mode) and its tokenizer.

    ``dtype`` defaults to float32 (merging and checking adapters need it; training may pass
    ``torch.bfloat16``). The model is an ordinary, unquantized ``PreTrainedModel``: PEFT,
    ``Trainer`` and ``save_pretrained`` accept it.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if dtype is None:
        dtype = torch.float32
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype.removeprefix("torch."))
    folder = ensure_hf_cache(gguf_path)
    config = AutoConfig.from_pretrained(folder)
    with _quiet_transformers(), _memoized_tensor_name_map():
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(folder), gguf_file=WEIGHTS_FILE, config=config, dtype=dtype
            )
        except (ValueError, OSError, RuntimeError) as exc:
            line = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise QConsoleError(f"transformers cannot load {Path(gguf_path).name}: {line}") from exc
    clear_quantized_marks(model)
    model.eval()
    return model, AutoTokenizer.from_pretrained(folder)


def clear_quantized_marks(model: Any) -> None:
    """Undo transformers 5 calling a dequantised GGUF model 'quantized' (guarded per version)."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and hasattr(quantizer, "remove_quantization_config"):
        quantizer.remove_quantization_config(model)
    else:
        for attr in ("hf_quantizer", "quantization_method"):
            if hasattr(model, attr):
                with contextlib.suppress(AttributeError):
                    delattr(model, attr)
        if hasattr(model.config, "quantization_config"):
            with contextlib.suppress(AttributeError):
                del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        with contextlib.suppress(AttributeError):
            model.is_quantized = False
    model.config._is_quantized = False


# -- building the cache ------------------------------------------------------------------------
def _existing_gguf(gguf_path: str | os.PathLike[str]) -> Path:
    src = Path(gguf_path).expanduser().resolve()
    if not src.is_file():
        raise QConsoleError(f"model file not found: {src}")
    return src


def _cache_ok(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    # A manifest without "tokenizer" predates gguf_tokenizer.py and may hold the wrong Gemma
    # tokenizer transformers 5.17 makes: rebuilt once (older code accepts the rebuilt folder).
    return (
        manifest.get("format") == CACHE_FORMAT
        and "tokenizer" in manifest
        and (folder / WEIGHTS_FILE).is_file()
    )


def _build(src: Path, out: Path) -> None:
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    from qconsole.hf.gguf_tokenizer import build_gemma_tokenizer, builds_own_tokenizer
    from qconsole.hf.weights_gguf import write_weights_only_gguf

    started = time.perf_counter()
    header = read_gguf_header(src)
    own_tokenizer = builds_own_tokenizer(header)
    with _quiet_transformers():
        try:
            config = AutoConfig.from_pretrained(str(src.parent), gguf_file=src.name)
            if own_tokenizer:
                tokenizer = build_gemma_tokenizer(src, header)
            else:
                tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        except (ValueError, OSError, KeyError) as exc:
            line = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise QConsoleError(
                f"transformers cannot read {src.name} ({header.architecture}): {line}"
            ) from exc
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_weights_only_gguf(src, out / WEIGHTS_FILE, header)
    manifest = {
        "format": CACHE_FORMAT,
        "source": str(src),
        "sha256": file_fingerprint(src),
        "shape_signature": shape_signature_of(header),
        "transformers": transformers.__version__,
        "tokenizer": "qconsole" if own_tokenizer else "transformers",
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes where the platform has flock; a no-op elsewhere."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _memoized_tensor_name_map() -> Iterator[None]:
    """transformers' GGUF loader rebuilds gguf's name map once per module (313 times for Gemma 3
    270M, about 3 s); the map depends only on (architecture, block count), so share one."""
    import functools

    import gguf

    original = gguf.get_tensor_name_map
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(original)
    try:
        yield
    finally:
        gguf.get_tensor_name_map = original


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Hide the GGUF loader's progress bars; they are noise in a console or a test log."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
