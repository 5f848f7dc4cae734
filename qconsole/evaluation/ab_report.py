"""The A/B results of the stored sessions: blind votes and sighted preferences, kept apart.

Why apart: a sighted preference is cast knowing which pane is the adapter, so it carries the
bias the blind mode exists to remove; mixing the two would hide that bias inside one number.
Blind votes cast again after an undo, with the names already shown (``after_reveal``), are left
out of the blind figures and counted.

One summary feeds the review screen (``lines``) and ``qconsole report`` (``report.py``'s A/B
section), so both show the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qconsole.evaluation.ab_stats import (
    BASE,
    HeadToHead,
    Outcome,
    Rating,
    against_reference,
    ranking,
)
from qconsole.store.store import SessionStore
from qconsole.store.vote_records import PreferenceRecord, VoteRecord

_RESULT = {"a": "first", "b": "second", "tie": "tie", "both_bad": "both_bad"}


@dataclass(frozen=True)
class ABSummary:
    blind: list[HeadToHead]
    ranking: list[Rating]  # Bradley-Terry over the blind votes, when two or more adapters met
    sighted: list[HeadToHead]
    n_blind: int
    n_sighted: int
    n_after_reveal: int
    skipped: list[str] = field(default_factory=list)  # why a record was left out

    @property
    def empty(self) -> bool:
        return not (self.n_blind or self.n_sighted or self.n_after_reveal)


def blind_outcome(record: VoteRecord) -> Outcome:
    a, b = record.assignment["A"], record.assignment["B"]
    return Outcome(record.contestants[a], record.contestants[b], _RESULT[record.vote])


def sighted_outcome(record: PreferenceRecord) -> Outcome:
    return Outcome(record.contestants["left"], record.contestants["right"],
                   "first" if record.preferred == "left" else "second")


def summarize_ab(votes: list[VoteRecord], preferences: list[PreferenceRecord], *,
                 bootstrap: int = 1000, seed: int = 0) -> ABSummary:
    skipped: list[str] = []
    blind: list[Outcome] = []
    after = 0
    for v in votes:
        if v.after_reveal:
            after += 1
        elif v.contestants["left"] == v.contestants["right"]:
            skipped.append(f"{v.id}: both sides were {v.contestants['left']}")
        else:
            blind.append(blind_outcome(v))
    sighted = [sighted_outcome(p) for p in preferences
               if p.contestants["left"] != p.contestants["right"]]
    names = {n for o in blind for n in (o.first, o.second)}
    rank = ranking(blind, bootstrap=bootstrap, seed=seed) if len(names) > 2 else []
    return ABSummary(
        blind=against_reference(blind), ranking=rank, sighted=against_reference(sighted),
        n_blind=len(blind), n_sighted=len(sighted), n_after_reveal=after, skipped=skipped,
    )


def summarize_store(store: SessionStore, **kwargs) -> ABSummary:
    return summarize_ab(store.vote_records(), store.preference_records(), **kwargs)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def h2h_line(h: HeadToHead) -> str:
    """``fair-1 vs base: 7-2 (1 tie, 0 both bad), win rate 77.8% [45.3%, 93.7%], sign test
    p = 0.18``."""
    ties = f"{h.ties} tie{'s' if h.ties != 1 else ''}"
    counts = f"{h.wins}-{h.losses} ({ties}, {h.both_bad} both bad)"
    if h.win_rate is None:
        return f"{h.contestant} vs {h.opponent}: {counts}, no decisive vote yet"
    lo, hi = h.ci
    return (f"{h.contestant} vs {h.opponent}: {counts}, win rate {pct(h.win_rate)} "
            f"[{pct(lo)}, {pct(hi)}], sign test p = {h.p_value:.3g}")


def rating_line(r: Rating) -> str:
    lo, hi = r.ci
    anchor = " (reference)" if r.name == BASE else ""
    return (f"{r.name}: {r.rating:+.0f} [{lo:+.0f}, {hi:+.0f}] Elo vs base{anchor}, "
            f"{r.decisive} decisive votes")


def lines(s: ABSummary) -> list[str]:
    """The summary as plain lines (the review screen shows them as they are)."""
    if s.empty:
        return ["No A/B votes yet: ctrl+b in the console turns blind mode on, 1-4 vote."]
    out = [f"Blind votes ({s.n_blind}), names hidden until the vote; win rate over decisive "
           "votes, 95% Wilson interval, exact sign test:"]
    out += [f"  {h2h_line(h)}" for h in s.blind] or ["  none"]
    if s.ranking:
        out.append("  Bradley-Terry ranking (bootstrap 95% intervals):")
        out += [f"    {rating_line(r)}" for r in s.ranking]
    if s.n_after_reveal:
        out.append(f"  {s.n_after_reveal} vote(s) re-cast after the reveal: left out")
    out.append(f"Sighted preferences ({s.n_sighted}), names known (p in the console), "
               "reported apart:")
    out += [f"  {h2h_line(h)}" for h in s.sighted] or ["  none"]
    return out
