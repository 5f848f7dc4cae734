"""Model resolution in one place: every part of qconsole turns a model *spec* into a local GGUF
here.

A spec is one of
- ``default`` (or empty): the embedded Gemma 3 270M base model;
- a path to a ``.gguf`` file;
- a Hugging Face hub repository id, optionally with a file: ``owner/repo`` or
  ``owner/repo:file.gguf``; downloaded and cached by huggingface_hub when online;
- an alias from the ``[models]`` table of the config file.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qconsole.errors import QConsoleError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+(:[\w.\-/]+\.gguf)?$")
PREFERRED_QUANTS = ("Q4_K_M", "Q5_K_M", "Q8_0", "Q6_K", "Q4_0", "F16", "BF16")


@dataclass(frozen=True)
class ResolvedModel:
    spec: str
    name: str
    path: Path
    source: str  # "default" | "path" | "hub"


def resolve_model(spec: str | None, *, aliases: Mapping[str, str] | None = None) -> ResolvedModel:
    """Turn a model spec into a local GGUF path, or raise QConsoleError with one clear line."""
    spec = (spec or "default").strip()
    if aliases and spec in aliases:
        return resolve_model(aliases[spec], aliases=None)
    if spec == "default":
        from qconsole.models.embedded import EMBEDDED_NAME, embedded_model_path

        return ResolvedModel(spec, EMBEDDED_NAME, embedded_model_path(), "default")
    path = Path(spec).expanduser()
    looks_local = path.suffix.lower() == ".gguf" or spec.startswith((".", "/", "~"))
    if not path.exists() and HUB_ID.match(spec) and not spec.startswith((".", "/", "~")):
        repo, _, filename = spec.partition(":")
        local = download_from_hub(repo, filename or None)
        return ResolvedModel(spec, f"{repo}/{local.stem}", local, "hub")
    if looks_local or path.exists():
        if not path.exists():
            raise QConsoleError(f"model file not found: {path}")
        if path.is_dir():
            ggufs = sorted(path.glob("*.gguf"))
            if not ggufs:
                raise QConsoleError(f"no .gguf file in directory: {path}")
            path = _pick_quant([p.name for p in ggufs], base=path)
        return ResolvedModel(spec, path.stem, path.resolve(), "path")
    raise QConsoleError(
        f"cannot understand model {spec!r}: give 'default', a path to a .gguf file, "
        "or a Hugging Face repo id like 'owner/repo' or 'owner/repo:file.gguf'"
    )


def _pick_quant(names: list[str], base: Path | None = None) -> Path:
    ggufs = [n for n in names if n.lower().endswith(".gguf")]
    for quant in PREFERRED_QUANTS:
        for n in ggufs:
            if quant.lower() in n.lower():
                return (base / n) if base else Path(n)
    return (base / ggufs[0]) if base else Path(ggufs[0])


def download_from_hub(repo: str, filename: str | None) -> Path:
    """Fetch (or reuse from the local cache) one GGUF file of a hub repo."""
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    try:
        from huggingface_hub import HfApi, hf_hub_download
    except ImportError as exc:  # pragma: no cover - dependency
        raise QConsoleError("huggingface_hub is missing; pip install huggingface-hub") from exc
    if filename:
        try:
            return Path(hf_hub_download(repo, filename, local_files_only=True))
        except Exception:
            pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise QConsoleError(
            f"{repo} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
        )
    unreachable = hub_unreachable_reason()
    if unreachable:
        raise QConsoleError(
            f"cannot download {repo} from the Hugging Face hub: {unreachable} "
            "(offline? use 'default' or a local .gguf path)"
        )
    try:
        if not filename:
            files = HfApi().list_repo_files(repo)
            if not any(f.lower().endswith(".gguf") for f in files):
                raise QConsoleError(f"hub repo {repo} has no .gguf file; convert it to GGUF first")
            filename = str(_pick_quant(files))
        return Path(hf_hub_download(repo, filename))
    except QConsoleError:
        raise
    except Exception as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise QConsoleError(
            f"cannot download {repo}{':' + filename if filename else ''} from the Hugging Face hub "
            f"(offline or no access?): {reason}"
        ) from exc


def hub_unreachable_reason(timeout_s: float = 3.0) -> str | None:
    """One quick connection attempt, so an offline machine gets an answer in seconds instead
    of huggingface_hub's retries with backoff."""
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return f"{host} is unreachable ({exc.strerror or type(exc).__name__})"


def cached_hub_models() -> list[Path]:
    """GGUF files already in the local Hugging Face cache (usable offline)."""
    try:
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir()
    except Exception:
        return []
    found: list[Path] = []
    for repo in info.repos:
        for rev in repo.revisions:
            for f in rev.files:
                if f.file_name.lower().endswith(".gguf"):
                    found.append(Path(f.file_path))
    return sorted(set(found))
