"""Listing and searching sessions for review, fast at ten thousand files.

Listing stats every file and reuses cached summaries for unchanged ones (``index.py``), so the
review list opens without parsing every file. A text search reads only the files the cheaper
filters leave, and skips a file at once when its raw bytes cannot contain the needle.
"""

from __future__ import annotations

from operator import attrgetter

from qconsole.safe_files import read_bytes_bounded
from qconsole.store.failure_kinds import failure_kind
from qconsole.store.files import SessionFiles, check_data, newer_message
from qconsole.store.ids import is_session_id
from qconsole.store.index import Entry, ListingCache, is_racy, stat_key
from qconsole.store.model import SessionSummary
from qconsole.store.schema import SCHEMA_VERSION, SchemaError
from qconsole.store.storage import CorruptFile, decode_json, read_json_file
from qconsole.store.summary import session_text, summarize

SUMMARY_VERSION = 1


def _is_session_file(name: str) -> bool:
    return name.endswith(".json") and is_session_id(name[:-5])


class Listing:
    """Summaries of every readable session, filtered and searched."""

    def __init__(self, files: SessionFiles) -> None:
        self.files = files
        self._cache = ListingCache(files.root, SUMMARY_VERSION)

    def summaries(self) -> list[SessionSummary]:
        """Summaries of every readable session, through the listing cache."""
        return self._cache.refresh(_is_session_file, lambda name: self._entry(name[:-5]))

    def _entry(self, session_id: str) -> Entry | None:
        files = self.files
        path = files.path_for(session_id)
        try:
            raw, st = read_json_file(path)
            data, version = check_data(raw, session_id)
        except FileNotFoundError:
            return None
        except (CorruptFile, SchemaError) as exc:
            if files.quarantine(path, str(exc), locked=False) is None:
                return self._entry(session_id)
            return None
        except OSError as exc:
            files.warn(f"cannot read session file {path.name}: {exc.strerror or exc}")
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
            files.warn(newer_message(session_id, version))
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
        if kind is not None:
            kind = failure_kind(kind).key
        rows = self.summaries()
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

    def _contains(self, session_id: str, needle: str) -> bool:
        """Whether the session's text contains ``needle`` (already casefolded).

        A cheap pre-check on the raw file first: when the needle is plain printable ASCII
        (nothing JSON would escape) and the file holds no \\u escapes, every occurrence in a
        text field is also an occurrence in the raw file, so a miss there is a sure miss.
        """
        try:
            raw_bytes, _ = read_bytes_bounded(self.files.path_for(session_id))
        except (OSError, CorruptFile):
            return False
        plain = needle.isascii() and needle.isprintable() and '"' not in needle
        if plain and "\\" not in needle and b"\\u" not in raw_bytes:
            try:
                if needle not in raw_bytes.decode("utf-8").casefold():
                    return False
            except UnicodeDecodeError:
                return False
        try:
            data, _ = check_data(decode_json(raw_bytes), session_id)
            return needle in session_text(data).casefold()
        except (CorruptFile, SchemaError, KeyError, TypeError, AttributeError):
            return False
