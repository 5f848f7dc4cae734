"""Changes to a session, each one atomic write, with an undo log for what a person decides.

Marks, rewrites and preferences are recorded with an undo event in the same file, written in
the same atomic write as the change itself (``SessionFiles.writing``), so ``undo_last``
survives a restart. Input from callers is checked first (``validation.py``): a typo in a field
name fails at once instead of being saved and silently ignored.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from tinydb import TinyDB

from qconsole.errors import QConsoleError
from qconsole.store.failure_kinds import failure_kind, route_step
from qconsole.store.files import SessionFiles, turn_doc
from qconsole.store.ids import check_side, now_iso, turn_id_for
from qconsole.store.schema import EVENTS, META, SCHEMA_VERSION, TURNS
from qconsole.store.validation import _check_json, meta_input, reply_fields, turn_input
from qconsole.store.votes import blind_doc, revert_vote

Doc = MutableMapping[str, Any]  # a TinyDB document, as Table.update hands it to a mutator


@dataclass(frozen=True)
class Change:
    """What ``undo_last`` reverted: the UI refreshes this turn."""

    op: str  # "mark" | "clear_mark" | "rewrite" | "clear_rewrite" | "preference" | "blind_vote"
    turn_id: str
    side: str | None
    at: str


class Mutations:
    """Every write the store makes to a session, through one :class:`SessionFiles`."""

    def __init__(self, files: SessionFiles) -> None:
        self.files = files

    def create_session(self, meta: dict | None = None) -> str:
        fields = meta_input(meta)

        def doc_for(session_id: str) -> dict:
            now = now_iso()
            return {
                "schema_version": SCHEMA_VERSION, "id": session_id,
                "created": now, "updated": now, **fields,
            }

        return self.files.create(doc_for)

    def update_meta(self, session_id: str, meta: dict) -> None:
        given = set(meta)
        checked = meta_input(meta)
        extra = checked.pop("extra")
        fields = {k: v for k, v in checked.items() if k in given}
        with self.files.writing(session_id) as db:
            def mutate(doc: Doc) -> None:
                doc.update(fields)
                if extra:
                    doc.setdefault("extra", {}).update(extra)

            db.table(META).update(mutate, doc_ids=[1])

    def append_turn(self, session_id: str, turn: dict) -> str:
        user, replies, created, blind = turn_input(turn)
        now = now_iso()
        blind_value = None if blind is None else blind_doc(
            blind["seed"], blind.get("assignment"), shown_at=now)
        for reply in replies.values():
            if reply.get("finish_reason") and not reply.get("finished"):
                reply["finished"] = now
        with self.files.writing(session_id) as db:
            turns = db.table(TURNS)
            index = max((int(d.get("index") or 0) for d in turns.all()), default=0) + 1
            turn_id = turn_id_for(index)
            doc = {
                "turn_id": turn_id, "index": index, "user": user, "created": created or now,
                "updated": now, "replies": replies, "marks": {}, "rewrites": {},
                "preference": None,
            }
            if blind_value is not None:
                doc["blind"] = blind_value
            turns.insert(doc)
        return turn_id

    def update_side(self, session_id: str, turn_id: str, side: str, fields: dict) -> None:
        check_side(side)
        fields = reply_fields(fields, what=f"{side} reply")
        now = now_iso()
        if fields.get("finish_reason") and not fields.get("finished"):
            fields["finished"] = now
        with self.files.writing(session_id) as db:
            doc_id, _ = turn_doc(db, session_id, turn_id)

            def mutate(doc: Doc) -> None:
                replies = doc.setdefault("replies", {})
                current = dict(replies.get(side) or {})
                current.update(fields)
                replies[side] = current
                doc["updated"] = now

            db.table(TURNS).update(mutate, doc_ids=[doc_id])

    def set_mark(
        self,
        session_id: str,
        turn_id: str,
        side: str,
        kind: str | Sequence[str],
        note: str = "",
        step: str | None = None,
    ) -> None:
        check_side(side)
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if not kinds:
            raise QConsoleError("a mark needs at least one failure kind")
        kinds = list(dict.fromkeys(failure_kind(k).key for k in kinds))
        if not isinstance(note, str):
            raise QConsoleError("a mark's note must be text")
        if step is not None:
            step = route_step(step).key
        with self.files.writing(session_id) as db:
            doc_id, doc = turn_doc(db, session_id, turn_id)
            before = (doc.get("marks") or {}).get(side)
            if before and (before.get("kinds"), before.get("note"), before.get("step")) == (
                kinds, note, step,
            ):
                return
            now = now_iso()
            after = {"kinds": kinds, "note": note, "step": step, "at": now}
            _set_side_value(db, doc_id, "marks", side, after, now)
            _log(db, "mark", turn_id, side, "marks", before=before, at=now)

    def clear_mark(self, session_id: str, turn_id: str, side: str) -> bool:
        check_side(side)
        with self.files.writing(session_id) as db:
            doc_id, doc = turn_doc(db, session_id, turn_id)
            before = (doc.get("marks") or {}).get(side)
            if before is None:
                return False
            now = now_iso()
            _set_side_value(db, doc_id, "marks", side, None, now)
            _log(db, "clear_mark", turn_id, side, "marks", before=before, at=now)
            return True

    def set_rewrite(self, session_id: str, turn_id: str, side: str, text: str | None,
                    provenance: dict | None = None) -> None:
        check_side(side)
        if text is not None and not isinstance(text, str):
            raise QConsoleError("a rewrite must be text")
        if provenance is not None:
            if not isinstance(provenance, dict):
                raise QConsoleError("a rewrite's provenance must be a dict")
            provenance = dict(_check_json(provenance, "rewrite provenance"))
        with self.files.writing(session_id) as db:
            doc_id, doc = turn_doc(db, session_id, turn_id)
            history = list((doc.get("rewrites") or {}).get(side) or [])
            current = history[-1].get("text") if history else None
            if text == current:
                return
            now = now_iso()
            version: dict = {"text": text, "at": now}
            if provenance is not None:
                version["provenance"] = provenance

            def mutate(d: Doc) -> None:
                d.setdefault("rewrites", {}).setdefault(side, []).append(version)
                d["updated"] = now

            db.table(TURNS).update(mutate, doc_ids=[doc_id])
            op = "rewrite" if text is not None else "clear_rewrite"
            _log(db, op, turn_id, side, "rewrites", before_len=len(history), at=now)

    def set_preference(self, session_id: str, turn_id: str, side: str | None) -> None:
        if side is not None:
            check_side(side)
        with self.files.writing(session_id) as db:
            doc_id, doc = turn_doc(db, session_id, turn_id)
            before = doc.get("preference")
            if before == side:
                return
            now = now_iso()

            def mutate(d: Doc) -> None:
                d["preference"] = side
                d["updated"] = now

            db.table(TURNS).update(mutate, doc_ids=[doc_id])
            _log(db, "preference", turn_id, None, "preference", before=before, at=now)

    def undo_last(self, session_id: str) -> Change | None:
        with self.files.writing(session_id) as db:
            events = db.table(EVENTS)
            pending = [e for e in events.all() if not e.get("undone")]
            if not pending:
                return None
            event = max(pending, key=lambda e: e.doc_id)
            now = now_iso()
            turn_id, side, field = event["turn_id"], event.get("side"), event["field"]
            doc_id, _ = turn_doc(db, session_id, turn_id)

            def revert(d: Doc) -> None:
                if field == "rewrites":
                    history = d.setdefault("rewrites", {}).get(side) or []
                    d["rewrites"][side] = history[: int(event.get("before_len") or 0)]
                    if not d["rewrites"][side]:
                        del d["rewrites"][side]
                elif field == "marks":
                    marks = d.setdefault("marks", {})
                    if event.get("before") is None:
                        marks.pop(side, None)
                    else:
                        marks[side] = event["before"]
                elif field == "preference":
                    d["preference"] = event.get("before")
                elif field == "blind":
                    revert_vote(d, event)
                d["updated"] = now

            db.table(TURNS).update(revert, doc_ids=[doc_id])
            events.update({"undone": True, "undone_at": now}, doc_ids=[event.doc_id])
            return Change(op=event["op"], turn_id=turn_id, side=side, at=event.get("at", ""))


def _set_side_value(
    db: TinyDB, doc_id: int, field: str, side: str, value: dict | None, now: str
) -> None:
    def mutate(d: Doc) -> None:
        values = d.setdefault(field, {})
        if value is None:
            values.pop(side, None)
        else:
            values[side] = value
        d["updated"] = now

    db.table(TURNS).update(mutate, doc_ids=[doc_id])


def _log(
    db: TinyDB, op: str, turn_id: str, side: str | None, field: str, *, at: str,
    before: object = None, before_len: int | None = None,
) -> None:
    event: dict = {"op": op, "turn_id": turn_id, "side": side, "field": field, "at": at,
                   "undone": False}
    if field == "rewrites":
        event["before_len"] = before_len
    else:
        event["before"] = before
    db.table(EVENTS).insert(event)
