"""What the store hands out: plain frozen dataclasses built from the raw session documents.

Why separate from the raw dicts: the UI and the training code should not depend on the JSON
layout (which has a schema version and may change), and reading must be lenient (a file from a
newer qconsole may carry fields this one does not know; they are ignored, not fatal). Checks
of what callers *write* live in ``validation.py``; the structure every file *read* must have is
checked by ``schema.validate`` before these objects are built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.sides import Side, is_side, other_side
from qconsole.store.ids import SIDES

REPLY_STR_FIELDS = (
    "text", "model", "adapter", "adapter_fingerprint", "template", "finish_reason", "error",
    "started", "finished",
)
REPLY_INT_FIELDS = ("prompt_tokens", "completion_tokens")
REPLY_FLOAT_FIELDS = ("tokens_per_s", "ttft_s", "elapsed_s")
REPLY_FIELDS = (*REPLY_STR_FIELDS, *REPLY_INT_FIELDS, *REPLY_FLOAT_FIELDS, "sampling", "extra")


@dataclass(frozen=True)
class Reply:
    """One side's reply to a turn and how it was produced."""

    text: str = ""
    model: str = ""
    adapter: str | None = None
    adapter_fingerprint: str | None = None
    template: str = ""
    sampling: dict = field(default_factory=dict)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    ttft_s: float | None = None
    elapsed_s: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    started: str | None = None
    finished: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: dict) -> Reply:
        known = {k: doc[k] for k in REPLY_FIELDS if k in doc}
        known["text"] = known.get("text") or ""
        known["model"] = known.get("model") or ""
        known["template"] = known.get("template") or ""
        known["sampling"] = dict(known.get("sampling") or {})
        known["extra"] = dict(known.get("extra") or {})
        return cls(**known)


@dataclass(frozen=True)
class Mark:
    """A reply marked as failing: which kinds of failure, a note, which route step broke."""

    kinds: tuple[str, ...]
    note: str = ""
    step: str | None = None
    at: str = ""

    @property
    def kind(self) -> str:
        return self.kinds[0] if self.kinds else "other"

    @classmethod
    def from_doc(cls, doc: dict) -> Mark:
        kinds = doc.get("kinds") or ([doc["kind"]] if doc.get("kind") else ["other"])
        return cls(
            kinds=tuple(str(k) for k in kinds),
            note=str(doc.get("note") or ""),
            step=doc.get("step") or None,
            at=str(doc.get("at") or ""),
        )


@dataclass(frozen=True)
class Rewrite:
    """One version of a person's rewrite of a reply; ``text`` None records a cleared rewrite."""

    text: str | None
    at: str = ""
    provenance: dict | None = None  # where a drafted rewrite came from (teacher, prompt hash)


LABELS = ("A", "B")
VOTES = ("a", "b", "tie", "both_bad")
VOTE_LABELS = {"a": "A better", "b": "B better", "tie": "tie", "both_bad": "both bad"}


@dataclass(frozen=True)
class BlindVote:
    """A turn shown blind: which side was A and which B (drawn from ``seed``), and the vote.

    Why the assignment is stored and not only the seed: the record must say what the person
    saw even if the drawing rule changes in a later qconsole; the seed makes the draw
    reproducible and auditable (``store.votes.assignment_for``).
    """

    seed: int
    assignment: dict[str, Side]  # {"A": side, "B": the other side}
    vote: str | None = None  # one of VOTES, or None before the vote
    voted_at: str | None = None
    shown_at: str = ""
    revealed_at: str | None = None  # when the first vote showed the names (kept by undo)

    @property
    def after_reveal(self) -> bool:
        """This vote was cast after the names were shown (a vote undone and cast again): it
        is a sighted judgement, and the statistics leave it out."""
        return bool(self.vote and self.revealed_at and self.voted_at
                    and self.voted_at > self.revealed_at)

    def side_of(self, label: str) -> Side:
        return self.assignment[label]

    def label_of(self, side: str) -> str:
        return "A" if self.assignment["A"] == side else "B"

    def winner_side(self) -> Side | None:
        """The side that won the vote; None for a tie, both bad or no vote yet."""
        if self.vote == "a":
            return self.assignment["A"]
        if self.vote == "b":
            return self.assignment["B"]
        return None

    def loser_side(self) -> Side | None:
        winner = self.winner_side()
        return other_side(winner) if winner is not None else None

    @classmethod
    def from_doc(cls, doc: object) -> BlindVote | None:
        """Lenient, like every read model: a malformed object reads as "not blind"."""
        if not isinstance(doc, dict):
            return None
        assignment = doc.get("assignment")
        seed = doc.get("seed")
        if not isinstance(assignment, dict) or not isinstance(seed, int):
            return None
        a, b = assignment.get("A"), assignment.get("B")
        if not (is_side(a) and is_side(b)) or a == b:
            return None
        vote = doc.get("vote")
        return cls(
            seed=seed,
            assignment={"A": a, "B": b},
            vote=vote if vote in VOTES else None,
            voted_at=str(doc["voted_at"]) if vote in VOTES and doc.get("voted_at") else None,
            shown_at=str(doc.get("shown_at") or ""),
            revealed_at=str(doc["revealed_at"]) if doc.get("revealed_at") else None,
        )


@dataclass(frozen=True)
class Turn:
    turn_id: str
    index: int
    user: str
    created: str
    updated: str
    replies: dict[str, Reply]
    marks: dict[str, Mark]
    rewrites: dict[str, tuple[Rewrite, ...]]
    preference: str | None = None  # sighted: the person knew which pane was which
    blind: BlindVote | None = None  # shown blind (A/B), with the vote once cast

    def reply(self, side: str) -> Reply | None:
        return self.replies.get(side)

    def mark(self, side: str) -> Mark | None:
        return self.marks.get(side)

    def rewrite(self, side: str) -> str | None:
        """The current rewrite of ``side``, or None."""
        history = self.rewrites.get(side) or ()
        return history[-1].text if history else None

    def rewrite_history(self, side: str) -> tuple[Rewrite, ...]:
        return self.rewrites.get(side) or ()

    def final_text(self, side: str) -> str:
        """What this side should have said: the rewrite where there is one, else the reply."""
        rewrite = self.rewrite(side)
        if rewrite is not None:
            return rewrite
        reply = self.replies.get(side)
        return reply.text if reply else ""

    @classmethod
    def from_doc(cls, doc: dict) -> Turn:
        replies = {
            s: Reply.from_doc(r) for s, r in (doc.get("replies") or {}).items()
            if s in SIDES and isinstance(r, dict)
        }
        marks = {
            s: Mark.from_doc(m) for s, m in (doc.get("marks") or {}).items()
            if s in SIDES and isinstance(m, dict)
        }
        rewrites = {
            s: tuple(
                Rewrite(v.get("text"), str(v.get("at") or ""),
                        v["provenance"] if isinstance(v.get("provenance"), dict) else None)
                for v in h if isinstance(v, dict)
            )
            for s, h in (doc.get("rewrites") or {}).items()
            if s in SIDES and isinstance(h, list)
        }
        pref = doc.get("preference")
        return cls(
            turn_id=doc["turn_id"],
            index=int(doc.get("index") or 0),
            user=doc["user"],
            created=str(doc.get("created") or ""),
            updated=str(doc.get("updated") or doc.get("created") or ""),
            replies=replies,
            marks=marks,
            rewrites={s: h for s, h in rewrites.items() if h},
            preference=pref if pref in SIDES else None,
            blind=BlindVote.from_doc(doc.get("blind")),
        )


@dataclass(frozen=True)
class Session:
    id: str
    created: str
    updated: str
    title: str
    models: dict[str, str]
    adapters: dict[str, Any]
    template: str
    settings: dict
    system: str
    extra: dict
    turns: tuple[Turn, ...]
    schema_version: int
    read_only: bool = False
    warnings: tuple[str, ...] = ()

    def turn(self, turn_id: str) -> Turn:
        for t in self.turns:
            if t.turn_id == turn_id:
                return t
        raise QConsoleError(f"session {self.id} has no turn {turn_id!r}")


@dataclass(frozen=True)
class SessionSummary:
    """One row of the review list, cheap to cache (see ``index.py``)."""

    id: str
    created: str
    updated: str
    title: str
    models: tuple[str, ...]
    adapters: tuple[str, ...]
    template: str
    n_turns: int
    n_marks: int
    n_rewrites: int
    n_preferences: int
    kinds: tuple[str, ...]
    schema_version: int
    read_only: bool = False
    n_votes: int = 0  # blind votes cast (turns shown blind and voted on)

    @property
    def date(self) -> str:
        return self.created[:10]

    def to_dict(self) -> dict:
        return {
            "id": self.id, "created": self.created, "updated": self.updated, "title": self.title,
            "models": list(self.models), "adapters": list(self.adapters),
            "template": self.template, "n_turns": self.n_turns, "n_marks": self.n_marks,
            "n_rewrites": self.n_rewrites, "n_preferences": self.n_preferences,
            "kinds": list(self.kinds), "schema_version": self.schema_version,
            "read_only": self.read_only, "n_votes": self.n_votes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SessionSummary:
        return cls(
            id=d["id"], created=d["created"], updated=d["updated"], title=d["title"],
            models=tuple(d["models"]), adapters=tuple(d["adapters"]), template=d["template"],
            n_turns=d["n_turns"], n_marks=d["n_marks"], n_rewrites=d["n_rewrites"],
            n_preferences=d["n_preferences"], kinds=tuple(d["kinds"]),
            schema_version=d["schema_version"], read_only=d["read_only"],
            n_votes=int(d.get("n_votes") or 0),
        )


def adapter_name(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("name")
    return value if isinstance(value, str) else None


TITLE_MAX = 80


def title_from_text(text: str) -> str:
    """The first non-empty line, shortened: a session's title when none was given."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1] + "…"
    return ""


def session_from_data(data: dict, *, read_only: bool, warnings: tuple[str, ...]) -> Session:
    meta = data["meta"]["1"]
    turn_docs = [d for d in (data.get("turns") or {}).values() if isinstance(d, dict)]
    turns = tuple(sorted((Turn.from_doc(d) for d in turn_docs), key=lambda t: t.index))
    return Session(
        id=meta["id"],
        created=str(meta.get("created") or ""),
        updated=str(meta.get("updated") or meta.get("created") or ""),
        title=str(meta.get("title") or "") or (title_from_text(turns[0].user) if turns else ""),
        models=dict(meta.get("models") or {}),
        adapters=dict(meta.get("adapters") or {}),
        template=str(meta.get("template") or ""),
        settings=dict(meta.get("settings") or {}),
        system=str(meta.get("system") or ""),
        extra=dict(meta.get("extra") or {}),
        turns=turns,
        schema_version=int(meta.get("schema_version") or 0),
        read_only=read_only,
        warnings=warnings,
    )
