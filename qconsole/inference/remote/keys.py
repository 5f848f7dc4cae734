"""API keys for remote servers: read from the environment variable the config names, held so
that they never reach a log, a repr, a pickle or an error message.

Why a module of its own: the key is the one secret qconsole touches; keeping every place that
sees its value in one small file makes that easy to check.
"""

from __future__ import annotations

import os

from qconsole.errors import QConsoleError


class Secret:
    """Holds an API key so that repr, str, vars() and tracebacks show ``<hidden>``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a worker or a cache
        raise TypeError("an API key is not to be pickled")


def key_from_env(name: str | None) -> Secret | None:
    """The key in ``$name`` (None when no variable is named); one line when it is not set."""
    if not name:
        return None
    value = os.environ.get(name, "").strip()
    if not value:
        raise QConsoleError(
            f"the environment variable {name} (named by api_key_env) is not set; export the "
            "API key there"
        )
    return Secret(value)


def scrub(text: str, key: Secret | None) -> str:
    """``text`` with the key's value replaced by ``<hidden>`` (servers echo headers back)."""
    if key is not None and key.reveal():
        text = text.replace(key.reveal(), "<hidden>")
    return text
