"""Durable bytes on disk: atomic replace writes and a TinyDB storage built on them.

Why not TinyDB's default ``JSONStorage``: it truncates the file and writes it again in place,
so a kill -9 or a full disk in the middle leaves a half-written file, and the session with all
its corrections is gone. Here every write goes to a temporary file in the same directory, is
fsynced, renamed over the old file (``os.replace`` is atomic on POSIX) and the directory is
fsynced so the rename itself survives a crash. A reader therefore sees either the old file or
the new one, never a mixture; a failed write leaves the old file untouched.

``BufferedAtomicStorage`` also makes one store operation one write: TinyDB calls ``write``
after every table change, but the store changes several tables per operation (a mark and its
undo record), so writes are buffered in memory and ``commit()`` puts them on disk together.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from qconsole.errors import QConsoleError
from qconsole.safe_files import MiB, UnsafeFile, read_bytes_bounded

TEMP_SUFFIX = ".tmp"
# a temp file names its writer's pid, so one killed mid-write is removed as soon as it is seen
# (``jobs/litter.py``); the legacy form (no pid) is removed once an hour old
TEMP_FILE = re.compile(r"^\..+\.p(?P<pid>\d+)\.[^.]*\.tmp$")
TEMP_FILE_LEGACY = re.compile(r"^\..+\.tmp$")
MAX_FILE_BYTES = 128 * MiB  # a session of 10,000 long turns is about 25 MB


class CorruptFile(Exception):
    """The file exists but is not valid UTF-8 JSON holding an object."""


def encode_json(data: Any) -> bytes:
    """Compact UTF-8 JSON; text that UTF-8 cannot hold (lone surrogates) falls back to ASCII
    escapes, so every Python string round-trips exactly."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
            "utf-8"
        )
    except UnicodeEncodeError:
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode(
            "ascii"
        )


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def decode_json(raw: bytes) -> dict:
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptFile(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CorruptFile(f"expected a JSON object, found {type(data).__name__}")
    return data


def read_json_file(path: Path) -> tuple[dict, os.stat_result]:
    """The file's JSON object and the stat of exactly the bytes read (one open file).

    FileNotFoundError passes through; anything unreadable raises CorruptFile, including a
    FIFO, device or symlink to one, and a file over MAX_FILE_BYTES (``safe_files``).
    """
    try:
        raw, st = read_bytes_bounded(path, max_bytes=MAX_FILE_BYTES, what="session file")
    except UnsafeFile as exc:
        raise CorruptFile(str(exc).replace(f"session file {path} is ", "it is ")) from None
    return decode_json(raw), st


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # platforms without directory handles: nothing more we can do
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically; on failure the old file is left as it was.

    Raises QConsoleError naming the file when the write fails (disk full, quota, I/O error).
    """
    path = Path(path)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.p{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent
        )
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        if durable:
            fsync_dir(path.parent)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QConsoleError(
            f"saving {path} failed ({reason}); what was saved before is unchanged"
        ) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class ReadOnlyStorageError(QConsoleError):
    """A write reached a storage opened read-only (a file from a newer schema)."""


class BufferedAtomicStorage(Storage):
    """TinyDB storage over data already read and checked by the store.

    ``read`` hands TinyDB the in-memory tables; ``write`` only marks them dirty; ``commit``
    writes them with :func:`atomic_write_bytes`. Nothing reaches disk unless ``commit`` is
    called, so an operation that fails half-way changes nothing.
    """

    def __init__(
        self,
        path: str | Path,
        data: dict | None = None,
        *,
        read_only: bool = False,
        durable: bool = True,
        read_only_reason: str = "",
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self._data = data
        self._dirty = False
        self._read_only = read_only
        self._read_only_reason = read_only_reason or f"{self.path.name} is open read-only"
        self._durable = durable

    def read(self) -> dict | None:
        if self._data is None:
            try:
                self._data, _ = read_json_file(self.path)
            except FileNotFoundError:
                return None
        return self._data

    def write(self, data: dict) -> None:
        if self._read_only:
            raise ReadOnlyStorageError(self._read_only_reason)
        self._data = data
        self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def commit(self) -> None:
        if self._dirty and self._data is not None:
            atomic_write_bytes(self.path, encode_json(self._data), durable=self._durable)
            self._dirty = False

    def close(self) -> None:
        """Closing never writes: uncommitted changes are dropped on purpose."""
