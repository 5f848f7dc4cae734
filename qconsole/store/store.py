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

``SessionStore`` is the one front door; each job behind it has its own module:
``files.py`` (file integrity: the checked read, quarantine, backups, locked atomic writes),
``mutations.py`` (changes with undo), ``listing.py`` (listing and search), ``records.py``
(training exports); ``model.py`` holds the read models, ``validation.py`` the write checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from qconsole.store.corrections import Correction, PreferencePair
from qconsole.store.files import SessionFiles
from qconsole.store.listing import Listing
from qconsole.store.locks import DEFAULT_TIMEOUT_S
from qconsole.store.model import Session, SessionSummary
from qconsole.store.mutations import Change, Mutations
from qconsole.store.records import Records
from qconsole.store.vote_records import PreferenceRecord, VoteRecord
from qconsole.store.votes import Votes

__all__ = ["Change", "SessionStore"]


class SessionStore:
    """All sessions under one directory. Safe to use from several processes and threads."""

    def __init__(
        self, root: Path | str, *, durable: bool = True, lock_timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.files = SessionFiles(root, durable=durable, lock_timeout=lock_timeout)
        self._mutations = Mutations(self.files)
        self._listing = Listing(self.files)
        self._records = Records(self.files, self._listing)
        self._votes = Votes(self.files)

    @property
    def root(self) -> Path:
        return self.files.root

    @property
    def warnings(self) -> list[str]:
        return self.files.warnings

    def take_warnings(self) -> list[str]:
        """Warnings gathered so far (quarantined files, newer schemas), cleared on reading."""
        return self.files.take_warnings()

    def path_for(self, session_id: str) -> Path:
        return self.files.path_for(session_id)

    # -- writing (mutations.py) -------------------------------------------------------------

    def create_session(self, meta: dict | None = None) -> str:
        """Start a session; ``meta`` may hold title, models, adapters, template, settings,
        system (a system prompt) and anything else (kept under ``extra``). Returns its id."""
        return self._mutations.create_session(meta)

    def update_meta(self, session_id: str, meta: dict) -> None:
        """Change session metadata (title, models, ...); keys not given stay as they are."""
        self._mutations.update_meta(session_id, meta)

    def append_turn(self, session_id: str, turn: dict) -> str:
        """Record a turn: ``{"user": text, "left": {reply fields}, "right": {...}}`` (sides
        optional). Returns the turn id (``t1``, ``t2``, ...), stable for the session's life."""
        return self._mutations.append_turn(session_id, turn)

    def update_side(self, session_id: str, turn_id: str, side: str, fields: dict) -> None:
        """Fill in or change one side's reply (text after streaming, finish reason, timings,
        error). Fields not given keep their values."""
        self._mutations.update_side(session_id, turn_id, side, fields)

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
        self._mutations.set_mark(session_id, turn_id, side, kind, note, step)

    def clear_mark(self, session_id: str, turn_id: str, side: str) -> bool:
        """Remove the mark of ``side``'s reply; False when there was none."""
        return self._mutations.clear_mark(session_id, turn_id, side)

    def set_rewrite(
        self, session_id: str, turn_id: str, side: str, text: str | None,
        *, provenance: dict | None = None,
    ) -> None:
        """Store a person's rewrite of ``side``'s reply beside the original (never over it).
        Each edit is a new version; ``text=None`` clears the rewrite (also a version).
        ``provenance`` (JSON) says where a drafted rewrite came from: the teacher model, its
        prompt hash, whether the person accepted it unchanged or edited it."""
        self._mutations.set_rewrite(session_id, turn_id, side, text, provenance)

    def clear_rewrite(self, session_id: str, turn_id: str, side: str) -> None:
        self._mutations.set_rewrite(session_id, turn_id, side, None)

    def set_preference(self, session_id: str, turn_id: str, side: str | None) -> None:
        """Prefer the left or right reply of a turn (a preference pair), or None to clear."""
        self._mutations.set_preference(session_id, turn_id, side)

    def start_blind(
        self, session_id: str, turn_id: str, seed: int, assignment: dict | None = None
    ) -> dict:
        """Record that a turn is shown blind: ``seed`` and which side is A and which B (drawn
        from the seed by ``votes.assignment_for`` when not given). A turn keeps its first
        assignment. Returns the stored ``blind`` object. (``append_turn`` also takes
        ``"blind": {"seed": ...}`` to record it with the turn in one write.)"""
        return self._votes.start_blind(session_id, turn_id, seed, assignment)

    def set_vote(self, session_id: str, turn_id: str, vote: str | None) -> None:
        """The person's blind vote on a turn shown blind: "a", "b", "tie", "both_bad", or
        None to clear. Undoable with ``undo_last`` like a mark."""
        self._votes.set_vote(session_id, turn_id, vote)

    def undo_last(self, session_id: str) -> Change | None:
        """Revert the session's last mark, rewrite, preference or blind vote not yet undone.
        Returns what was reverted, or None when there is nothing to undo."""
        return self._mutations.undo_last(session_id)

    # -- reading (files.py, listing.py) -----------------------------------------------------

    def load_session(self, session_id: str) -> Session:
        """The whole session. A file from a newer schema comes back with ``read_only=True``
        and a warning; an unreadable one is quarantined and raises QConsoleError."""
        return self.files.load(session_id)

    def session_ids(self) -> list[str]:
        return self.files.session_ids()

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
        return self._listing.list_sessions(
            text, kind, marked, rewritten, adapter, include_empty=include_empty
        )

    def search(self, text: str, **filters) -> list[SessionSummary]:
        """``list_sessions(text=text, ...)``: sessions whose text contains ``text``."""
        return self.list_sessions(text=text, **filters)

    # -- training records (records.py) ------------------------------------------------------

    def corrections(
        self, session_ids: Iterable[str] | None = None, *, kind: str | None = None
    ) -> list[Correction]:
        """One correction per rewritten (session, turn, side), oldest session first; only
        those marked with ``kind`` when given."""
        return self._records.corrections(session_ids, kind=kind)

    def preference_pairs(
        self, session_ids: Iterable[str] | None = None, *, include_rewrites: bool = True
    ) -> list[PreferencePair]:
        """(prompt, chosen, rejected) pairs from left/right preferences and, by default, from
        rewrites (rewrite chosen over the original reply)."""
        return self._records.preference_pairs(session_ids, include_rewrites=include_rewrites)

    def vote_records(self, session_ids: Iterable[str] | None = None) -> list[VoteRecord]:
        """Every blind vote cast, one record per voted turn (``vote_records.VoteRecord``:
        the two contestants by name, the assignment, the vote), oldest session first."""
        return self._records.vote_records(session_ids)

    def preference_records(self, session_ids: Iterable[str] | None = None
                           ) -> list[PreferenceRecord]:
        """Every sighted preference (``Turn.preference``) with the two contestants by name:
        reported apart from the blind votes, which were cast without the names."""
        return self._records.preference_records(session_ids)
