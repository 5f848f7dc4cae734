"""Exports: corrections as SFT data, preference pairs as DPO data, sessions as Markdown.

The SFT format is the conversational ``messages`` list (role/content dicts) that TRL's
SFTTrainer, Axolotl (``type: chat_template``) and LLaMA-Factory (sharegpt/openai style)
read: the earlier turns of that side as context, the user message, and the rewrite as the
final assistant message. Preference pairs use TRL's conversational preference format:
``prompt`` (a message list ending with the user), ``chosen`` and ``rejected`` (one assistant
message each). Every record carries ``id`` (``session/turn/side``) and a ``source`` dict with
the stable ids, the content hash, the failure kinds, note, step and the original reply.

Text is exported as the store holds it, with one exception: lone surrogates (undecodable bytes
from a terminal) become U+FFFD, because Arrow, tokenizers and most JSON readers outside Python
reject them; the store itself keeps them verbatim.

Files are written atomically (a half-written export never replaces a good one). ``datasets``
is imported only inside :func:`save_sft_dataset`: it is heavy and the rest does not need it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from qconsole.errors import QConsoleError
from qconsole.store.corrections import Correction, PreferencePair
from qconsole.store.model import Session
from qconsole.store.storage import atomic_write_bytes, encode_json
from qconsole.store.transcript import session_markdown

__all__ = [
    "jsonl_bytes",
    "preference_record",
    "save_sft_dataset",
    "session_markdown",
    "sft_record",
    "write_markdown",
    "write_preference_jsonl",
    "write_sft_jsonl",
]


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean(value):
    """``value`` with lone surrogates in every string replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def sft_record(c: Correction) -> dict:
    return clean({
        "id": c.id,
        "messages": [m.to_dict() for m in c.messages],
        "source": {
            "session_id": c.session_id,
            "turn_id": c.turn_id,
            "side": c.side,
            "turn_index": c.turn_index,
            "hash": c.hash,
            "kinds": list(c.kinds),
            "note": c.note,
            "step": c.step,
            "model": c.model,
            "adapter": c.adapter,
            "adapter_fingerprint": c.adapter_fingerprint,
            "template": c.template,
            "original": c.original,
            "rewritten_at": c.rewritten_at,
            # JSON text, so the dataset export keeps one column type whatever a teacher wrote
            "provenance": json.dumps(c.provenance, sort_keys=True) if c.provenance else None,
            "synthetic": c.synthetic,
        },
    })


def preference_record(p: PreferencePair) -> dict:
    return clean({
        "id": p.id,
        "prompt": [m.to_dict() for m in p.prompt],
        "chosen": [{"role": "assistant", "content": p.chosen}],
        "rejected": [{"role": "assistant", "content": p.rejected}],
        "source": {
            "session_id": p.session_id,
            "turn_id": p.turn_id,
            "kind": p.source,
            "chosen_side": p.chosen_side,
            "rejected_side": p.rejected_side,
            "hash": p.hash,
        },
    })


def jsonl_bytes(records: Iterable[dict]) -> bytes:
    return b"".join(encode_json(r) + b"\n" for r in records)


def _prepare_output(path: Path) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise QConsoleError(f"{path} is a directory; give a file name for the export")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QConsoleError(f"cannot create {path.parent}: {exc.strerror or exc}") from exc
    return path


def write_sft_jsonl(corrections: Iterable[Correction], path: Path) -> int:
    records = [sft_record(c) for c in corrections]
    atomic_write_bytes(_prepare_output(path), jsonl_bytes(records))
    return len(records)


def write_preference_jsonl(pairs: Iterable[PreferencePair], path: Path) -> int:
    records = [preference_record(p) for p in pairs]
    atomic_write_bytes(_prepare_output(path), jsonl_bytes(records))
    return len(records)


def write_markdown(sessions: Iterable[Session], path: Path) -> int:
    parts = [session_markdown(s) for s in sessions]
    text = "\n---\n\n".join(parts)
    atomic_write_bytes(_prepare_output(path), text.encode("utf-8", "surrogatepass"))
    return len(parts)


def sft_features():
    """Explicit features: an empty export still has its columns and types."""
    from datasets import Features, Value

    string = Value("string")
    return Features({
        "id": string,
        "messages": [{"role": string, "content": string}],
        "source": {
            "session_id": string, "turn_id": string, "side": string,
            "turn_index": Value("int64"), "hash": string, "kinds": [string], "note": string,
            "step": string, "model": string, "adapter": string, "adapter_fingerprint": string,
            "template": string, "original": string, "rewritten_at": string,
            "provenance": string, "synthetic": Value("bool"),
        },
    })


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_info.json").exists() or (path / "state.json").exists()


def save_sft_dataset(corrections: Iterable[Correction], path: Path) -> int:
    """Save corrections as a ``datasets.Dataset`` directory (``datasets.load_from_disk``).

    An existing directory is replaced only if it holds a saved dataset; the new one is built
    beside it and swapped in, so a failure leaves the old one as it was.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise QConsoleError(f"{path} is a file; a dataset is saved as a directory")
    if path.is_dir() and any(path.iterdir()) and not _is_saved_dataset(path):
        raise QConsoleError(
            f"{path} is a non-empty directory that is not a saved dataset; choose another path"
        )
    try:
        from datasets import Dataset
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise QConsoleError("saving a dataset needs the 'datasets' package") from exc

    records = [sft_record(c) for c in corrections]
    features = sft_features()
    if records:
        dataset = Dataset.from_list(records, features=features)
    else:  # from_list([]) drops the columns
        dataset = Dataset.from_dict({name: [] for name in features}, features=features)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise QConsoleError(f"cannot write under {path.parent}: {exc.strerror or exc}") from exc
    old: Path | None = None
    try:
        # num_shards=1: with zero rows datasets would otherwise write no shard at all and
        # load_from_disk could not read the result back.
        dataset.save_to_disk(str(tmp), num_shards=1)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
    except OSError as exc:
        if old is not None and not path.exists():
            os.replace(old, path)
            old = None
        raise QConsoleError(f"saving the dataset to {path} failed: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists():
                shutil.rmtree(tmp)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return len(records)
