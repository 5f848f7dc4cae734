"""The on-disk schema of a session file: its version, upgrades from older ones, and checks.

A session file is a TinyDB database (so plain TinyDB can open it) with three tables::

    meta    {"1": {schema_version, id, created, updated, title, models, adapters, template,
                   settings, system, extra}}
    turns   {"1": {turn_id, index, user, created, updated,
                   replies:  {side: {text, model, adapter, adapter_fingerprint, template,
                                     sampling, prompt_tokens, completion_tokens, tokens_per_s,
                                     ttft_s, elapsed_s, finish_reason, error, started,
                                     finished, extra}},
                   marks:    {side: {kinds: [...], note, step, at}},
                   rewrites: {side: [{text, at}, ...]},   # history; the last is current,
                                                         # text None means cleared
                   preference: "left" | "right" | null,        # sighted preference
                   blind: {seed, assignment: {"A": side, "B": side},   # shown blind, or
                           vote: "a"|"b"|"tie"|"both_bad"|null,         # absent
                           voted_at, shown_at, revealed_at}}, ...}
    events  {"1": {op, turn_id, side, field, before, before_at, before_len, at, undone},
             ...}  # undo log

The version lives in the data (``meta.schema_version``). Older files are upgraded in memory
when read and written back upgraded on their next write (a copy of the original is kept under
``backup/`` first). A file from a *newer* qconsole is never rewritten: it opens read-only.

Version history:
- 1: a mark had one ``kind``; a rewrite was a single string overwritten on every edit; no undo
  log, no ``updated`` stamps.
- 2: marks carry ``kinds`` (a list); rewrites keep their history; ``events`` holds the undo log.
- 3: turns may carry ``blind`` (an A/B assignment and its vote) and the undo log a
  ``blind_vote`` event. The data of a version-2 file is unchanged by the upgrade; the number
  moves so that a version-2 qconsole opens a file holding votes read-only instead of
  quarantining it for an event kind it does not know.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

SCHEMA_VERSION = 3
META, TURNS, EVENTS = "meta", "turns", "events"


class SchemaError(Exception):
    """Valid JSON that is not a session file qconsole can read."""


def file_version(data: dict) -> int:
    """The schema version recorded in a session file's data."""
    meta_table = data.get(META)
    if not isinstance(meta_table, dict) or not meta_table:
        raise SchemaError("no session metadata (the 'meta' table is missing)")
    doc = meta_table.get("1")
    if not isinstance(doc, dict):
        raise SchemaError("session metadata is not an object")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SchemaError(f"bad schema_version {version!r}")
    return version


def _v1_to_v2(data: dict) -> dict:
    meta = data[META]["1"]
    meta.setdefault("updated", meta.get("created", ""))
    for doc in (data.get(TURNS) or {}).values():
        if not isinstance(doc, dict):
            continue
        created = doc.get("created", "")
        doc.setdefault("updated", created)
        marks = doc.get("marks") or {}
        for side, mark in list(marks.items()):
            if isinstance(mark, dict) and "kinds" not in mark:
                kind = mark.pop("kind", None)
                mark["kinds"] = [kind] if kind else ["other"]
                mark.setdefault("note", "")
                mark.setdefault("step", None)
                mark.setdefault("at", created)
            marks[side] = mark
        rewrites = doc.get("rewrites") or {}
        for side, text in list(rewrites.items()):
            if isinstance(text, str):
                rewrites[side] = [{"text": text, "at": created}]
            elif text is None:
                rewrites[side] = []
    data.setdefault(EVENTS, {})
    meta["schema_version"] = 2
    return data


def _v2_to_v3(data: dict) -> dict:
    data[META]["1"]["schema_version"] = 3
    return data


UPGRADES: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2, 2: _v2_to_v3}


def upgrade(data: dict) -> tuple[dict, int]:
    """Bring ``data`` to SCHEMA_VERSION; returns (data, the version it had).

    The input is not modified. Data from a newer version is returned unchanged.
    """
    version = file_version(data)
    if version >= SCHEMA_VERSION:
        return data, version
    out = copy.deepcopy(data)
    v = version
    while v < SCHEMA_VERSION:
        step = UPGRADES.get(v)
        if step is None:
            raise SchemaError(f"no upgrade from schema {v}")
        out = step(out)
        v = file_version(out)
    return out, version


def validate(data: dict) -> None:
    """Check the whole file against ``documents.SessionDoc``: raise SchemaError naming the
    first field that is wrong (one line)."""
    from qconsole.store.documents import SessionDoc
    from qconsole.validated import InvalidData, check

    try:
        check(SessionDoc, data, "bad field")
    except InvalidData as exc:
        raise SchemaError(str(exc)) from None
