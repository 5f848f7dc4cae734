"""Identifiers and names that become paths, checked in one place.

Session ids are generated here (``20250101-120000-a1b2c3``: sortable by time, six random hex
digits against collisions) and become file names, so anything given from outside (a CLI
argument, a name typed in the UI) is checked or sanitised before it touches a path: nothing can
reach outside the sessions directory through ``../``, a slash, a NUL or a leading dot.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import UTC, datetime
from typing import TypeGuard

from qconsole.errors import QConsoleError
from qconsole.sides import SIDES as SIDES  # re-exported: the store's users import it from here
from qconsole.sides import Side, is_side

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
TURN_ID_RE = re.compile(r"^t[1-9][0-9]{0,8}$")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_session_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def is_session_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(SESSION_ID_RE.match(value))


def check_session_id(value: object) -> str:
    if not is_session_id(value):
        raise QConsoleError(
            f"{value!r} is not a session id (letters, digits, '-' and '_' only); "
            "see `qconsole sessions list`"
        )
    return value


def turn_id_for(index: int) -> str:
    return f"t{index}"


def check_turn_id(value: object) -> str:
    if not (isinstance(value, str) and TURN_ID_RE.match(value)):
        raise QConsoleError(f"{value!r} is not a turn id (like 't3')")
    return value


def check_side(value: object) -> Side:
    if not is_side(value):
        raise QConsoleError(f"side must be 'left' or 'right', not {value!r}")
    return value


def safe_filename(text: str, *, fallback: str = "session", max_len: int = 80) -> str:
    """A file name from free text: ASCII letters, digits, '-', '_' and '.', never hidden,
    never '.' or '..', never empty."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", norm).strip("._-")[:max_len]
    return name or fallback
