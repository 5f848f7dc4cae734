"""Blind votes read back as flat records: who met whom, who won, traceable to the turn.

Why a record of its own and not the ``Turn``: the statistics (``evaluation/ab_stats.py``) and
preference training need, per vote, the two contestants by name (the base model, or which
adapter) as they were *when the turn was made*, not as the session's metadata says later. A
reply records its own model and adapter, so the contestant comes from the reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from qconsole.sides import Side, is_side
from qconsole.store.model import Reply, Session

BASE = "base"  # the contestant name of a side without an adapter


@dataclass(frozen=True)
class VoteRecord:
    session_id: str
    turn_id: str
    turn_index: int
    user: str
    seed: int
    assignment: dict[str, Side]  # {"A": side, "B": side}
    vote: str  # "a" | "b" | "tie" | "both_bad"
    voted_at: str
    contestants: dict[Side, str]  # side -> "base" or the adapter's name
    fingerprints: dict[Side, str | None]  # side -> the adapter's fingerprint (None for base)
    after_reveal: bool = False  # cast again after an undo, with the names already shown

    @property
    def id(self) -> str:
        return f"{self.session_id}/{self.turn_id}"

    @property
    def winner(self) -> str | None:
        """The contestant that won; None for a tie or both bad."""
        label = {"a": "A", "b": "B"}.get(self.vote)
        return self.contestants[self.assignment[label]] if label else None

    @property
    def loser(self) -> str | None:
        label = {"a": "B", "b": "A"}.get(self.vote)
        return self.contestants[self.assignment[label]] if label else None


def contestant(reply: Reply | None) -> str:
    return (reply.adapter or BASE) if reply is not None else BASE


def vote_records_from_session(session: Session) -> list[VoteRecord]:
    """One record per turn shown blind *and voted on*; turns still waiting for a vote and
    turns where a side is missing (a failed load) give none."""
    out: list[VoteRecord] = []
    for turn in session.turns:
        blind = turn.blind
        if blind is None or blind.vote is None:
            continue
        left, right = turn.reply("left"), turn.reply("right")
        if left is None or right is None:
            continue
        out.append(VoteRecord(
            session_id=session.id, turn_id=turn.turn_id, turn_index=turn.index, user=turn.user,
            seed=blind.seed, assignment=dict(blind.assignment), vote=blind.vote,
            voted_at=blind.voted_at or "",
            contestants={"left": contestant(left), "right": contestant(right)},
            fingerprints={"left": left.adapter_fingerprint, "right": right.adapter_fingerprint},
            after_reveal=blind.after_reveal,
        ))
    return out


@dataclass(frozen=True)
class PreferenceRecord:
    """A sighted preference (``Turn.preference``): the person knew which pane was which."""

    session_id: str
    turn_id: str
    preferred: Side
    contestants: dict[Side, str]

    @property
    def winner(self) -> str:
        return self.contestants[self.preferred]

    @property
    def loser(self) -> str:
        return self.contestants["right" if self.preferred == "left" else "left"]


def preference_records_from_session(session: Session) -> list[PreferenceRecord]:
    out: list[PreferenceRecord] = []
    for turn in session.turns:
        pref = turn.preference
        left, right = turn.reply("left"), turn.reply("right")
        if not is_side(pref) or left is None or right is None:
            continue
        out.append(PreferenceRecord(
            session_id=session.id, turn_id=turn.turn_id, preferred=pref,
            contestants={"left": contestant(left), "right": contestant(right)},
        ))
    return out
