"""One session's row in the review list, computed from its raw data.

Kept apart from ``model.py`` because it walks the raw documents directly: building the full
``Session`` objects for ten thousand files only to count marks would triple the cold listing
time. It is lenient on purpose: a file from a newer schema still gets a row.
"""

from __future__ import annotations

from qconsole.store.ids import SIDES
from qconsole.store.model import SessionSummary, adapter_name, title_from_text


def summarize(data: dict, *, read_only: bool = False) -> SessionSummary:
    meta = data["meta"]["1"]
    models: set[str] = {str(m) for m in (meta.get("models") or {}).values() if m}
    adapters: set[str] = set()
    for ad in (meta.get("adapters") or {}).values():
        name = adapter_name(ad)
        if name:
            adapters.add(name)
    n_turns = n_marks = n_rewrites = n_prefs = n_votes = 0
    kinds: set[str] = set()
    first_user = ""
    turns = sorted(
        (d for d in (data.get("turns") or {}).values() if isinstance(d, dict)),
        key=lambda d: d.get("index") or 0,
    )
    for doc in turns:
        n_turns += 1
        if not first_user and isinstance(doc.get("user"), str):
            first_user = title_from_text(doc["user"])
        for side, reply in (doc.get("replies") or {}).items():
            if side in SIDES and isinstance(reply, dict):
                if reply.get("model"):
                    models.add(str(reply["model"]))
                name = adapter_name(reply.get("adapter"))
                if name:
                    adapters.add(name)
        for mark in (doc.get("marks") or {}).values():
            if isinstance(mark, dict):
                n_marks += 1
                kinds.update(str(k) for k in (mark.get("kinds") or [mark.get("kind") or "other"]))
        for history in (doc.get("rewrites") or {}).values():
            if isinstance(history, list) and history and isinstance(history[-1], dict):
                if history[-1].get("text") is not None:
                    n_rewrites += 1
            elif isinstance(history, str):  # schema 1 kept a bare string
                n_rewrites += 1
        if doc.get("preference") in SIDES:
            n_prefs += 1
        blind = doc.get("blind")
        if isinstance(blind, dict) and blind.get("vote"):
            n_votes += 1
    created = str(meta.get("created") or "")
    return SessionSummary(
        id=str(meta.get("id")),
        created=created,
        updated=str(meta.get("updated") or created),
        title=str(meta.get("title") or "") or first_user,
        models=tuple(sorted(models)),
        adapters=tuple(sorted(adapters)),
        template=str(meta.get("template") or ""),
        n_turns=n_turns,
        n_marks=n_marks,
        n_rewrites=n_rewrites,
        n_preferences=n_prefs,
        kinds=tuple(sorted(kinds)),
        schema_version=int(meta.get("schema_version") or 0),
        read_only=read_only,
        n_votes=n_votes,
    )


def session_text(data: dict) -> str:
    """Everything a text search looks at, joined: title, user texts, replies, current
    rewrites and notes."""
    meta = data["meta"]["1"]
    parts = [str(meta.get("title") or "")]
    for doc in (data.get("turns") or {}).values():
        if not isinstance(doc, dict):
            continue
        parts.append(str(doc.get("user") or ""))
        for reply in (doc.get("replies") or {}).values():
            if isinstance(reply, dict):
                parts.append(str(reply.get("text") or ""))
        for history in (doc.get("rewrites") or {}).values():
            if isinstance(history, list) and history and isinstance(history[-1], dict):
                parts.append(str(history[-1].get("text") or ""))
            elif isinstance(history, str):
                parts.append(history)
        for mark in (doc.get("marks") or {}).values():
            if isinstance(mark, dict):
                parts.append(str(mark.get("note") or ""))
    return "\n".join(parts)
