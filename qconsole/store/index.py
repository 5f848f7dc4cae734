"""The listing cache that keeps the review list fast at ten thousand sessions.

Listing must not parse every session file: at 10,000 sessions and 100,000 turns that is about
240 MB of JSON (1.5 s or more here). ``sessions/.index.json`` keeps each file's summary
keyed by what ``stat`` says about the exact bytes it was computed from: (mtime_ns, size,
inode). Listing stats every file and re-reads only files whose key changed, then saves the
cache if anything did. Rows are stored positionally (half the size of dicts, twice as fast to
parse), and the last listing is kept in memory too, so a second listing in the same process
(the review screen changing a filter) skips even the cache file unless another process
rewrote it. The cache is only ever a cache: unreadable, from another version, or lost, it is
rebuilt; it is written atomically but not fsynced.

Why the key is safe with atomic replace writes: each write makes a new inode, so a changed
file changes its key even when mtime's resolution (a few ms on some filesystems) and its size
do not move. A summary computed from a file modified within ``RACY_NS`` of being read is also
flagged *racy* and recomputed on the next listing, as git does for its index: an in-place edit
(a person's editor) in the same clock tick as our read cannot go unnoticed.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path

from qconsole.errors import QConsoleError
from qconsole.jobs.litter import remove_if_litter
from qconsole.store.model import SessionSummary
from qconsole.store.storage import (
    TEMP_FILE,
    TEMP_FILE_LEGACY,
    TEMP_SUFFIX,
    CorruptFile,
    atomic_write_bytes,
    encode_json,
    read_json_file,
)

CACHE_NAME = ".index.json"
CACHE_VERSION = 3  # 3: rows gained n_votes
RACY_NS = 2_000_000_000
_N_FIELDS = len(fields(SessionSummary))

Key = tuple[int, int, int]
Entry = tuple[Key, bool, SessionSummary]
# What the store computes for a file that had to be read: (key, racy, summary), or None when
# the file is gone or unreadable (the store has then dealt with it).
Compute = Callable[[str], Entry | None]


def stat_key(st: os.stat_result) -> Key:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def is_racy(st: os.stat_result) -> bool:
    return st.st_mtime_ns >= time.time_ns() - RACY_NS


def _row(entry: Entry) -> list:
    key, racy, s = entry
    return [
        *key, int(racy), s.id, s.created, s.updated, s.title, list(s.models), list(s.adapters),
        s.template, s.n_turns, s.n_marks, s.n_rewrites, s.n_preferences, list(s.kinds),
        s.schema_version, int(s.read_only),
    ]


def _entry(row: list) -> Entry:
    if len(row) != 4 + _N_FIELDS:
        raise ValueError("bad row")
    v = row[4:]
    summary = SessionSummary(
        v[0], v[1], v[2], v[3], tuple(v[4]), tuple(v[5]), v[6], v[7], v[8], v[9], v[10],
        tuple(v[11]), v[12], bool(v[13]),
    )
    return (row[0], row[1], row[2]), bool(row[3]), summary


class ListingCache:
    """Summaries of the session files in ``root``, refreshed by stat."""

    def __init__(self, root: Path, summary_version: int) -> None:
        self.root = root
        self.path = root / CACHE_NAME
        self.version = [CACHE_VERSION, summary_version]
        self._memo: dict[str, Entry] | None = None
        self._memo_key: Key | None = None  # the cache file as we last read or wrote it

    def _cache_file_key(self) -> Key | None:
        try:
            return stat_key(os.stat(self.path))
        except OSError:
            return None

    def _load(self) -> dict[str, Entry]:
        current = self._cache_file_key()
        if self._memo is not None and current == self._memo_key:
            return self._memo
        try:
            data, st = read_json_file(self.path)
            if data.get("version") != self.version:
                raise ValueError("another version")
            entries = {name: _entry(row) for name, row in data["entries"].items()}
            self._memo_key = stat_key(st)
        except (OSError, CorruptFile, ValueError, TypeError, KeyError, AttributeError):
            entries, self._memo_key = {}, None
        self._memo = entries
        return entries

    def _save(self, entries: dict[str, Entry]) -> None:
        self._memo = entries
        payload = {"version": self.version,
                   "entries": {name: _row(e) for name, e in entries.items()}}
        with contextlib.suppress(QConsoleError):  # a cache that cannot be saved is rebuilt
            atomic_write_bytes(self.path, encode_json(payload), durable=False)
        self._memo_key = self._cache_file_key()

    def refresh(
        self, is_session_file: Callable[[str], bool], compute: Compute
    ) -> list[SessionSummary]:
        if not self.root.is_dir():
            return []
        with _gc_paused():
            return self._refresh(is_session_file, compute)

    def _refresh(
        self, is_session_file: Callable[[str], bool], compute: Compute
    ) -> list[SessionSummary]:
        cached = self._load()
        entries: dict[str, Entry] = {}
        # Saving is worth it only for summaries the next listing may trust: racy ones (the
        # session being written right now) are read again anyway. This keeps a listing during
        # a chat from rewriting the whole cache.
        worth_saving = False
        now = time.time()
        with os.scandir(self.root) as it:
            dir_entries = list(it)
        for dir_entry in dir_entries:
            name = dir_entry.name
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                remove_if_litter(dir_entry, TEMP_FILE, TEMP_FILE_LEGACY, now)
                continue
            if not is_session_file(name):
                continue
            try:
                key = stat_key(dir_entry.stat())
            except OSError:
                continue
            hit = cached.get(name)
            if hit is not None and hit[0] == key and not hit[1]:
                entries[name] = hit
                continue
            fresh = compute(name)
            if fresh is not None:
                entries[name] = fresh
                worth_saving = worth_saving or not fresh[1]
        if worth_saving or not cached.keys() <= entries.keys():
            self._save(entries)
        else:
            self._memo = entries
        return [e[2] for e in entries.values()]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Building tens of thousands of small objects makes the cyclic GC rescan the heap again
    and again (about 20% of a warm listing); none of them form cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
