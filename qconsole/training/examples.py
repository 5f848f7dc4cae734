"""What one training example is, and where examples come from.

One example per rewritten turn: the earlier turns of that side (as the store rebuilds them,
with earlier rewrites standing in for the replies they replaced), the user message, and the
target reply. Sources beside the corrections: the chosen side of a preference pair, and replay
data (ordinary conversations the person names, mixed in to limit forgetting: LEMA, arXiv
2310.20689, mixes corrections with ordinary data rather than training on them alone).

Every example keeps stable ids and a content hash, so the adapter's metadata can say exactly
which corrections it learned, and a later check can find evaluation items that leaked into
training.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.prompts import Message, as_messages, conversation_hash

SOURCES = ("correction", "preference", "replay")


def content_hash(context: Sequence[Message], user: str, target: str) -> str:
    """The store's correction hash (``qconsole.store.corrections.content_hash``)."""
    return conversation_hash(context, user, target=target)


@dataclass(frozen=True)
class TrainingExample:
    """A conversation to continue (``context`` + ``user``) and the reply to learn (``target``)."""

    context: tuple[Message, ...]
    user: str
    target: str
    source: str = "correction"
    id: str = ""
    hash: str = ""
    template: str = ""  # the prompt template the chat used when the reply was made

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown example source {self.source!r}")
        if not self.hash:
            object.__setattr__(self, "hash", content_hash(self.context, self.user, self.target))
        if not self.id:
            object.__setattr__(self, "id", f"{self.source}:{self.hash}")

    @property
    def prompt_messages(self) -> list[Message]:
        return [*self.context, Message("user", self.user)]


def from_correction(correction: Any) -> TrainingExample:
    """A store ``Correction`` (``qconsole.store.Correction``) as a training example."""
    return TrainingExample(
        context=tuple(as_messages(correction.context)),
        user=correction.user,
        target=correction.rewrite,
        source="correction",
        id=correction.id,
        hash=correction.hash,
        template=getattr(correction, "template", "") or "",
    )


def from_preference(pair: Any) -> TrainingExample:
    """The chosen side of a store ``PreferencePair``."""
    prompt = as_messages(pair.prompt)
    if not prompt or prompt[-1].role != "user":
        raise ValueError(f"preference pair {pair.id} does not end with a user message")
    return TrainingExample(
        context=tuple(prompt[:-1]),
        user=prompt[-1].content,
        target=pair.chosen,
        source="preference",
        id=pair.id,
        hash=pair.hash,
    )


def from_messages(
    messages: Sequence[Message | dict], *, source: str = "replay", id: str = ""
) -> TrainingExample:
    """A conversation whose last message is the assistant reply to learn."""
    msgs = as_messages(messages)
    if len(msgs) < 2 or msgs[-1].role != "assistant" or msgs[-2].role != "user":
        raise ValueError("a training conversation must end with a user message and a reply")
    return TrainingExample(tuple(msgs[:-2]), msgs[-2].content, msgs[-1].content, source, id)


def examples_from_store(
    sessions_dir: str | os.PathLike[str],
    *,
    session_ids: Iterable[str] | None = None,
    kind: str | None = None,
    include_preferences: bool = False,
    synthetic: bool = True,
) -> tuple[list[TrainingExample], list[str]]:
    """All corrections (and optionally chosen sides of left/right preferences) in a sessions
    directory, oldest session first; also the store's warnings (unreadable files).
    ``synthetic=False`` leaves out the teacher's generated variants."""
    from qconsole.store import SessionStore

    store = SessionStore(Path(sessions_dir))
    ids = list(session_ids) if session_ids is not None else None
    examples = [from_correction(c) for c in store.corrections(ids, kind=kind)
                if synthetic or not getattr(c, "synthetic", False)]
    if include_preferences:
        # Rewrites are corrections already; only left/right preferences add something new.
        pairs = store.preference_pairs(ids, include_rewrites=False)
        examples.extend(from_preference(p) for p in pairs if p.source == "preference")
    return examples, store.take_warnings()


def load_replay(
    path: str | os.PathLike[str], *, limit: int | None = None, seed: int = 0
) -> list[TrainingExample]:
    """Replay conversations from a JSONL file, one per line, in either form:

    - ``{"messages": [{"role": ..., "content": ...}, ...]}`` (the store's SFT export, TRL's
      conversational format): the last message is the reply to learn;
    - ``{"prompt" | "user" | "instruction": ..., "completion" | "assistant" | "response" |
      "output": ...}``: one exchange.

    ``limit`` keeps a random (seeded) subset.
    """
    p = Path(path).expanduser()
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QConsoleError(f"cannot read replay file {p}: {exc.strerror or exc}") from exc
    out: list[TrainingExample] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(_replay_record(json.loads(line), f"replay:{p.name}:{n}"))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise QConsoleError(f"replay file {p}, line {n}: {exc}") from exc
    if limit is not None and len(out) > limit:
        rng = random.Random(seed)
        keep = sorted(rng.sample(range(len(out)), limit))
        out = [out[i] for i in keep]
    return out


_USER_KEYS = ("prompt", "user", "instruction", "question")
_REPLY_KEYS = ("completion", "assistant", "response", "output", "answer")


def _replay_record(obj: Any, rid: str) -> TrainingExample:
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    rid = str(obj.get("id") or rid)
    if "messages" in obj:
        return from_messages(obj["messages"], source="replay", id=rid)
    user = next((obj[k] for k in _USER_KEYS if isinstance(obj.get(k), str)), None)
    reply = next((obj[k] for k in _REPLY_KEYS if isinstance(obj.get(k), str)), None)
    if user is None or reply is None:
        raise ValueError(
            "expected 'messages', or a prompt ('prompt'/'user') and a reply "
            "('completion'/'assistant')"
        )
    return TrainingExample((), user, reply, "replay", rid)


def dedupe(examples: Iterable[TrainingExample]) -> list[TrainingExample]:
    """Drop exact repeats (same context, user message and target), keeping the first."""
    seen: set[str] = set()
    out: list[TrainingExample] = []
    for ex in examples:
        if ex.hash in seen:
            continue
        seen.add(ex.hash)
        out.append(ex)
    return out
