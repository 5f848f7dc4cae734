"""Preference pairs for DPO: a conversation, the reply to prefer and the reply to avoid.

Three sources, kept apart by ``source`` because they are different evidence:

- ``rewrite``: the person rewrote a reply; the rewrite is chosen over the original reply;
- ``preference``: the person preferred one pane, knowing which was which (sighted); the
  preferred side's final reply (its rewrite where there is one) over the other side's reply;
- ``blind``: the person voted with the names hidden (A/B); the winner's final reply over the
  loser's reply. A tie or "both bad" says nothing about which is better and gives no pair.

The pairs themselves come from the store (``SessionStore.preference_pairs``, the same records
``qconsole sessions export`` writes), so an exported DPO file and a DPO training run see the
same data. The context of a pair is the chosen side's conversation as the store rebuilds it
for SFT (earlier rewrites standing in for the replies they replaced), so a pair's prompt is
rendered and tokenised by the very rule an SFT example of the same turn is (dpo_data.py).

Here: the store's records become training records, exact repeats are dropped (the same
chosen/rejected for the same conversation, whatever the source), and pairs whose two replies
would train as the same text (they differ only in surrounding whitespace) are skipped.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qconsole.prompts import Message, as_messages, conversation_hash

PAIR_SOURCES = ("rewrite", "preference", "blind")


def pair_hash(context: Sequence[Message], user: str, chosen: str, rejected: str) -> str:
    """16 hex digits of a sha256 over the conversation and both replies (not the source: the
    same pair from a sighted preference and a blind vote is one pair)."""
    return conversation_hash(context, user, chosen=chosen, rejected=rejected)


@dataclass(frozen=True)
class PreferenceExample:
    """One pair: continue ``context`` + ``user`` with ``chosen`` rather than ``rejected``."""

    context: tuple[Message, ...]
    user: str
    chosen: str
    rejected: str
    source: str
    session_id: str = ""
    turn_id: str = ""
    chosen_side: str = ""
    rejected_side: str = ""
    id: str = ""
    hash: str = ""

    def __post_init__(self) -> None:
        if self.source not in PAIR_SOURCES:
            raise ValueError(f"unknown preference pair source {self.source!r}")
        if not self.hash:
            object.__setattr__(
                self, "hash", pair_hash(self.context, self.user, self.chosen, self.rejected)
            )
        if not self.id:
            object.__setattr__(self, "id", f"{self.source}:{self.hash}")

    @property
    def prompt_messages(self) -> list[Message]:
        return [*self.context, Message("user", self.user)]

    @property
    def correction_id(self) -> str | None:
        """For a rewrite pair, the id of the store correction it comes from
        (``session/turn/side``): the adapter's metadata lists these like an SFT adapter's."""
        if self.source != "rewrite" or not self.session_id:
            return None
        return f"{self.session_id}/{self.turn_id}/{self.chosen_side}"


def from_store_pair(pair: Any) -> PreferenceExample:
    """A store ``PreferencePair`` (``qconsole.store.PreferencePair``) as a training pair."""
    prompt = as_messages(pair.prompt)
    if not prompt or prompt[-1].role != "user":
        raise ValueError(f"preference pair {pair.id} does not end with a user message")
    context = tuple(prompt[:-1])
    user = prompt[-1].content
    return PreferenceExample(
        context=context,
        user=user,
        chosen=pair.chosen,
        rejected=pair.rejected,
        source=pair.source,
        session_id=pair.session_id,
        turn_id=pair.turn_id,
        chosen_side=pair.chosen_side,
        rejected_side=pair.rejected_side,
        id=pair.id,
        hash=pair_hash(context, user, pair.chosen, pair.rejected),
    )


@dataclass(frozen=True)
class PairSelection:
    """What :func:`select_pairs` kept and why it left the rest out."""

    pairs: list[PreferenceExample]
    duplicates: int
    identical: int  # chosen and rejected train as the same text

    @property
    def by_source(self) -> dict[str, int]:
        return count_by_source(self.pairs)


def select_pairs(pairs: Iterable[PreferenceExample]) -> PairSelection:
    """Drop exact repeats (keeping the first) and pairs whose replies differ only in the
    whitespace the template strips (``completion_text`` trims every reply)."""
    seen: set[str] = set()
    out: list[PreferenceExample] = []
    duplicates = identical = 0
    for p in pairs:
        if p.chosen.strip() == p.rejected.strip():
            identical += 1
            continue
        if p.hash in seen:
            duplicates += 1
            continue
        seen.add(p.hash)
        out.append(p)
    return PairSelection(out, duplicates, identical)


def count_by_source(pairs: Iterable[PreferenceExample]) -> dict[str, int]:
    counts = Counter(p.source for p in pairs)
    return {s: counts[s] for s in PAIR_SOURCES if counts[s]}


def pairs_from_store(
    sessions_dir: str | os.PathLike[str],
    *,
    session_ids: Iterable[str] | None = None,
    sources: Sequence[str] = PAIR_SOURCES,
    synthetic: bool = True,
) -> tuple[PairSelection, list[str]]:
    """Every usable pair of a sessions directory, oldest session first, and the store's
    warnings (unreadable files are skipped, not fatal). ``synthetic=False`` leaves out the
    sessions the teacher generated."""
    from qconsole.store import SessionStore

    store = SessionStore(Path(sessions_dir))
    ids = list(session_ids) if session_ids is not None else None
    wanted = set(sources)
    raw = [p for p in store.preference_pairs(ids, include_rewrites="rewrite" in wanted)
           if p.source in wanted]
    if not synthetic:
        generated = {sid for sid in {p.session_id for p in raw}
                     if store.load_session(sid).extra.get("synthetic")}
        raw = [p for p in raw if p.session_id not in generated]
    return select_pairs(from_store_pair(p) for p in raw), store.take_warnings()
