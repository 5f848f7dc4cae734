"""Step 3 of a cycle: the selected failures become corrections in the session store.

Each correction is an ordinary session (so the console's review shows it, and ``qconsole
train`` reads it like any other): the user turn is the probe's question as the model was
asked it, the left reply is what the model said, marked with the topic's failure kind, and the
rewrite is the corrected answer, from one of three sources:

- ``reference``: the reasoning-gym family's own answer, with the worked steps computed here
  for arithmetic (``4 - 3 = 1, 1 - 4 = -3. The answer is -3.``); other families get the answer
  in the cue format;
- ``teacher``: the configured teacher's LEMA draft (qconsole.teacher.draft), given the
  reference answer, with its provenance stored on the rewrite;
- ``human``: the turn is stored marked but without a rewrite; the cycle stops
  (:class:`~qconsole.cycles.context.WaitingForReview`) until a person has rewritten every
  queued turn in the console, and continues from here on the next run.

Idempotent: every correction has an id derived from the plan hash, the cycle and the probe item
(``cycle_key``), stored in its session's metadata. Running the step again (after a kill half way)
finds the sessions already made and completes them instead of making second copies.
"""

from __future__ import annotations

import hashlib
from typing import Any

from qconsole.cycles.context import CycleContext, WaitingForReview
from qconsole.cycles.probe import read_records

SIDE = "left"


def cycle_key(plan_hash: str, k: int, item_id: str) -> str:
    return hashlib.sha256(f"{plan_hash}\0{k}\0{item_id}".encode()).hexdigest()[:20]


def reference_solution(family: str | None, expression: str | None, answer: str | None
                       ) -> str | None:
    """The family's answer as a worked correction; None when there is no answer to give."""
    from qconsole.teacher.variants import worked_arithmetic

    if answer is None or not str(answer).strip():
        return None
    answer = str(answer).strip()
    if expression:
        worked = worked_arithmetic(expression)
        if worked is not None and worked.endswith(f"The answer is {answer}."):
            return worked
    return f"The answer is {answer}."


def existing_sessions(store: Any) -> dict[str, str]:
    """cycle_key -> session id for every session a cycle made."""
    out: dict[str, str] = {}
    for sid in store.session_ids():
        try:
            extra = store.load_session(sid).extra
        except Exception:  # an unreadable session is the store's to report, not ours
            continue
        key = (extra.get("cycle") or {}).get("key") if isinstance(extra, dict) else None
        if isinstance(key, str):
            out[key] = sid
    return out


class _Teacher:
    """The configured teacher, opened on first use and closed at the end of the step."""

    def __init__(self) -> None:
        self.teacher: Any = None

    def draft(self, question: str, reply: str, kind: str, reference: str | None) -> Any:
        from qconsole.teacher.draft import draft_correction

        if self.teacher is None:
            from qconsole.teacher.config import require_teacher_spec
            from qconsole.teacher.model import open_teacher

            self.teacher = open_teacher(require_teacher_spec())
        return draft_correction(self.teacher, question, reply, kind=kind, reference=reference)

    def close(self) -> None:
        if self.teacher is not None:
            self.teacher.close()


def corrections_step(ctx: CycleContext, k: int) -> dict[str, Any]:
    from qconsole.store import SessionStore

    probe = ctx.ledger.step(k, "probe") or {}
    check = ctx.ledger.step(k, "check") or {}
    by_id = {r["item"]: r for r in read_records(ctx, k)}
    store = SessionStore(ctx.sessions)
    made = existing_sessions(store)
    teacher = _Teacher()
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    reused = 0
    try:
        for item_id in check.get("selected", []):
            r = by_id[item_id]
            topic = ctx.plan.topic(r["topic"])
            source = topic.corrections.source
            key = cycle_key(ctx.plan.hash, k, item_id)
            sid = made.get(key)
            if sid is None:
                sid = store.create_session({
                    "title": f"cycle {k} · {topic.name} · {item_id}",
                    "models": {SIDE: probe.get("model_name", "")},
                    "template": probe.get("template", "auto"),
                    "cycle": {"plan": ctx.plan.name, "cycle": k, "key": key,
                              "topic": topic.name, "item": item_id, "source": source},
                })
                store.append_turn(sid, {"user": r["user_text"], SIDE: {
                    "text": r["reply"], "model": probe.get("model_name", ""),
                    "adapter": probe.get("model"), "template": probe.get("template", "auto")}})
            else:
                reused += 1
            session = store.load_session(sid)
            turn = session.turns[0]
            if turn.mark(SIDE) is None:
                store.set_mark(sid, turn.turn_id, SIDE, topic.kind,
                               note=f"cycle {k} probe {item_id}: reference {r['reference']!r}")
            rewrite = turn.rewrite(SIDE)
            if rewrite is None and source == "reference":
                meta = r.get("meta") or {}
                rewrite = reference_solution(meta.get("family"), meta.get("expression"),
                                             r.get("reference"))
                if rewrite is None:
                    ctx.say(f"  {item_id}: no reference answer; left out")
                    continue
                store.set_rewrite(sid, turn.turn_id, SIDE, rewrite)
            elif rewrite is None and source == "teacher":
                draft = teacher.draft(r["user_text"], r["reply"], topic.kind, r.get("reference"))
                rewrite = draft.corrected
                store.set_rewrite(sid, turn.turn_id, SIDE, rewrite,
                                  provenance=draft.provenance(rewrite))
            if rewrite is None:
                pending.append(session.title)
                continue
            out.append({"id": f"{sid}/{turn.turn_id}/{SIDE}", "session": sid, "item": item_id,
                        "topic": topic.name, "source": source, "key": key})
    finally:
        teacher.close()
    if pending:
        ctx.ledger.set_step_state(k, "corrections", waiting=len(pending),
                                  pending=pending[:50], ready=len(out))
        raise WaitingForReview(k, pending)
    ctx.say(f"cycle {k}: {len(out)} corrections ({reused} found from an earlier attempt)")
    return {"corrections": out, "reused": reused,
            "sources": {s: sum(c["source"] == s for c in out) for s in
                        sorted({c["source"] for c in out})}}
