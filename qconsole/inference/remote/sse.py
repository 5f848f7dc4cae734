"""Server-Sent Events, parsed by hand from a line reader (the standard library has no parser,
and we want no dependency for it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator


def iter_sse(readline: Callable[[], bytes]) -> Iterator[str]:
    """The ``data`` of each Server-Sent Event read line by line (comments and pings skipped)."""
    data: list[str] = []
    while True:
        raw = readline()
        if not raw:
            break
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
