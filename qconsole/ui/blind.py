"""Blind A/B mode: which model is A is drawn per turn, the names come back after the vote.

Why per turn and physically placed (A's reply always in the left pane): a fixed left = base
would make the labels decoration, and one draw per session would be undone by the first
reveal. What would still tell the sides apart is hidden until the vote: names in the pane
titles, the status line and the mark dialog; per-reply figures (tokens/s, time to first
token, token counts), since an adapter runs at its own speed; error texts; and the streaming
itself, so both replies appear together once both are done.

What it cannot hide: in a conversation of several turns, a reply that continues its own earlier
replies can be recognised by its content (each model answers from its own history). For clean
votes ask single questions, or start a new session (ctrl+n) per question.

``BlindMode`` is the state (on/off, the seeded draw); the functions make the labels and the
reveal; ``vote`` is the flow of a vote key, called by the marking controller.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from qconsole.sides import Side
from qconsole.store.ids import now_iso
from qconsole.store.model import VOTE_LABELS, BlindVote, Turn
from qconsole.store.votes import SEED_MAX, assignment_for

if TYPE_CHECKING:
    from textual.app import App

    from qconsole.store.recorder import SessionRecorder, TurnHandle
    from qconsole.ui.chat_pane import ChatPane, TurnView

VOTE_ACTIONS = {"vote_a": "a", "vote_b": "b", "vote_tie": "tie", "vote_both_bad": "both_bad"}
KEYS_HINT = "1 A better · 2 B better · 3 tie · 4 both bad"


class BlindMode:
    """Whether new turns are shown blind, and the seeded draw of their A/B assignments.

    ``seed`` makes a whole session's draws reproducible (the tests pass one); without it the
    draws come from the system's randomness. Each turn's own seed is stored with the turn.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.on = False
        self._rng = random.Random(seed)

    def draw(self) -> dict:
        """``{"seed", "assignment"}`` for the next turn shown blind."""
        seed = self._rng.randint(0, SEED_MAX)
        return {"seed": seed, "assignment": assignment_for(seed)}


def pane_for(side: Side, assignment: dict[str, Side]) -> Side:
    """The pane a side's reply is drawn in: A's on the left, B's on the right."""
    return "left" if assignment["A"] == side else "right"


def label_for(side: Side, assignment: dict[str, Side]) -> str:
    return "A" if assignment["A"] == side else "B"


def identity(adapter_name: str | None) -> str:
    return f"adapter {adapter_name}" if adapter_name else "base"


def reveal_text(assignment: dict[str, Side], identities: dict[Side, str],
                vote: str | None) -> str:
    """``you voted A better · A was base · B was adapter fair-1``; after an undo of the vote
    the names stay (they were seen) and the line says a new vote is not blind."""
    names = (f"A was {identities.get(assignment['A'], '?')} · "
             f"B was {identities.get(assignment['B'], '?')}")
    if vote is None:
        return f"vote undone · {names} · a new vote here is cast knowing the names"
    return f"you voted {VOTE_LABELS[vote]} · {names}"


def reveal_line(blind: BlindVote, turn: Turn) -> str:
    """The reveal of a stored turn (the review screen, and after an undo); "" while hidden."""
    if blind.revealed_at is None:
        return ""
    names: dict[Side, str] = {}
    for side in ("left", "right"):
        reply = turn.reply(side)
        names[side] = identity(reply.adapter if reply else None)
    return reveal_text(blind.assignment, names, blind.vote)


def vote(
    app: App,
    recorder: SessionRecorder,
    handle: TurnHandle,
    views: Iterable[TurnView],
    choice: str,
) -> None:
    """Record ``choice`` for the turn of ``handle`` and reveal the names on its views."""
    views = list(views)
    blind = handle.blind
    if blind is None:
        app.notify("this turn was not shown blind: ctrl+b turns blind mode on for the next "
                   "turns (p prefers a side, sighted)", severity="warning")
        return
    if any(v.state.streaming or v.state.held for v in views):
        app.notify("wait for both replies (Esc cancels)", severity="warning")
        return
    if blind.vote == choice:
        app.notify(f"already voted {VOTE_LABELS[choice]} (u undoes it)")
        return
    again = blind.revealed_at is not None  # the names were shown by an earlier vote
    recorder.vote(handle, choice)
    now = now_iso()
    handle.blind = replace(blind, vote=choice, voted_at=now, revealed_at=blind.revealed_at or now)
    identities = {v.state.side: v.state.identity for v in views if v.state.side is not None}
    line = reveal_text(blind.assignment, identities, choice)
    for v in views:
        v.state.vote = choice
        v.state.revealed = True
        v.state.reveal = line
        v.refresh_state()
    note = " (cast after the reveal: left out of the blind figures)" if again else ""
    app.notify(line + note, title="blind vote", timeout=10)


def undo_shown(handle: TurnHandle, turn: Turn) -> None:
    """After an undo, the handle follows the stored turn (its vote may be gone)."""
    if turn.blind is not None:
        handle.blind = turn.blind


def status_parts(template: str | None, streaming: bool) -> list[str]:
    """The status line in blind mode: no model, no adapter, no per-side speed."""
    parts = [f"blind A/B: {KEYS_HINT} (ctrl+t to the turns, ctrl+b ends blind mode)"]
    if template:
        parts.append(f"template {template}")
    if streaming:
        parts.append("generating… (Esc cancels)")
    return parts


def views_of(turn_no: int, panes: Iterable[ChatPane]) -> list[TurnView]:
    """Every view of turn ``turn_no`` in ``panes`` (one per side shown)."""
    return [v for v in (pane.view_for(turn_no) for pane in panes) if v is not None]
