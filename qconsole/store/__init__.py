"""The session store: qconsole's memory of every chat, mark, rewrite and preference.

No Textual here: the console and review screens, the CLI and the training code all use this
package the same way. See ``store.py`` for the layout decision and its measured figures.
"""

from qconsole.store.corrections import Correction, PreferencePair
from qconsole.store.failure_kinds import (
    FAILURE_KINDS,
    KIND_BY_KEY,
    ROUTE_STEPS,
    STEP_BY_KEY,
    FailureKind,
    RouteStep,
    failure_kind,
    kind_label,
)
from qconsole.store.ids import SIDES
from qconsole.store.model import BlindVote, Mark, Reply, Rewrite, Session, SessionSummary, Turn
from qconsole.store.schema import SCHEMA_VERSION
from qconsole.store.store import Change, SessionStore
from qconsole.store.vote_records import VoteRecord

__all__ = [
    "FAILURE_KINDS",
    "KIND_BY_KEY",
    "ROUTE_STEPS",
    "SCHEMA_VERSION",
    "SIDES",
    "STEP_BY_KEY",
    "BlindVote",
    "Change",
    "Correction",
    "FailureKind",
    "Mark",
    "PreferencePair",
    "Reply",
    "Rewrite",
    "RouteStep",
    "Session",
    "SessionStore",
    "SessionSummary",
    "Turn",
    "VoteRecord",
    "failure_kind",
    "kind_label",
]
