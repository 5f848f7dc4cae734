"""Blind A/B turns: drawing which side is A, and recording a person's vote with undo.

Why a draw per turn and not per session: with one assignment for a whole session a person
learns after one reveal which pane is which and every later vote is sighted again. Each turn
gets its own seed; the assignment is drawn from it (``assignment_for``) and both are stored,
so a record says what the person saw and the draw can be replayed.

A vote is a person's decision like a mark or a preference: it is written with an undo event
in the same atomic write (``SessionFiles.writing``), so ``undo_last`` reverts it, also after a
restart. The assignment itself is not undoable: it is what was shown, not a decision. Nor is
the reveal: ``revealed_at`` (the first vote's time) stays after an undo, so a vote cast again
on that turn is known to have been cast with the names in view (``BlindVote.after_reveal``).
"""

from __future__ import annotations

import random
from collections.abc import MutableMapping
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.sides import SIDES, Side, is_side
from qconsole.store.files import SessionFiles, turn_doc
from qconsole.store.ids import now_iso
from qconsole.store.model import VOTES
from qconsole.store.schema import EVENTS, TURNS

SEED_MAX = 2**31 - 1


def assignment_for(seed: int) -> dict[str, Side]:
    """Which side is A and which B for ``seed``: a fair coin from ``random.Random(seed)``."""
    first = SIDES[random.Random(seed).randrange(2)]
    second: Side = "right" if first == "left" else "left"
    return {"A": first, "B": second}


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise QConsoleError(f"a blind seed must be an int from 0 to {SEED_MAX}, not {seed!r}")
    return seed


def check_vote(vote: object) -> str | None:
    if vote is not None and vote not in VOTES:
        raise QConsoleError(f"a blind vote must be one of {', '.join(VOTES)} or None, not {vote!r}")
    return vote


def blind_doc(seed: int, assignment: dict | None = None, *, shown_at: str | None = None) -> dict:
    """The ``blind`` object of a turn shown blind, checked: a permutation of the two sides
    (drawn from the seed when not given)."""
    seed = check_seed(seed)
    if assignment is None:
        assignment = assignment_for(seed)
    if not isinstance(assignment, dict) or set(assignment) != {"A", "B"}:
        raise QConsoleError("a blind assignment must map exactly 'A' and 'B' to sides")
    a, b = assignment["A"], assignment["B"]
    if not (is_side(a) and is_side(b)) or a == b:
        raise QConsoleError(
            f"a blind assignment must put left and right on A and B, not {a!r}/{b!r}")
    return {"seed": seed, "assignment": {"A": a, "B": b}, "vote": None, "voted_at": None,
            "shown_at": shown_at or now_iso()}


class Votes:
    """The blind writes of the store, through one :class:`SessionFiles`."""

    def __init__(self, files: SessionFiles) -> None:
        self.files = files

    def start_blind(self, session_id: str, turn_id: str, seed: int,
                    assignment: dict | None = None) -> dict:
        """Record that ``turn_id`` is shown blind; returns the stored ``blind`` object.
        A turn that already has one keeps it (the first showing is what the person saw)."""
        doc_value = blind_doc(seed, assignment)
        with self.files.writing(session_id) as db:
            doc_id, doc = turn_doc(db, session_id, turn_id)
            if isinstance(doc.get("blind"), dict):
                return dict(doc["blind"])

            def mutate(d: MutableMapping[str, Any]) -> None:
                d["blind"] = doc_value

            db.table(TURNS).update(mutate, doc_ids=[doc_id])
            return doc_value

    def set_vote(self, session_id: str, turn_id: str, vote: str | None) -> None:
        """Cast (or with None clear) the blind vote of a turn shown blind."""
        vote = check_vote(vote)
        with self.files.writing(session_id) as db:
            doc_id, doc = turn_doc(db, session_id, turn_id)
            blind = doc.get("blind")
            if not isinstance(blind, dict):
                raise QConsoleError(f"turn {turn_id} was not shown blind, so it has no A/B vote")
            before, before_at = blind.get("vote"), blind.get("voted_at")
            if before == vote:
                return
            now = now_iso()

            def mutate(d: MutableMapping[str, Any]) -> None:
                new = {**d["blind"], "vote": vote, "voted_at": now if vote else None}
                if vote is not None and not new.get("revealed_at"):
                    new["revealed_at"] = now  # the names are shown from this vote on
                d["blind"] = new
                d["updated"] = now

            db.table(TURNS).update(mutate, doc_ids=[doc_id])
            db.table(EVENTS).insert({
                "op": "blind_vote", "turn_id": turn_id, "side": None, "field": "blind",
                "at": now, "undone": False, "before": before, "before_at": before_at,
            })


def revert_vote(doc: MutableMapping[str, Any], event: dict) -> None:
    """Undo of a ``blind_vote`` event on a turn document (called by ``undo_last``)."""
    blind = doc.get("blind")
    if isinstance(blind, dict):
        doc["blind"] = {**blind, "vote": event.get("before"), "voted_at": event.get("before_at")}
