"""``qconsole_adapter.json``: what an adapter was made from, so a result can be traced and trusted.

It records the base model by name, by *shape* (which decides whether the adapter fits) and by
file hash (which says whether it is the very file it was trained on), the data it was trained on
(a description, correction ids and a hash of the records), the hyper-parameters, the final loss,
the backend (peft, unsloth) and free notes. Unknown keys are kept, so a newer qconsole's file
survives a round trip through an older one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError

METADATA_FILE = "qconsole_adapter.json"
METADATA_FORMAT = 1


def hash_records(records: Iterable[Any]) -> str:
    """sha256 of JSON-serialisable records in order: the fingerprint of a training set."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class AdapterMeta:
    name: str
    base_name: str
    base_shape: dict[str, Any]
    base_sha256: str | None = None
    base_path: str | None = None
    created: str = field(default_factory=_now)
    source: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    final_loss: float | None = None
    backend: str = "peft"
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_base(
        cls,
        gguf_path: str | os.PathLike[str],
        *,
        name: str,
        base_name: str | None = None,
        source: dict[str, Any] | None = None,
        hyperparameters: dict[str, Any] | None = None,
        final_loss: float | None = None,
        backend: str = "peft",
        notes: str = "",
    ) -> AdapterMeta:
        """Metadata for an adapter trained on ``gguf_path``: fills in shape and file hash."""
        from qconsole.models.fingerprint import file_fingerprint, shape_signature

        path = Path(gguf_path).expanduser().resolve()
        return cls(
            name=name,
            base_name=base_name or path.stem,
            base_shape=shape_signature(path),
            base_sha256=file_fingerprint(path),
            base_path=str(path),
            source=dict(source or {}),
            hyperparameters=dict(hyperparameters or {}),
            final_loss=final_loss,
            backend=backend,
            notes=notes,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.extra)
        data.update(
            {
                "format": METADATA_FORMAT,
                "name": self.name,
                "created": self.created,
                "base": {
                    "name": self.base_name,
                    "path": self.base_path,
                    "shape_signature": self.base_shape,
                    "sha256": self.base_sha256,
                },
                "source": self.source,
                "hyperparameters": self.hyperparameters,
                "final_loss": self.final_loss,
                "backend": self.backend,
                "notes": self.notes,
            }
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterMeta:
        """Build from a file's JSON, validated (``documents.AdapterMetaFile``): ValueError
        naming the first bad field."""
        from qconsole.adapters.documents import AdapterMetaFile
        from qconsole.validated import InvalidData, check

        if not isinstance(data, dict):
            raise ValueError("metadata is not a JSON object")
        try:
            check(AdapterMetaFile, data, "bad field")
        except InvalidData as exc:
            raise ValueError(str(exc)) from None
        base = data["base"]
        known = {"format", "name", "created", "base", "source", "hyperparameters", "final_loss",
                 "backend", "notes"}
        loss = data.get("final_loss")
        return cls(
            name=str(data.get("name") or ""),
            base_name=str(base.get("name") or ""),
            base_shape=dict(base["shape_signature"]),
            base_sha256=base.get("sha256"),
            base_path=base.get("path"),
            created=str(data.get("created") or ""),
            source=dict(data.get("source") or {}),
            hyperparameters=dict(data.get("hyperparameters") or {}),
            final_loss=float(loss) if isinstance(loss, int | float) else None,
            backend=str(data.get("backend") or "peft"),
            notes=str(data.get("notes") or ""),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def write(self, folder: str | os.PathLike[str]) -> Path:
        path = Path(folder) / METADATA_FILE
        tmp = path.with_name(f".{METADATA_FILE}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> AdapterMeta | None:
        """The metadata of an adapter directory, None if it has none; ValueError if unreadable."""
        from qconsole.adapters.peft_files import read_json_object

        path = Path(folder) / METADATA_FILE
        if not path.exists() and not path.is_symlink():
            return None
        try:
            data = read_json_object(path)
        except QConsoleError as exc:
            raise ValueError(str(exc)) from None
        return cls.from_dict(data)
