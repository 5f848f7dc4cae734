"""The shape every session file of this schema must have when read, as pydantic models.

Why validate on read and not only on write: a session file is a JSON file on disk that a person
can edit, a sync tool can mangle and another program can write. Without this check one file
with ``meta.models`` as a list or ``marks.left.kinds = 5`` crashed ``sessions list``, every
export and ``qconsole train`` for *all* sessions; an undo event without ``turn_id`` crashed
undo; a turn key that is not a number broke TinyDB's next write. Now such a file fails here,
with one line naming the field, and the store quarantines it (``files.py``); every other
session works. Types are strict (``"3"`` is not a number) but unknown extra fields are kept:
a field added by a later qconsole of the same schema does not make a file unreadable.

Files of an older schema are upgraded (``schema.py``) before this check; files of a newer one
are not checked (they open read-only, leniently).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qconsole.store.ids import SESSION_ID_RE, TURN_ID_RE

DocKey = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,8}$")]
Side = Literal["left", "right"]
Vote = Literal["a", "b", "tie", "both_bad"]


class _Doc(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class AdapterRef(_Doc):
    name: str | None = None
    fingerprint: str | None = None


class MetaDoc(_Doc):
    schema_version: int
    id: Annotated[str, StringConstraints(pattern=SESSION_ID_RE.pattern)]
    created: str = ""
    updated: str = ""
    title: str = ""
    models: dict[str, str] = Field(default_factory=dict)
    adapters: dict[str, AdapterRef | str | None] = Field(default_factory=dict)
    template: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    system: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)


class ReplyDoc(_Doc):
    text: str | None = None
    model: str | None = None
    adapter: str | None = None
    adapter_fingerprint: str | None = None
    template: str | None = None
    finish_reason: str | None = None
    error: str | None = None
    started: str | None = None
    finished: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    ttft_s: float | None = None
    elapsed_s: float | None = None
    sampling: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)


class MarkDoc(_Doc):
    kinds: list[str] = Field(min_length=1)
    note: str = ""
    step: str | None = None
    at: str = ""


class RewriteDoc(_Doc):
    text: str | None
    at: str = ""


class BlindDoc(_Doc):
    """A turn shown blind: the seed of the draw, which side was A / B, and the vote."""

    seed: int
    assignment: dict[Literal["A", "B"], Side] = Field(min_length=2)
    vote: Vote | None = None
    voted_at: str | None = None
    shown_at: str = ""
    revealed_at: str | None = None


class TurnDoc(_Doc):
    turn_id: Annotated[str, StringConstraints(pattern=TURN_ID_RE.pattern)]
    index: int = Field(default=0, ge=0)
    user: str
    created: str = ""
    updated: str = ""
    replies: dict[Side, ReplyDoc | None] = Field(default_factory=dict)
    marks: dict[Side, MarkDoc | None] = Field(default_factory=dict)
    rewrites: dict[Side, list[RewriteDoc]] = Field(default_factory=dict)
    preference: Side | None = None
    blind: BlindDoc | None = None


class EventDoc(_Doc):
    op: Literal["mark", "clear_mark", "rewrite", "clear_rewrite", "preference", "blind_vote"]
    turn_id: Annotated[str, StringConstraints(pattern=TURN_ID_RE.pattern)]
    side: Side | None = None
    field: Literal["marks", "rewrites", "preference", "blind"]
    at: str = ""
    undone: bool = False
    # the mark, the preference or the blind vote before the change
    before: MarkDoc | Side | Vote | None = None
    before_at: str | None = None  # a blind vote's time before the change
    before_len: int | None = Field(default=None, ge=0)


class SessionDoc(_Doc):
    meta: dict[Literal["1"], MetaDoc] = Field(min_length=1)
    turns: dict[DocKey, TurnDoc] = Field(default_factory=dict)
    events: dict[DocKey, EventDoc] = Field(default_factory=dict)
