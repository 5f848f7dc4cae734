"""The one bounded, safe way qconsole opens a file somebody else may have put there.

Session files, adapter configs and metadata, probe and suites YAML, configs and model headers
can all be replaced by something hostile: a FIFO (``open`` blocks forever), a symlink to
``/dev/zero`` (reading never ends and exhausts memory), a device, a directory, or a file of
gigabytes. :func:`open_regular` opens without blocking (``O_NONBLOCK``, ``O_NOCTTY``), checks
``S_ISREG`` on the open descriptor (no race with a rename), and :func:`read_bytes_bounded`
reads at most ``max_bytes`` (the file may grow while it is read). :func:`load_yaml` adds
protection against YAML alias bombs ("billion laughs"): a document whose aliases expand to more
values than any hand-written file holds, or that refers to itself, is refused before anything
is built from it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from qconsole.errors import QConsoleError

MiB = 1 << 20
DEFAULT_MAX_BYTES = 64 * MiB
YAML_MAX_BYTES = 8 * MiB
YAML_MAX_NODES = 1_000_000


class UnsafeFile(QConsoleError):
    """Not a regular file, or larger than allowed: refused without reading it."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_fd(path: str | os.PathLike[str], *, what: str = "file") -> tuple[int, os.stat_result]:
    """A read-only descriptor of a regular file and its stat. FileNotFoundError passes
    through (callers treat a missing file their own way); other refusals raise UnsafeFile."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"{what} {path} is {_kind(st.st_mode)}; refusing to read it")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


@contextmanager
def open_regular(
    path: str | os.PathLike[str], *, what: str = "file", max_bytes: int | None = None
) -> Iterator[IO[bytes]]:
    """``open(path, "rb")`` for a regular file only (and, given ``max_bytes``, not larger)."""
    fd, st = open_fd(path, what=what)
    if max_bytes is not None and st.st_size > max_bytes:
        os.close(fd)
        raise UnsafeFile(_too_large(path, what, st.st_size, max_bytes))
    with os.fdopen(fd, "rb", buffering=1 << 16) as fh:
        yield fh


def _too_large(path: object, what: str, size: int, limit: int) -> str:
    return f"{what} {path} is {size / MiB:.1f} MiB, over the {limit / MiB:.0f} MiB limit"


def read_bytes_bounded(
    path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "file"
) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most ``max_bytes`` and the stat of what was read."""
    fd, st = open_fd(path, what=what)
    try:
        if st.st_size > max_bytes:
            raise UnsafeFile(_too_large(path, what, st.st_size, max_bytes))
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, max(min(st.st_size, max_bytes + 1 - total), 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise UnsafeFile(_too_large(path, what, total, max_bytes))
    finally:
        os.close(fd)
    return b"".join(chunks), st


def read_text_bounded(
    path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "file"
) -> str:
    """UTF-8 text of a regular file of bounded size; bad UTF-8 is one clear line."""
    data, _ = read_bytes_bounded(path, max_bytes=max_bytes, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QConsoleError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None


def _expanded_size(node: Any, limit: int) -> int:
    """How many nodes ``node`` becomes once every alias is expanded (a cycle counts as over
    the limit); linear in the distinct nodes thanks to the memo."""
    import yaml

    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(n: Any) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        if key in active:  # a recursive alias: expands forever
            return limit + 1
        active.add(key)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            for child in n.value:
                total += size(child)
                if total > limit:
                    break
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k) + size(v)
                if total > limit:
                    break
        active.discard(key)
        memo[key] = total
        return total

    return size(node)


def check_yaml_expansion(node: Any, source: str) -> None:
    """Refuse a composed YAML document that is an alias bomb or refers to itself."""
    if node is not None and _expanded_size(node, YAML_MAX_NODES) > YAML_MAX_NODES:
        raise QConsoleError(
            f"{source} expands to more than {YAML_MAX_NODES:,} values through YAML aliases "
            "(&/*) or refers to itself; refusing it (an alias bomb)"
        )


def load_yaml(text: str, *, source: str = "YAML") -> Any:
    """``yaml.safe_load`` that refuses alias bombs (and recursive aliases) before building
    anything, and reports a syntax error as one line."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_yaml_expansion(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise QConsoleError(f"{source} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise QConsoleError(f"{source} is nested too deeply to read") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path, *, what: str = "YAML file") -> Any:
    """A YAML file read with the size cap, the regular-file check and alias-bomb protection."""
    text = read_text_bounded(path, max_bytes=YAML_MAX_BYTES, what=what)
    return load_yaml(text, source=f"{what} {path}")
