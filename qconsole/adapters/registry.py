"""The adapters registry: every sub-directory of ``adapters_dir()`` is one adapter.

Listing never raises for one bad adapter: each entry says ``usable`` and, when not, a one-line
``reason`` the console shows greyed out. Installing is atomic: a finished adapter is moved (or
copied to a hidden directory and renamed) into place, so a reader never sees half an adapter;
hidden directories (``.install-*``) are never listed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from qconsole.adapters.compat import check_compat
from qconsole.adapters.metadata import METADATA_FILE, AdapterMeta
from qconsole.adapters.peft_files import AdapterFormatError, read_peft_adapter
from qconsole.errors import QConsoleError
from qconsole.jobs.litter import remove_litter
from qconsole.models.fingerprint import GGUFHeader, file_fingerprint, read_gguf_header
from qconsole.paths import adapters_dir

GGUF_LORA_FILE = "adapter.gguf"
MAX_NAME = 64
# work folders of a training run and an install, named by their process (``jobs/litter.py``)
TRAIN_TMP = re.compile(r"^\.train-(?P<pid>\d+)-")
INSTALL_TMP = re.compile(r"^\.install-(?P<pid>\d+)-")
INSTALL_TMP_LEGACY = re.compile(r"^\.install-(?!\d+-)")
GGUF_PART = re.compile(r"^\.adapter-p(?P<pid>\d+)\..*\.gguf\.part$")
GGUF_PART_LEGACY = re.compile(r"^\.adapter-.*\.gguf\.part$")


def clear_litter(root: str | os.PathLike[str] | None = None) -> int:
    """Remove what killed trainings and installs left in the registry; how many."""
    folder = Path(root) if root is not None else adapters_dir()
    return remove_litter(folder, TRAIN_TMP) + remove_litter(
        folder, INSTALL_TMP, INSTALL_TMP_LEGACY
    )


@dataclass
class AdapterEntry:
    name: str
    path: Path
    usable: bool
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    meta: AdapterMeta | None = None
    base_gguf: Path | None = None  # the base this entry was checked against
    rank: int | None = None
    alpha: float | None = None
    targets: tuple[str, ...] = ()
    base_model_name_or_path: str | None = None

    @property
    def gguf_lora_path(self) -> Path:
        """Where the converted GGUF LoRA is cached (see gguf_lora.ensure_gguf_lora)."""
        return self.path / GGUF_LORA_FILE

    def summary(self) -> str:
        """One line for a list: name, rank, targets, and why not when unusable."""
        bits = [self.name]
        if self.rank is not None:
            bits.append(f"r={self.rank}")
        if self.alpha is not None:
            bits.append(f"alpha={self.alpha:g}")
        if self.meta and self.meta.final_loss is not None:
            bits.append(f"loss={self.meta.final_loss:.3f}")
        if not self.usable:
            bits.append(f"unusable: {self.reason}")
        return "  ".join(bits)


def sanitize_name(name: str) -> str:
    """A safe directory name: letters, digits, ``.``, ``_``, ``-``; no separators, no dot-files."""
    text = "".join(
        unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "-"
        for ch in str(name)
    )
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip(".-_")[:MAX_NAME].strip(".-_")
    return text or "adapter"


def confined_path(folder: Path, name: str) -> Path:
    """``folder / name`` for an adapter name that is one plain entry of the registry: no
    separator, no ``..``, no dot-name, nothing that resolves outside ``folder`` (a symlink out
    of the registry included). An adapter name never leaves ``adapters/``."""
    from qconsole.text_safety import safe_text

    shown = safe_text(repr(name), inline=True)
    if (not isinstance(name, str) or not name or name.startswith(".") or "/" in name
            or "\\" in name or "\x00" in name or len(name) > 255):
        raise QConsoleError(
            f"invalid adapter name {shown}: a name from `qconsole adapters list`, not a path"
        )
    path = folder / name
    try:
        inside = path.resolve().parent == folder.resolve()
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        raise QConsoleError(f"adapter {shown} points outside {folder}; refusing to use it")
    return path


def load_entry(
    path: str | os.PathLike[str],
    base_gguf: str | os.PathLike[str],
    *,
    header: GGUFHeader | None = None,
    base_sha256: str | None = None,
) -> AdapterEntry:
    """Describe one adapter directory against a base. Problems become ``reason``, never raise."""
    folder = Path(path)
    remove_litter(folder, GGUF_PART, GGUF_PART_LEGACY)  # of a conversion killed midway
    base = Path(base_gguf).expanduser().resolve()
    entry = AdapterEntry(name=folder.name, path=folder, usable=False, base_gguf=base)
    try:
        entry.meta = AdapterMeta.read(folder)
    except (ValueError, OSError) as exc:
        entry.warnings.append(f"ignored unreadable {METADATA_FILE}: {exc}")
    try:
        files = read_peft_adapter(folder)
    except AdapterFormatError as exc:
        entry.reason = str(exc)
        return entry
    except Exception as exc:  # a broken adapter must not break the list
        entry.reason = f"unreadable adapter: {type(exc).__name__}: {exc}"
        return entry
    entry.rank = files.rank
    alpha = files.config.get("lora_alpha")  # validated: a finite number or absent
    entry.alpha = float(alpha) if alpha is not None else None
    entry.targets = files.target_names
    entry.base_model_name_or_path = files.config.get("base_model_name_or_path")
    try:
        header = header or read_gguf_header(base)
        if base_sha256 is None and entry.meta is not None and entry.meta.base_sha256:
            base_sha256 = file_fingerprint(base)
        report = check_compat(files, entry.meta, header, base_sha256)
    except QConsoleError as exc:
        entry.reason = f"base model unreadable: {exc}"
        return entry
    except Exception as exc:
        entry.reason = f"cannot check adapter: {type(exc).__name__}: {exc}"
        return entry
    entry.usable, entry.reason = report.usable, report.reason
    entry.warnings.extend(report.warnings)
    return entry


def _candidate_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name.lower(),
    )


def list_adapters(
    base_gguf: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> list[AdapterEntry]:
    """Every adapter in the registry, each marked usable or not with this base."""
    folder = Path(root) if root is not None else adapters_dir()
    clear_litter(folder)
    base = Path(base_gguf).expanduser().resolve()
    header = read_gguf_header(base)  # the base's own problem: raises QConsoleError
    sha = file_fingerprint(base)
    entries = []
    for path in _candidate_dirs(folder):
        try:
            confined_path(folder, path.name)
        except QConsoleError as exc:
            entries.append(AdapterEntry(name=path.name, path=path, usable=False, reason=str(exc)))
            continue
        entries.append(load_entry(path, base, header=header, base_sha256=sha))
    return entries


def get_adapter(
    name: str, base_gguf: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> AdapterEntry:
    """One adapter by name (as listed), or QConsoleError naming those that exist."""
    folder = Path(root) if root is not None else adapters_dir()
    path = confined_path(folder, name)
    if not path.is_dir():
        known = ", ".join(p.name for p in _candidate_dirs(folder)) or "none"
        raise QConsoleError(f"no adapter named {name!r} in {folder} (adapters: {known})")
    return load_entry(path, base_gguf)


def install_adapter(
    tmp_dir: str | os.PathLike[str],
    meta: AdapterMeta,
    name: str | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    base_gguf: str | os.PathLike[str] | None = None,
) -> AdapterEntry:
    """Move a finished PEFT adapter directory into the registry, atomically, with metadata.

    The final name is ``sanitize_name(name or meta.name)``, suffixed ``-2``, ``-3``... if taken;
    ``meta.name`` is set to it. ``tmp_dir`` is gone afterwards. The entry is checked against
    ``base_gguf``, or the base recorded in ``meta``.
    """
    src = Path(tmp_dir)
    files = read_peft_adapter(src)  # raises AdapterFormatError (a QConsoleError) if incomplete
    if not files.pairs:
        raise QConsoleError(f"{src} holds no LoRA tensors")
    folder = Path(root) if root is not None else adapters_dir()
    folder.mkdir(parents=True, exist_ok=True)
    wanted = sanitize_name(name or meta.name or src.name)
    clear_litter(folder)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".install-{os.getpid()}-"))
    try:
        stage = staging / "adapter"
        try:
            os.rename(src, stage)  # same filesystem: a move
            moved = True
        except OSError:
            shutil.copytree(src, stage)
            moved = False
        try:
            final = _rename_free(stage, folder, wanted, meta)
        except BaseException:
            if moved:  # put the caller's directory back where it was
                os.rename(stage, src)
            raise
        if not moved:
            shutil.rmtree(src, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    base = base_gguf or meta.base_path
    if base and Path(base).exists():
        return load_entry(final, base)
    return AdapterEntry(
        name=final.name, path=final, usable=False, meta=meta,
        reason="base model file not found; list it against a base to check it",
        rank=files.rank, targets=files.target_names,
    )


def _rename_free(stage: Path, folder: Path, wanted: str, meta: AdapterMeta) -> Path:
    """Rename ``stage`` to the first free ``wanted[-N]``, metadata written under that name first.

    Renaming a directory onto a missing (or empty) path is atomic; onto a taken one it fails,
    and we try the next name, so two installers racing for one name both succeed.
    """
    for i in range(1, 1000):
        candidate = folder / (wanted if i == 1 else f"{wanted}-{i}")
        if candidate.exists():
            continue
        meta.name = candidate.name
        meta.write(stage)
        try:
            os.rename(stage, candidate)
        except OSError:
            if candidate.exists():
                continue
            raise
        return candidate
    raise QConsoleError(f"too many adapters named {wanted!r}")
