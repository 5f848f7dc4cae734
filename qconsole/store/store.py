"""SessionStore: every turn of every chat, marks, rewrites and preferences, safe on disk.

Layout, chosen by measurement (``benchmarks/store.py``; figures below): one TinyDB file per
session, ``sessions/<id>.json``, plus a listing cache ``sessions/.index.json``.

- Appending a turn costs one read-modify-write of *that session's* file, so it does not grow
  with the number of sessions or turns stored. TinyDB's default layout (one JSON file holding
  everything) rewrites every session on every append: at 10,000 sessions / 100,000 turns that
  is seconds per turn, and a kill -9 in the middle of its in-place rewrite loses the whole
  history.
- Listing stats every file and reuses cached summaries for unchanged ones (``index.py``), so
  the review list opens without parsing every file: a millisecond at 100 sessions, a sixth
  of a second at 10,000.

Measured by ``python benchmarks/store.py`` on the project's 2-core VM (shared with other jobs,
load about 6, so absolute figures are pessimistic; ratios are from the same run). 10 turns per
session, about 24 KB per session file::

                                     100 sessions          10,000 sessions / 100,000 turns
                                  append p50/p99   list     append p50/p99     list
    qconsole store (fsync)        8.4 / 15 ms     0.5 ms   8.0 / 16 ms        162 ms (*)
    TinyDB, file per session      4.0 / 8 ms       35 ms   4.0 / 9 ms         2,270 ms
    TinyDB, one file (default)     60 / 105 ms     34 ms   11,800 / 12,500 ms 11,700 ms

    (*) warm cache, new store (as ``qconsole review`` starts); the same store again 90 ms;
        cold (no cache, every file parsed once) 1,460 ms; full-text search 770 ms.

Append cost is flat from 100 to 10,000 sessions. It is twice plain TinyDB's per-session file
because of durability: TinyDB fsyncs once but rewrites the file in place (a kill mid-write
leaves half new, half old JSON), while here the new file and then the directory are fsynced.
Without fsync the same append takes 0.5 ms; one bare fsynced atomic write of 2 bytes takes
about 10 ms on this disk, so the floor, not the layout, sets the figure. The single-file
layout is 1,470x slower to append at 10,000 sessions and 72x slower to list.

Durability (``storage.py``): temp file, fsync, rename, fsync of the directory; a crash loses at
most the write in flight. Concurrency (``locks.py``): an exclusive flock per session around
every read-modify-write, so the console and a background job never lose each other's updates.
Bad files: unreadable JSON is moved to ``sessions/quarantine/`` with a warning (see
``warnings`` / ``take_warnings()``) and every other session still opens; a file from a newer
schema opens read-only and is never rewritten (``schema.py``).

Marks, rewrites and preferences are recorded with an undo log in the same file, written in the
same atomic write as the change itself, so ``undo_last`` survives a restart.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path

from tinydb import TinyDB, where

from qconsole.errors import QConsoleError
from qconsole.store.corrections import (
    Correction,
    PreferencePair,
    corrections_from_session,
    preference_pairs_from_session,
)
from qconsole.store.failure_kinds import failure_kind, route_step
from qconsole.store.ids import (
    check_session_id,
    check_side,
    check_turn_id,
    is_session_id,
    new_session_id,
    now_iso,
    turn_id_for,
)
from qconsole.store.index import Entry, ListingCache, is_racy, stat_key
from qconsole.store.locks import DEFAULT_TIMEOUT_S, file_lock
from qconsole.store.model import (
    Session,
    SessionSummary,
    _check_json,
    meta_input,
    reply_fields,
    session_from_data,
    turn_input,
)
from qconsole.store.schema import (
    EVENTS,
    META,
    SCHEMA_VERSION,
    TURNS,
    SchemaError,
    upgrade,
    validate,
)
from qconsole.store.storage import (
    BufferedAtomicStorage,
    CorruptFile,
    decode_json,
    fsync_dir,
    read_json_file,
)
from qconsole.store.summary import session_text, summarize

LOCK_DIR = ".locks"
QUARANTINE_DIR = "quarantine"
BACKUP_DIR = "backup"
SUMMARY_VERSION = 1


@dataclass(frozen=True)
class Change:
    """What ``undo_last`` reverted: the UI refreshes this turn."""

    op: str  # "mark" | "clear_mark" | "rewrite" | "clear_rewrite" | "preference"
    turn_id: str
    side: str | None
    at: str


class SessionStore:
    """All sessions under one directory. Safe to use from several processes and threads."""

    def __init__(
        self, root: Path | str, *, durable: bool = True, lock_timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.root = Path(root).expanduser()
        self.warnings: list[str] = []
        self._durable = durable
        self._lock_timeout = lock_timeout
        self._cache = ListingCache(self.root, SUMMARY_VERSION)

    # -- housekeeping ---------------------------------------------------------------------

    def take_warnings(self) -> list[str]:
        """Warnings gathered so far (quarantined files, newer schemas), cleared on reading."""
        out, self.warnings = self.warnings, []
        return out

    def path_for(self, session_id: str) -> Path:
        return self.root / f"{check_session_id(session_id)}.json"

    def _lock(self, session_id: str):
        return file_lock(
            self.root / LOCK_DIR / f"{session_id}.lock",
            timeout=self._lock_timeout,
            what=f"session {session_id}",
        )

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise QConsoleError(
                f"cannot create the sessions directory {self.root}: {exc.strerror or exc}"
            ) from exc

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    # -- reading and checking one file ----------------------------------------------------

    @staticmethod
    def _check(raw: dict) -> tuple[dict, int]:
        """(data at the current schema, or as-is when newer; the file's version)."""
        data, version = upgrade(raw)
        if version <= SCHEMA_VERSION:
            validate(data)
        return data, version

    def _read_checked(self, session_id: str, *, locked: bool) -> tuple[dict, int]:
        path = self.path_for(session_id)
        try:
            raw, _ = read_json_file(path)
            return self._check(raw)
        except FileNotFoundError:
            raise QConsoleError(f"no session {session_id} in {self.root}") from None
        except (CorruptFile, SchemaError) as exc:
            message = self._quarantine(path, str(exc), locked=locked)
            if message is None:  # repaired between our read and the lock: read it again
                return self._read_checked(session_id, locked=locked)
            raise QConsoleError(message) from None
        except OSError as exc:
            raise QConsoleError(
                f"cannot read session {session_id}: {exc.strerror or exc}"
            ) from exc

    def _quarantine(self, path: Path, reason: str, *, locked: bool) -> str | None:
        """Move an unreadable session file aside; returns the warning, or None when the file
        turned out to be readable after all (rewritten meanwhile)."""
        session_id = path.stem

        def move() -> str | None:
            if not locked:  # re-check under the lock: a writer may have replaced it meanwhile
                try:
                    raw, _ = read_json_file(path)
                    self._check(raw)
                    return None
                except FileNotFoundError:
                    return None
                except (CorruptFile, SchemaError, OSError):
                    pass
            qdir = self.root / QUARANTINE_DIR
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            dest = qdir / f"{path.stem}.{stamp}.json"
            n = 1
            while dest.exists():
                n += 1
                dest = qdir / f"{path.stem}.{stamp}.{n}.json"
            try:
                qdir.mkdir(exist_ok=True)
                os.replace(path, dest)
                fsync_dir(self.root)
            except OSError as exc:
                return (
                    f"session file {path.name} cannot be read ({reason}) and could not be moved "
                    f"to {qdir} ({exc.strerror or exc}); every other session is unaffected"
                )
            return (
                f"session file {path.name} cannot be read ({reason}); moved it to {dest}. "
                "Every other session is unaffected."
            )

        if locked:
            message = move()
        else:
            with self._lock(session_id):
                message = move()
        if message:
            self._warn(message)
        return message

    def _backup_before_upgrade(self, session_id: str, version: int) -> None:
        path = self.path_for(session_id)
        dest = self.root / BACKUP_DIR / f"{session_id}.schema{version}.json"
        if dest.exists():
            return
        try:
            dest.parent.mkdir(exist_ok=True)
            shutil.copy2(path, dest)
        except OSError as exc:
            raise QConsoleError(
                f"cannot keep a copy of session {session_id} before upgrading it "
                f"({exc.strerror or exc}); nothing was changed"
            ) from exc

    @contextmanager
    def _writing(self, session_id: str) -> Iterator[TinyDB]:
        """Lock the session, open it as a TinyDB over buffered atomic storage, commit the
        changes made in the ``with`` body as one atomic write (none if the body raised)."""
        session_id = check_session_id(session_id)
        with self._lock(session_id):
            data, version = self._read_checked(session_id, locked=True)
            if version > SCHEMA_VERSION:
                raise QConsoleError(self._newer_message(session_id, version))
            if version < SCHEMA_VERSION:
                self._backup_before_upgrade(session_id, version)
            db = TinyDB(
                self.path_for(session_id),
                data=data,
                storage=BufferedAtomicStorage,
                durable=self._durable,
            )
            yield db
            storage: BufferedAtomicStorage = db.storage  # type: ignore[assignment]
            if storage.dirty or version < SCHEMA_VERSION:
                db.table(META).update({"updated": now_iso()}, doc_ids=[1])
                storage.commit()

    @staticmethod
    def _newer_message(session_id: str, version: int) -> str:
        return (
            f"session {session_id} was saved by a newer qconsole (schema {version}, this one "
            f"knows {SCHEMA_VERSION}); it is open read-only and will not be changed"
        )

    @staticmethod
    def _turn(db: TinyDB, session_id: str, turn_id: str) -> tuple[int, dict]:
        check_turn_id(turn_id)
        doc = db.table(TURNS).get(where("turn_id") == turn_id)
        if doc is None:
            raise QConsoleError(f"session {session_id} has no turn {turn_id}")
        return doc.doc_id, doc  # type: ignore[union-attr,return-value]

    # -- writing --------------------------------------------------------------------------

    def create_session(self, meta: dict | None = None) -> str:
        """Start a session; ``meta`` may hold title, models, adapters, template, settings,
        system (a system prompt) and anything else (kept under ``extra``). Returns its id."""
        fields = meta_input(meta)
        self._ensure_root()
        for _ in range(20):
            session_id = new_session_id()
            path = self.path_for(session_id)
            with self._lock(session_id):
                if path.exists():
                    continue
                now = now_iso()
                doc = {
                    "schema_version": SCHEMA_VERSION, "id": session_id,
                    "created": now, "updated": now, **fields,
                }
                db = TinyDB(path, data={}, storage=BufferedAtomicStorage, durable=self._durable)
                db.table(META).insert(doc)
                db.storage.commit()  # type: ignore[attr-defined]
                return session_id
        raise QConsoleError("could not pick an unused session id; try again")

    def update_meta(self, session_id: str, meta: dict) -> None:
        """Change session metadata (title, models, ...); keys not given stay as they are."""
        given = set(meta)
        checked = meta_input(meta)
        extra = checked.pop("extra")
        fields = {k: v for k, v in checked.items() if k in given}
        with self._writing(session_id) as db:
            def mutate(doc: dict) -> None:
                doc.update(fields)
                if extra:
                    doc.setdefault("extra", {}).update(extra)

            db.table(META).update(mutate, doc_ids=[1])

    def append_turn(self, session_id: str, turn: dict) -> str:
        """Record a turn: ``{"user": text, "left": {reply fields}, "right": {...}}`` (sides
        optional). Returns the turn id (``t1``, ``t2``, ...), stable for the session's life."""
        user, replies, created = turn_input(turn)
        now = now_iso()
        for reply in replies.values():
            if reply.get("finish_reason") and not reply.get("finished"):
                reply["finished"] = now
        with self._writing(session_id) as db:
            turns = db.table(TURNS)
            index = max((int(d.get("index") or 0) for d in turns.all()), default=0) + 1
            turn_id = turn_id_for(index)
            turns.insert({
                "turn_id": turn_id, "index": index, "user": user, "created": created or now,
                "updated": now, "replies": replies, "marks": {}, "rewrites": {},
                "preference": None,
            })
        return turn_id

    def update_side(self, session_id: str, turn_id: str, side: str, fields: dict) -> None:
        """Fill in or change one side's reply (text after streaming, finish reason, timings,
        error). Fields not given keep their values."""
        check_side(side)
        fields = reply_fields(fields, what=f"{side} reply")
        now = now_iso()
        if fields.get("finish_reason") and not fields.get("finished"):
            fields["finished"] = now
        with self._writing(session_id) as db:
            doc_id, _ = self._turn(db, session_id, turn_id)

            def mutate(doc: dict) -> None:
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
        """Mark ``side``'s reply as failing with one or more failure kinds (replacing an
        earlier mark of that reply), a note and optionally the route step that broke."""
        check_side(side)
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if not kinds:
            raise QConsoleError("a mark needs at least one failure kind")
        kinds = list(dict.fromkeys(failure_kind(k).key for k in kinds))
        if not isinstance(note, str):
            raise QConsoleError("a mark's note must be text")
        if step is not None:
            step = route_step(step).key
        with self._writing(session_id) as db:
            doc_id, doc = self._turn(db, session_id, turn_id)
            before = (doc.get("marks") or {}).get(side)
            if before and (before.get("kinds"), before.get("note"), before.get("step")) == (
                kinds, note, step,
            ):
                return
            now = now_iso()
            after = {"kinds": kinds, "note": note, "step": step, "at": now}
            self._set_side_value(db, doc_id, "marks", side, after, now)
            self._log(db, "mark", turn_id, side, "marks", before=before, at=now)

    def clear_mark(self, session_id: str, turn_id: str, side: str) -> bool:
        """Remove the mark of ``side``'s reply; False when there was none."""
        check_side(side)
        with self._writing(session_id) as db:
            doc_id, doc = self._turn(db, session_id, turn_id)
            before = (doc.get("marks") or {}).get(side)
            if before is None:
                return False
            now = now_iso()
            self._set_side_value(db, doc_id, "marks", side, None, now)
            self._log(db, "clear_mark", turn_id, side, "marks", before=before, at=now)
            return True

    def set_rewrite(
        self, session_id: str, turn_id: str, side: str, text: str | None,
        *, provenance: dict | None = None,
    ) -> None:
        """Store a person's rewrite of ``side``'s reply beside the original (never over it).
        Each edit is a new version; ``text=None`` clears the rewrite (also a version).
        ``provenance`` (JSON) says where a drafted rewrite came from, e.g. the teacher model,
        its prompt hash and whether the person accepted it unchanged or edited it."""
        check_side(side)
        if text is not None and not isinstance(text, str):
            raise QConsoleError("a rewrite must be text")
        if provenance is not None:
            if not isinstance(provenance, dict):
                raise QConsoleError("a rewrite's provenance must be a dict")
            provenance = dict(_check_json(provenance, "rewrite provenance"))
        with self._writing(session_id) as db:
            doc_id, doc = self._turn(db, session_id, turn_id)
            history = list((doc.get("rewrites") or {}).get(side) or [])
            current = history[-1].get("text") if history else None
            if text == current:
                return
            now = now_iso()

            version: dict = {"text": text, "at": now}
            if provenance is not None:
                version["provenance"] = provenance

            def mutate(d: dict) -> None:
                d.setdefault("rewrites", {}).setdefault(side, []).append(version)
                d["updated"] = now

            db.table(TURNS).update(mutate, doc_ids=[doc_id])
            op = "rewrite" if text is not None else "clear_rewrite"
            self._log(db, op, turn_id, side, "rewrites", before_len=len(history), at=now)

    def clear_rewrite(self, session_id: str, turn_id: str, side: str) -> None:
        self.set_rewrite(session_id, turn_id, side, None)

    def set_preference(self, session_id: str, turn_id: str, side: str | None) -> None:
        """Prefer the left or right reply of a turn (a preference pair), or None to clear."""
        if side is not None:
            check_side(side)
        with self._writing(session_id) as db:
            doc_id, doc = self._turn(db, session_id, turn_id)
            before = doc.get("preference")
            if before == side:
                return
            now = now_iso()

            def mutate(d: dict) -> None:
                d["preference"] = side
                d["updated"] = now

            db.table(TURNS).update(mutate, doc_ids=[doc_id])
            self._log(db, "preference", turn_id, None, "preference", before=before, at=now)

    def undo_last(self, session_id: str) -> Change | None:
        """Revert the session's last mark, rewrite or preference change not yet undone.
        Returns what was reverted, or None when there is nothing to undo."""
        with self._writing(session_id) as db:
            events = db.table(EVENTS)
            pending = [e for e in events.all() if not e.get("undone")]
            if not pending:
                return None
            event = max(pending, key=lambda e: e.doc_id)
            now = now_iso()
            turn_id, side, field = event["turn_id"], event.get("side"), event["field"]
            doc_id, _ = self._turn(db, session_id, turn_id)

            def revert(d: dict) -> None:
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
                d["updated"] = now

            db.table(TURNS).update(revert, doc_ids=[doc_id])
            events.update({"undone": True, "undone_at": now}, doc_ids=[event.doc_id])
            return Change(op=event["op"], turn_id=turn_id, side=side, at=event.get("at", ""))

    @staticmethod
    def _set_side_value(
        db: TinyDB, doc_id: int, field: str, side: str, value: dict | None, now: str
    ) -> None:
        def mutate(d: dict) -> None:
            values = d.setdefault(field, {})
            if value is None:
                values.pop(side, None)
            else:
                values[side] = value
            d["updated"] = now

        db.table(TURNS).update(mutate, doc_ids=[doc_id])

    @staticmethod
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

    # -- reading --------------------------------------------------------------------------

    def load_session(self, session_id: str) -> Session:
        """The whole session. A file from a newer schema comes back with ``read_only=True``
        and a warning; an unreadable one is quarantined and raises QConsoleError."""
        session_id = check_session_id(session_id)
        data, version = self._read_checked(session_id, locked=False)
        read_only = version > SCHEMA_VERSION
        warnings: tuple[str, ...] = ()
        if read_only:
            message = self._newer_message(session_id, version)
            self._warn(message)
            warnings = (message,)
        try:
            return session_from_data(data, read_only=read_only, warnings=warnings)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise QConsoleError(
                f"session {session_id} (schema {version}) cannot be read by this qconsole: "
                f"{exc!r}; upgrade qconsole"
            ) from None

    def session_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            name[:-5] for name in os.listdir(self.root)
            if name.endswith(".json") and is_session_id(name[:-5])
        )

    def _summaries(self) -> list[SessionSummary]:
        """Summaries of every readable session, through the listing cache."""
        return self._cache.refresh(
            lambda name: name.endswith(".json") and is_session_id(name[:-5]),
            lambda name: self._summary_entry(name[:-5]),
        )

    def _summary_entry(self, session_id: str) -> Entry | None:
        path = self.path_for(session_id)
        try:
            raw, st = read_json_file(path)
            data, version = self._check(raw)
        except FileNotFoundError:
            return None
        except (CorruptFile, SchemaError) as exc:
            if self._quarantine(path, str(exc), locked=False) is None:
                return self._summary_entry(session_id)
            return None
        except OSError as exc:
            self._warn(f"cannot read session file {path.name}: {exc.strerror or exc}")
            return None
        read_only = version > SCHEMA_VERSION
        try:
            summary = summarize(data, read_only=read_only)
        except (KeyError, TypeError, ValueError, AttributeError):
            if not read_only:
                raise
            summary = SessionSummary(
                id=session_id, created="", updated="",
                title=f"(saved by a newer qconsole, schema {version})", models=(), adapters=(),
                template="", n_turns=0, n_marks=0, n_rewrites=0, n_preferences=0, kinds=(),
                schema_version=version, read_only=True,
            )
        if read_only:
            self._warn(self._newer_message(session_id, version))
        return stat_key(st), is_racy(st), summary

    def list_sessions(
        self,
        text: str | None = None,
        kind: str | None = None,
        marked: bool | None = None,
        rewritten: bool | None = None,
        adapter: str | None = None,
        *,
        include_empty: bool = False,
    ) -> list[SessionSummary]:
        """Sessions for review, newest first, filtered.

        ``text``: case-insensitive substring of the title, any user text, reply, current
        rewrite or note (reads the files the other filters leave; slower than the rest).
        ``kind``: has a mark of that failure kind. ``marked`` / ``rewritten``: has (True) or
        has no (False) marks / rewrites. ``adapter``: substring of an adapter name used.
        ``include_empty``: also sessions without turns (started and left at once).
        """
        if kind is not None:
            kind = failure_kind(kind).key
        rows = self._summaries()
        if not include_empty:
            rows = [r for r in rows if r.n_turns]
        if kind is not None:
            rows = [r for r in rows if kind in r.kinds]
        if marked is not None:
            rows = [r for r in rows if bool(r.n_marks) == marked]
        if rewritten is not None:
            rows = [r for r in rows if bool(r.n_rewrites) == rewritten]
        if adapter:
            needle = adapter.casefold()
            rows = [r for r in rows if any(needle in a.casefold() for a in r.adapters)]
        if text:
            needle = text.casefold()
            rows = [r for r in rows if needle in r.title.casefold() or self._contains(r.id, needle)]
        rows.sort(key=attrgetter("created", "id"), reverse=True)
        return rows

    def search(self, text: str, **filters) -> list[SessionSummary]:
        """``list_sessions(text=text, ...)``: sessions whose text contains ``text``."""
        return self.list_sessions(text=text, **filters)

    def _contains(self, session_id: str, needle: str) -> bool:
        """Whether the session's text contains ``needle`` (already casefolded).

        A cheap pre-check on the raw file first: when the needle is plain printable ASCII
        (nothing JSON would escape) and the file holds no \\u escapes, every occurrence in a
        text field is also an occurrence in the raw file, so a miss there is a sure miss.
        """
        try:
            raw_bytes = self.path_for(session_id).read_bytes()
        except OSError:
            return False
        plain = needle.isascii() and needle.isprintable() and '"' not in needle
        if plain and "\\" not in needle and b"\\u" not in raw_bytes:
            try:
                if needle not in raw_bytes.decode("utf-8").casefold():
                    return False
            except UnicodeDecodeError:
                return False
        try:
            data, _ = self._check(decode_json(raw_bytes))
            return needle in session_text(data).casefold()
        except (CorruptFile, SchemaError, KeyError, TypeError, AttributeError):
            return False

    # -- training records -----------------------------------------------------------------

    def _sessions_for_export(
        self, session_ids: Iterable[str] | None, need: str
    ) -> Iterator[Session]:
        if session_ids is not None:
            for sid in session_ids:
                yield self.load_session(sid)
            return
        rows = self._summaries()
        rows.sort(key=lambda r: (r.created, r.id))
        for row in rows:
            if need == "rewrites" and not row.n_rewrites:
                continue
            if need == "pairs" and not (row.n_rewrites or row.n_preferences):
                continue
            try:
                yield self.load_session(row.id)
            except QConsoleError as exc:
                self._warn(str(exc))

    def corrections(
        self, session_ids: Iterable[str] | None = None, *, kind: str | None = None
    ) -> list[Correction]:
        """One correction per rewritten (session, turn, side), oldest session first; only
        those marked with ``kind`` when given."""
        if kind is not None:
            kind = failure_kind(kind).key
        out: list[Correction] = []
        for session in self._sessions_for_export(session_ids, "rewrites"):
            out.extend(
                c for c in corrections_from_session(session) if kind is None or kind in c.kinds
            )
        return out

    def preference_pairs(
        self, session_ids: Iterable[str] | None = None, *, include_rewrites: bool = True
    ) -> list[PreferencePair]:
        """(prompt, chosen, rejected) pairs from left/right preferences and, by default, from
        rewrites (rewrite chosen over the original reply)."""
        out: list[PreferencePair] = []
        for session in self._sessions_for_export(session_ids, "pairs"):
            out.extend(preference_pairs_from_session(session, include_rewrites=include_rewrites))
        return out
