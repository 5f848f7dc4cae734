"""Training records from the store: corrections (SFT) and preference pairs (DPO).

Reads go through the listing (to skip sessions with nothing to give) and the one checked load
(``SessionFiles.load``); a session that cannot be read is skipped with a warning, so one bad
file never stops a training set from being built out of the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from qconsole.errors import QConsoleError
from qconsole.store.corrections import (
    Correction,
    PreferencePair,
    corrections_from_session,
    preference_pairs_from_session,
)
from qconsole.store.failure_kinds import failure_kind
from qconsole.store.files import SessionFiles
from qconsole.store.listing import Listing
from qconsole.store.model import Session
from qconsole.store.vote_records import (
    PreferenceRecord,
    VoteRecord,
    preference_records_from_session,
    vote_records_from_session,
)


class Records:
    def __init__(self, files: SessionFiles, listing: Listing) -> None:
        self.files = files
        self.listing = listing

    def _sessions(self, session_ids: Iterable[str] | None, need: str) -> Iterator[Session]:
        if session_ids is not None:
            for sid in session_ids:
                yield self.files.load(sid)
            return
        rows = self.listing.summaries()
        rows.sort(key=lambda r: (r.created, r.id))
        for row in rows:
            if need == "rewrites" and not row.n_rewrites:
                continue
            if need == "pairs" and not (row.n_rewrites or row.n_preferences or row.n_votes):
                continue
            if need == "votes" and not row.n_votes:
                continue
            if need == "preferences" and not row.n_preferences:
                continue
            try:
                yield self.files.load(row.id)
            except QConsoleError as exc:
                self.files.warn(str(exc))

    def corrections(
        self, session_ids: Iterable[str] | None = None, *, kind: str | None = None
    ) -> list[Correction]:
        if kind is not None:
            kind = failure_kind(kind).key
        out: list[Correction] = []
        for session in self._sessions(session_ids, "rewrites"):
            out.extend(
                c for c in corrections_from_session(session) if kind is None or kind in c.kinds
            )
        return out

    def preference_pairs(
        self, session_ids: Iterable[str] | None = None, *, include_rewrites: bool = True
    ) -> list[PreferencePair]:
        out: list[PreferencePair] = []
        for session in self._sessions(session_ids, "pairs"):
            out.extend(preference_pairs_from_session(session, include_rewrites=include_rewrites))
        return out

    def vote_records(self, session_ids: Iterable[str] | None = None) -> list[VoteRecord]:
        out: list[VoteRecord] = []
        for session in self._sessions(session_ids, "votes"):
            out.extend(vote_records_from_session(session))
        return out

    def preference_records(self, session_ids: Iterable[str] | None = None
                           ) -> list[PreferenceRecord]:
        out: list[PreferenceRecord] = []
        for session in self._sessions(session_ids, "preferences"):
            out.extend(preference_records_from_session(session))
        return out
