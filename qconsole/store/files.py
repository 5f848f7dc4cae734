"""File integrity for session files: the one checked read, quarantine, backups, locked writes.

Every other part of the store (mutations, listing, training exports) reaches a session file
only through :class:`SessionFiles`, so the rules live in one place:

- a read is bounded and checked (``storage.read_json_file``: a regular file, size-capped) and
  validated (``schema.py``); a file that fails either is moved to ``sessions/quarantine/`` with
  one warning and every other session still opens;
- a file from a newer schema opens read-only and is never rewritten;
- an older file is copied to ``backup/`` before its first upgraded write;
- a write happens under the session's exclusive flock (``locks.py``) as one atomic replace
  (``storage.py``), so a crash loses at most the write in flight.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tinydb import TinyDB, where

from qconsole.errors import QConsoleError
from qconsole.jobs.litter import remove_litter
from qconsole.store.ids import (
    check_session_id,
    check_turn_id,
    is_session_id,
    new_session_id,
    now_iso,
)
from qconsole.store.locks import DEFAULT_TIMEOUT_S, file_lock
from qconsole.store.model import Session, session_from_data
from qconsole.store.schema import META, SCHEMA_VERSION, TURNS, SchemaError, upgrade, validate
from qconsole.store.storage import (
    TEMP_FILE,
    TEMP_FILE_LEGACY,
    BufferedAtomicStorage,
    CorruptFile,
    fsync_dir,
    read_json_file,
)

LOCK_DIR = ".locks"
QUARANTINE_DIR = "quarantine"
BACKUP_DIR = "backup"


def check_data(raw: dict, session_id: str | None = None) -> tuple[dict, int]:
    """(data at the current schema, or as-is when newer; the file's version).

    Raises SchemaError when a file of this or an older schema is not what the store reads,
    or (given ``session_id``, its file name) records another session's id.
    """
    data, version = upgrade(raw)
    if version <= SCHEMA_VERSION:
        validate(data)
        recorded = data[META]["1"]["id"]
        if session_id is not None and recorded != session_id:
            raise SchemaError(f"it records the id {recorded!r}, not its file name's")
    return data, version


def newer_message(session_id: str, version: int) -> str:
    return (
        f"session {session_id} was saved by a newer qconsole (schema {version}, this one "
        f"knows {SCHEMA_VERSION}); it is open read-only and will not be changed"
    )


class SessionFiles:
    """The session files under one directory, read and written safely."""

    def __init__(
        self, root: Path | str, *, durable: bool = True, lock_timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.root = Path(root).expanduser()
        self.warnings: list[str] = []
        self.durable = durable
        self._lock_timeout = lock_timeout
        # what writers killed mid-write left here (their pid is gone): cleared on opening
        remove_litter(self.root, TEMP_FILE, TEMP_FILE_LEGACY)

    # -- housekeeping ---------------------------------------------------------------------

    def take_warnings(self) -> list[str]:
        out, self.warnings = self.warnings, []
        return out

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def path_for(self, session_id: str) -> Path:
        return self.root / f"{check_session_id(session_id)}.json"

    def lock(self, session_id: str):
        return file_lock(
            self.root / LOCK_DIR / f"{session_id}.lock",
            timeout=self._lock_timeout,
            what=f"session {session_id}",
        )

    def ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise QConsoleError(
                f"cannot create the sessions directory {self.root}: {exc.strerror or exc}"
            ) from exc

    def session_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            name[:-5] for name in os.listdir(self.root)
            if name.endswith(".json") and is_session_id(name[:-5])
        )

    # -- reading and checking one file ----------------------------------------------------

    def read_checked(self, session_id: str, *, locked: bool) -> tuple[dict, int]:
        """The session's checked data and version; quarantines an unreadable file and raises
        QConsoleError saying so."""
        path = self.path_for(session_id)
        try:
            raw, _ = read_json_file(path)
            return check_data(raw, session_id)
        except FileNotFoundError:
            raise QConsoleError(f"no session {session_id} in {self.root}") from None
        except (CorruptFile, SchemaError) as exc:
            message = self.quarantine(path, str(exc), locked=locked)
            if message is None:  # repaired between our read and the lock: read it again
                return self.read_checked(session_id, locked=locked)
            raise QConsoleError(message) from None
        except OSError as exc:
            raise QConsoleError(
                f"cannot read session {session_id}: {exc.strerror or exc}"
            ) from exc

    def quarantine(self, path: Path, reason: str, *, locked: bool) -> str | None:
        """Move an unreadable session file aside; returns the warning, or None when the file
        turned out to be readable after all (rewritten meanwhile)."""
        session_id = path.stem

        def move() -> str | None:
            if not locked:  # re-check under the lock: a writer may have replaced it meanwhile
                try:
                    raw, _ = read_json_file(path)
                    check_data(raw, session_id)
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
            with self.lock(session_id):
                message = move()
        if message:
            self.warn(message)
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

    def load(self, session_id: str) -> Session:
        """The whole session. A file from a newer schema comes back with ``read_only=True``
        and a warning; an unreadable one is quarantined and raises QConsoleError."""
        session_id = check_session_id(session_id)
        data, version = self.read_checked(session_id, locked=False)
        read_only = version > SCHEMA_VERSION
        warnings: tuple[str, ...] = ()
        if read_only:
            message = newer_message(session_id, version)
            self.warn(message)
            warnings = (message,)
        try:
            return session_from_data(data, read_only=read_only, warnings=warnings)
        except (KeyError, TypeError, ValueError, AttributeError):
            # only a newer schema gets here: this schema's files are validated on read
            raise QConsoleError(
                f"session {session_id} was saved by a newer qconsole (schema {version}) in a "
                "shape this one cannot read; upgrade qconsole to open it"
            ) from None

    # -- writing --------------------------------------------------------------------------

    @contextmanager
    def writing(self, session_id: str) -> Iterator[TinyDB]:
        """Lock the session, open it as a TinyDB over buffered atomic storage, commit the
        changes made in the ``with`` body as one atomic write (none if the body raised)."""
        session_id = check_session_id(session_id)
        with self.lock(session_id):
            data, version = self.read_checked(session_id, locked=True)
            if version > SCHEMA_VERSION:
                raise QConsoleError(newer_message(session_id, version))
            if version < SCHEMA_VERSION:
                self._backup_before_upgrade(session_id, version)
            db = TinyDB(
                self.path_for(session_id),
                data=data,
                storage=BufferedAtomicStorage,
                durable=self.durable,
            )
            yield db
            storage: BufferedAtomicStorage = db.storage  # type: ignore[assignment]
            if storage.dirty or version < SCHEMA_VERSION:
                db.table(META).update({"updated": now_iso()}, doc_ids=[1])
                storage.commit()

    def create(self, doc_for: Callable[[str], dict]) -> str:
        """Write a new session file whose meta document is ``doc_for(new_id)``; its id."""
        self.ensure_root()
        for _ in range(20):
            session_id = new_session_id()
            path = self.path_for(session_id)
            with self.lock(session_id):
                if path.exists():
                    continue
                db = TinyDB(path, data={}, storage=BufferedAtomicStorage, durable=self.durable)
                db.table(META).insert(doc_for(session_id))
                db.storage.commit()  # type: ignore[attr-defined]
                return session_id
        raise QConsoleError("could not pick an unused session id; try again")


def turn_doc(db: TinyDB, session_id: str, turn_id: str) -> tuple[int, dict]:
    """(TinyDB doc id, document) of one turn of an open session."""
    check_turn_id(turn_id)
    doc = db.table(TURNS).get(where("turn_id") == turn_id)
    if doc is None:
        raise QConsoleError(f"session {session_id} has no turn {turn_id}")
    return doc.doc_id, doc
