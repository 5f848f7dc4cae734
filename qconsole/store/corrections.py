"""Training records drawn from sessions: corrections (for SFT) and preference pairs (for DPO).

The context of a correction is the dialogue *as that side lived it*: the user messages plus
that side's own replies. Where an earlier reply of that side was itself rewritten, the rewrite
stands in for it, so the model is trained to continue a conversation that went right, not one
that already went wrong (LEMA-style records: the original wrong reply is kept beside the
target, not in the context).

Every record carries stable ids back to its turn (``session_id``, ``turn_id``, ``side``) and a
content hash over (context, user message, target), so an export can be traced, de-duplicated
and checked for leakage against evaluation items.
"""

from __future__ import annotations

from dataclasses import dataclass

from qconsole.prompts import Message, conversation_hash
from qconsole.sides import Side, is_side, other_side
from qconsole.store.ids import SIDES
from qconsole.store.model import Session, Turn


def content_hash(context: tuple[Message, ...], user: str, target: str) -> str:
    return conversation_hash(context, user, target=target)


@dataclass(frozen=True)
class Correction:
    session_id: str
    turn_id: str
    side: Side
    turn_index: int
    context: tuple[Message, ...]  # earlier turns of this side (and the system prompt, if any)
    user: str
    original: str
    rewrite: str
    kinds: tuple[str, ...]
    note: str
    step: str | None
    model: str
    adapter: str | None
    adapter_fingerprint: str | None
    template: str
    rewritten_at: str
    hash: str
    provenance: dict | None = None  # the rewrite's, when a teacher drafted it
    synthetic: bool = False  # made by the teacher or a generator ("more like this"), not a turn

    @property
    def id(self) -> str:
        return f"{self.session_id}/{self.turn_id}/{self.side}"

    @property
    def prompt_messages(self) -> list[Message]:
        """Context plus this turn's user message: what ``PromptTemplate.training_pair`` takes."""
        return [*self.context, Message("user", self.user)]

    @property
    def messages(self) -> list[Message]:
        """The whole training conversation, the rewrite as the final assistant message."""
        return [*self.prompt_messages, Message("assistant", self.rewrite)]


@dataclass(frozen=True)
class PreferencePair:
    session_id: str
    turn_id: str
    source: str  # "preference" (sighted left vs right), "rewrite" (rewrite vs original) or
    # "blind" (the winner of a blind A/B vote over the loser)
    chosen_side: Side
    rejected_side: Side
    prompt: tuple[Message, ...]  # context of the chosen side, ending with the user message
    chosen: str
    rejected: str
    hash: str

    @property
    def id(self) -> str:
        return f"{self.session_id}/{self.turn_id}/{self.source}/{self.chosen_side}"


def side_context(session: Session, upto: int, side: Side) -> tuple[Message, ...]:
    """Messages of ``side`` before the turn at position ``upto`` in ``session.turns``."""
    messages: list[Message] = []
    if session.system:
        messages.append(Message("system", session.system))
    for turn in session.turns[:upto]:
        messages.append(Message("user", turn.user))
        messages.append(Message("assistant", turn.final_text(side)))
    return tuple(messages)


def corrections_from_session(session: Session) -> list[Correction]:
    out: list[Correction] = []
    for pos, turn in enumerate(session.turns):
        for side in SIDES:
            rewrite = turn.rewrite(side)
            if rewrite is None:
                continue
            out.append(_correction(session, pos, turn, side, rewrite))
    return out


def _correction(session: Session, pos: int, turn: Turn, side: Side, rewrite: str) -> Correction:
    context = side_context(session, pos, side)
    reply = turn.reply(side)
    mark = turn.mark(side)
    return Correction(
        session_id=session.id,
        turn_id=turn.turn_id,
        side=side,
        turn_index=turn.index,
        context=context,
        user=turn.user,
        original=reply.text if reply else "",
        rewrite=rewrite,
        kinds=mark.kinds if mark else (),
        note=mark.note if mark else "",
        step=mark.step if mark else None,
        model=(reply.model if reply else "") or session.models.get(side, ""),
        adapter=reply.adapter if reply else None,
        adapter_fingerprint=reply.adapter_fingerprint if reply else None,
        template=(reply.template if reply else "") or session.template,
        rewritten_at=turn.rewrite_history(side)[-1].at,
        hash=content_hash(context, turn.user, rewrite),
        provenance=turn.rewrite_history(side)[-1].provenance,
        synthetic=bool(session.extra.get("synthetic")),
    )


def preference_pairs_from_session(
    session: Session, *, include_rewrites: bool = True
) -> list[PreferencePair]:
    """Pairs from left/right preferences, from blind A/B votes and, optionally, from every
    rewrite (rewrite chosen over the original reply). Pairs with an empty side or identical
    texts are skipped.

    A blind vote for A or B gives the winner's final text over the loser's reply, as a sighted
    preference does; a tie or "both bad" gives none. A vote re-cast after the names were
    revealed (an undo, then another vote) is a sighted judgement and is kept as a
    ``preference`` pair, not a ``blind`` one."""
    out: list[PreferencePair] = []
    for pos, turn in enumerate(session.turns):
        vote = turn.blind
        winner = vote.winner_side() if vote is not None else None
        if vote is not None and winner is not None:
            loser = other_side(winner)
            loser_reply = turn.reply(loser)
            pair = _pair(
                session, pos, turn, "preference" if vote.after_reveal else "blind", winner,
                loser, turn.final_text(winner), loser_reply.text if loser_reply else "",
            )
            if pair:
                out.append(pair)
        if is_side(turn.preference):
            chosen_side = turn.preference
            rejected_side = other_side(chosen_side)
            rejected_reply = turn.reply(rejected_side)
            pair = _pair(
                session, pos, turn, "preference", chosen_side, rejected_side,
                turn.final_text(chosen_side), rejected_reply.text if rejected_reply else "",
            )
            if pair:
                out.append(pair)
        if include_rewrites:
            for side in SIDES:
                rewrite = turn.rewrite(side)
                reply = turn.reply(side)
                if rewrite is None or reply is None:
                    continue
                pair = _pair(session, pos, turn, "rewrite", side, side, rewrite, reply.text)
                if pair:
                    out.append(pair)
    return out


def _pair(
    session: Session, pos: int, turn: Turn, source: str, chosen_side: Side, rejected_side: Side,
    chosen: str, rejected: str,
) -> PreferencePair | None:
    if not chosen.strip() or not rejected.strip() or chosen == rejected:
        return None
    context = side_context(session, pos, chosen_side)
    prompt = (*context, Message("user", turn.user))
    return PreferencePair(
        session_id=session.id,
        turn_id=turn.turn_id,
        source=source,
        chosen_side=chosen_side,
        rejected_side=rejected_side,
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        hash=content_hash(context, turn.user, chosen + "\x00" + rejected),
    )
