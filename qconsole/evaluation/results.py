"""Per-item evaluation records and their JSON-lines form.

Why per item: every statistic qconsole reports about base vs adapter (paired difference, McNemar,
flips, clustered intervals, the topic-by-cycle matrix) needs to know, for each item, whether the
base and the adapter got it right *on the same item*. Aggregates cannot be re-paired later, so the
per-item records are what is stored, and every number is recomputed from them.

One record is one JSON object on one line (``*.items.jsonl``)::

    {"item_id": "chain_sum:0007", "suite": "transfer-near", "topic": "arithmetic",
     "distance": "near", "cluster": null, "base_correct": false, "adapter_correct": true,
     "prompt": "...", "reference": "-3", "base_reply": "...", "adapter_reply": "...",
     "meta": {}}

``item_id``, ``suite``, ``base_correct`` and ``adapter_correct`` are required; the rest may be
absent or null. Unknown keys are ignored on reading, so newer writers stay readable.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qconsole.errors import QConsoleError

Distance = Literal["in-domain", "near", "far"]
DISTANCES: tuple[str, ...] = ("in-domain", "near", "far")


@dataclass(frozen=True)
class ItemResult:
    """Base and adapter outcome on one evaluation item.

    ``cluster`` groups items that are not independent (same dialogue, same template); None means
    the item is its own cluster. ``topic`` and ``distance`` say what the item measures.
    """

    item_id: str
    suite: str
    base_correct: bool
    adapter_correct: bool
    topic: str | None = None
    distance: str | None = None
    cluster: str | None = None
    prompt: str | None = None
    reference: str | None = None
    base_reply: str | None = None
    adapter_reply: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "suite": self.suite,
            "topic": self.topic,
            "distance": self.distance,
            "cluster": self.cluster,
            "base_correct": self.base_correct,
            "adapter_correct": self.adapter_correct,
            "prompt": self.prompt,
            "reference": self.reference,
            "base_reply": self.base_reply,
            "adapter_reply": self.adapter_reply,
            "meta": dict(self.meta),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "record") -> ItemResult:
        """Build a record from a decoded JSON object; ``where`` prefixes error messages."""
        if not isinstance(data, Mapping):
            raise QConsoleError(f"{where}: expected a JSON object, got {type(data).__name__}")
        for key in ("item_id", "suite", "base_correct", "adapter_correct"):
            if key not in data:
                raise QConsoleError(f"{where}: missing required key {key!r}")
        for key in ("base_correct", "adapter_correct"):
            if not isinstance(data[key], bool):
                raise QConsoleError(f"{where}: {key!r} must be true or false, got {data[key]!r}")
        for key in ("item_id", "suite"):
            if not isinstance(data[key], str) or not data[key]:
                raise QConsoleError(f"{where}: {key!r} must be a non-empty string")
        optional: dict[str, str | None] = {}
        for key in ("topic", "distance", "cluster", "prompt", "reference", "base_reply",
                    "adapter_reply"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise QConsoleError(f"{where}: {key!r} must be a string or null, got {value!r}")
            optional[key] = value
        if optional["distance"] is not None and optional["distance"] not in DISTANCES:
            raise QConsoleError(
                f"{where}: 'distance' must be one of {', '.join(DISTANCES)}, "
                f"got {optional['distance']!r}"
            )
        meta = data.get("meta") or {}
        if not isinstance(meta, Mapping):
            raise QConsoleError(f"{where}: 'meta' must be an object")
        return cls(
            item_id=data["item_id"],
            suite=data["suite"],
            base_correct=data["base_correct"],
            adapter_correct=data["adapter_correct"],
            meta=dict(meta),
            **optional,
        )

    @classmethod
    def from_json(cls, line: str, *, where: str = "record") -> ItemResult:
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise QConsoleError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from e
        return cls.from_dict(data, where=where)


def dumps_jsonl(results: Iterable[ItemResult]) -> str:
    """The JSON-lines text for ``results``, one record per line, ending in a newline."""
    return "".join(r.to_json() + "\n" for r in results)


def loads_jsonl(text: str, *, source: str = "<string>") -> list[ItemResult]:
    """Parse JSON-lines text; blank lines are skipped, errors name ``source:line``."""
    out: list[ItemResult] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            out.append(ItemResult.from_json(line, where=f"{source}:{lineno}"))
    return out


def write_jsonl(path: str | os.PathLike[str], results: Iterable[ItemResult]) -> Path:
    """Write records atomically (temporary file, then rename), so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps_jsonl(results)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_jsonl(path: str | os.PathLike[str]) -> list[ItemResult]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise QConsoleError(f"cannot read results file {path}: {e.strerror or e}") from e
    return loads_jsonl(text, source=str(path))
