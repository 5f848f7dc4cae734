"""The teacher's actions over a session store: what the console's keys and ``qconsole teacher``
both call. No Textual here; every slow method is meant for a worker thread.

Nothing the teacher proposes reaches the store without an explicit call that stands for the
person's key press: ``accept_mark`` / ``edit_mark`` / ``drop_mark`` for proposed marks,
``save_draft`` for a drafted correction (after the person's edit), ``store_variants`` for the
variants the person kept. Proposals wait in ``<workspace>/teacher/proposals/<session>.json``
(not in the session file), so a proposal can be reviewed later, from the CLI or the console.

Synthetic corrections ("more like this") are stored as sessions of one turn each, flagged
``extra.synthetic`` and carrying their provenance on the rewrite: every tool that reads
corrections sees them, the review lists them, and ``qconsole train --no-synthetic`` leaves
them out. One session per variant, because a correction's context is its session's earlier
turns: variants must not become each other's context.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.paths import workspace_dir
from qconsole.prompts import Message
from qconsole.sampling import SamplingSettings
from qconsole.sides import Side
from qconsole.teacher.config import NO_TEACHER, TeacherSpec
from qconsole.teacher.draft import DraftCorrection, draft_correction
from qconsole.teacher.instructions import (
    kind_instruction,
    next_question_instruction,
    read_kind,
    read_question,
)
from qconsole.teacher.judge import JudgeReport, judge_items, judge_reply
from qconsole.teacher.model import Teacher, open_teacher
from qconsole.teacher.play import PlayedTurn, PlayResult, ProposedMark, play_script
from qconsole.teacher.scripts import Script
from qconsole.teacher.variants import (
    REWORDED,
    Variant,
    arithmetic_rewordings,
    filter_variants,
    gym_variants,
    script_variants,
    teacher_variants,
)


def proposals_dir() -> Path:
    return workspace_dir() / "teacher" / "proposals"


class TeacherController:
    """``store``: a SessionStore. ``teacher``: a ready Teacher, or None to open the configured
    one on first use (``spec``; None: no teacher, and every teacher action says how to set
    one). Actions that need no teacher (playing a script with rule checks, reasoning-gym
    variants, accepting marks) work without one."""

    def __init__(self, store: Any, *, teacher: Teacher | None = None,
                 spec: TeacherSpec | None = None, aliases: Mapping[str, str] | None = None
                 ) -> None:
        self.store = store
        self._teacher = teacher
        self._spec = spec
        self._aliases = dict(aliases or {})
        self._lock = threading.Lock()
        self._proposals_lock = threading.RLock()

    # -- the teacher -------------------------------------------------------------------------
    @property
    def has_teacher(self) -> bool:
        return self._teacher is not None or self._spec is not None

    @property
    def teacher(self) -> Teacher:
        with self._lock:
            if self._teacher is None:
                if self._spec is None:
                    raise QConsoleError(NO_TEACHER)
                self._teacher = open_teacher(self._spec, aliases=self._aliases)
            return self._teacher

    def judge_fn(self) -> Callable[[str, str, str], bool | None] | None:
        if not self.has_teacher:
            return None
        return lambda q, reply, rubric: judge_reply(self.teacher, q, reply, rubric)

    def close(self) -> None:
        if self._teacher is not None:
            self._teacher.close()

    # -- scripts -------------------------------------------------------------------------------
    def play(self, script: Script, sides: Mapping[str, Any], settings: SamplingSettings, *,
             use_judge: bool = True, on_turn: Callable[[PlayedTurn], None] | None = None,
             cancel: threading.Event | None = None, session_id: str | None = None
             ) -> PlayResult:
        """Play ``script`` into ``sides`` (name -> ChatSide), record every turn in a session
        (a new one unless ``session_id``), and keep the proposed marks for review."""
        if session_id is None:
            session_id = self.start_session(script, sides, settings)
        gym_turns: dict[str, Any] = dict(
            self.store.load_session(session_id).extra.get("teacher_turns") or {})

        def record(played: PlayedTurn) -> str:
            turn_id = self.store.append_turn(session_id, {
                "user": played.user,
                "replies": {name: {"text": text, "model": sides[name].title,
                                   "adapter": getattr(sides[name], "adapter_name", None),
                                   "template": sides[name].template.name}
                            for name, text in played.replies.items()},
            })
            info: dict[str, Any] = {"script": script.name, "script_turn": played.turn.id,
                                    "step": played.turn.step}
            if played.turn.gym:
                info["gym"] = dict(played.turn.gym)
            if played.checker is not None and played.checker.answer is not None:
                info["reference"] = played.checker.answer
            gym_turns[turn_id] = info
            self.store.update_meta(session_id, {"extra": {"teacher_turns": dict(gym_turns)}})
            return turn_id

        def after(played: PlayedTurn) -> None:
            with self._proposals_lock:
                self._save_proposals(session_id,
                                     [*self.proposals(session_id), *played.proposals])
            if on_turn is not None:
                on_turn(played)

        result = play_script(script, sides, settings,
                             judge=self.judge_fn() if use_judge else None, recorder=record,
                             on_turn=after, cancel=cancel)
        result.session_id = session_id
        return result

    def start_session(self, script: Script, sides: Mapping[str, Any],
                      settings: SamplingSettings) -> str:
        """The session a script is played into (the console makes it first, so its chat
        goes on in the same session once the script is played)."""
        return self.store.create_session({
            "title": f"script: {script.title}",
            "models": {name: s.title for name, s in sides.items()},
            "template": next(iter(sides.values())).template.name,
            "settings": settings,
            "extra": {"teacher_script": {"name": script.name, "goal": script.goal}},
        })

    # -- proposed marks ------------------------------------------------------------------------
    def _proposal_file(self, session_id: str) -> Path:
        from qconsole.store.ids import check_session_id

        check_session_id(session_id)
        return proposals_dir() / f"{session_id}.json"

    def proposals(self, session_id: str) -> list[ProposedMark]:
        path = self._proposal_file(session_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise QConsoleError(f"cannot read the teacher's proposals {path}: {exc}") from None
        return [ProposedMark.from_dict(d) for d in data if isinstance(d, dict)]

    def _save_proposals(self, session_id: str, proposals: Sequence[ProposedMark]) -> None:
        path = self._proposal_file(session_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".proposals-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump([p.to_dict() for p in proposals], fh, indent=1)
        os.replace(tmp, path)

    def _decide(self, session_id: str, index: int, status: str, **changes: Any) -> ProposedMark:
        with self._proposals_lock:  # a script still playing appends to the same file
            return self._decide_locked(session_id, index, status, **changes)

    def _decide_locked(self, session_id: str, index: int, status: str, **changes: Any
                       ) -> ProposedMark:
        props = self.proposals(session_id)
        if not 0 <= index < len(props):
            raise QConsoleError(f"no proposed mark {index + 1} in session {session_id} "
                                f"({len(props)} proposed)")
        p = props[index]
        if p.status != "pending":
            raise QConsoleError(f"proposed mark {index + 1} is already {p.status}")
        p = replace(p, status=status, **changes)
        if status != "dropped":
            if p.store_turn_id is None:
                raise QConsoleError("this proposal has no recorded turn to mark")
            self.store.set_mark(session_id, p.store_turn_id, p.side, p.kind, note=p.reason,
                                step=p.step)
        props[index] = p
        self._save_proposals(session_id, props)
        return p

    def accept_mark(self, session_id: str, index: int) -> ProposedMark:
        """Store proposed mark ``index`` (0-based) as it is."""
        return self._decide(session_id, index, "accepted")

    def edit_mark(self, session_id: str, index: int, *, kind: str | None = None,
                  step: str | None = None, reason: str | None = None) -> ProposedMark:
        """Store proposed mark ``index`` with the person's changes."""
        from qconsole.store.failure_kinds import failure_kind, route_step

        changes: dict[str, Any] = {}
        if kind is not None:
            changes["kind"] = failure_kind(kind).key
        if step is not None:
            changes["step"] = route_step(step).key if step else None
        if reason is not None:
            changes["reason"] = reason
        return self._decide(session_id, index, "edited", **changes)

    def drop_mark(self, session_id: str, index: int) -> ProposedMark:
        return self._decide(session_id, index, "dropped")

    # -- next question --------------------------------------------------------------------------
    def next_question(self, messages: Sequence[Message], *, goal: str = "",
                      failures: Sequence[str] = ()) -> str:
        text = self.teacher.ask(next_question_instruction(messages, goal, failures),
                                max_tokens=96)
        question = read_question(text)
        if not question:
            raise QConsoleError("the teacher gave no question; ask again or type one")
        return question

    def session_failures(self, session_id: str) -> list[str]:
        """The marks of a session and its pending proposals, in words, for next_question."""
        from qconsole.store.failure_kinds import kind_label

        session = self.store.load_session(session_id)
        out = []
        for t in session.turns:
            for side, mark in t.marks.items():
                out.append(f"{side} turn {t.index}: {kind_label(mark.kind)}"
                           + (f" ({mark.note})" if mark.note else ""))
        out.extend(p.line() for p in self.proposals(session_id) if p.status == "pending")
        return out

    def next_question_for(self, session_id: str, side: Side = "left") -> str:
        from qconsole.store.corrections import side_context

        session = self.store.load_session(session_id)
        goal = (session.extra.get("teacher_script") or {}).get("goal", "")
        messages = side_context(session, len(session.turns), side)
        return self.next_question(messages, goal=goal, failures=self.session_failures(session_id))

    # -- failure kind ---------------------------------------------------------------------------
    def propose_kind(self, question: str, reply: str, reference: str | None = None
                     ) -> str | None:
        """The teacher's name for a failure (None: its answer named no kind)."""
        return read_kind(self.teacher.ask(kind_instruction(question, reply, reference),
                                          max_tokens=16))

    # -- draft correction -----------------------------------------------------------------------
    def _turn(self, session_id: str, turn_id: str, side: Side):
        from qconsole.store.corrections import side_context

        session = self.store.load_session(session_id)
        turn = session.turn(turn_id)
        pos = list(session.turns).index(turn)
        reply = turn.reply(side)
        if reply is None:
            raise QConsoleError(f"turn {turn_id} has no {side} reply")
        info = (session.extra.get("teacher_turns") or {}).get(turn_id) or {}
        return session, turn, reply, side_context(session, pos, side), info

    def draft(self, session_id: str, turn_id: str, side: Side, *,
              reference: str | None = None) -> DraftCorrection:
        _, turn, reply, context, info = self._turn(session_id, turn_id, side)
        mark = turn.mark(side)
        return draft_correction(
            self.teacher, turn.user, reply.text, context=context,
            kind=mark.kind if mark else None, note=mark.note if mark else "",
            reference=reference if reference is not None else info.get("reference"),
        )

    def save_draft(self, session_id: str, turn_id: str, side: Side, draft: DraftCorrection,
                   final_text: str) -> dict:
        """Store the person's final text as the rewrite, with the draft's provenance."""
        if not final_text.strip():
            raise QConsoleError("the corrected reply is empty; nothing saved")
        provenance = draft.provenance(final_text)
        self.store.set_rewrite(session_id, turn_id, side, final_text.strip(),
                               provenance=provenance)
        return provenance

    # -- more like this -------------------------------------------------------------------------
    def variants(self, session_id: str, turn_id: str, side: Side, n: int = 10, *,
                 gym: str | None = None, gym_config: Mapping[str, Any] | None = None,
                 evals: Any = None) -> list[Variant]:
        """N candidates like the failure at (turn, side), filtered; dropped ones say why.
        A reasoning-gym turn (or ``gym``) uses the family's generator; a script turn with
        authored variants uses those (the teacher, when one is set, adds the rest up to N);
        else the teacher."""
        _, turn, reply, _, info = self._turn(session_id, turn_id, side)
        family = gym or (info.get("gym") or {}).get("family")
        if family:
            config = gym_config if gym_config is not None else (info.get("gym") or {}).get(
                "config")
            # more than n, so n survive the filter
            candidates = gym_variants(family, n + max(3, n // 2), config=config,
                                      avoid=turn.user)
            # the failing item itself in other words, last in the list (new numbers first)
            reworded = arithmetic_rewordings(turn.user, f"gym:{family}", n=min(3, n // 3))
        else:
            corrected = turn.rewrite(side)
            if corrected is None:
                raise QConsoleError(f"turn {turn_id} ({side}) has no corrected reply yet: "
                                    "rewrite it (or take the teacher's draft) first, so the "
                                    "variants have an answer to follow")
            mark = turn.mark(side)
            reworded = self._authored(info, corrected)[:n]  # the script's own, if it has any
            missing = n - len(reworded)
            candidates = []
            if missing > 0 and (self.has_teacher or not reworded):  # no teacher: it says how
                candidates = teacher_variants(self.teacher, turn.user, corrected,
                                              kind=mark.kind if mark else None, n=missing)
        filtered = filter_variants([*candidates, *reworded], original=turn.user, evals=evals)
        fresh = [v for v in filtered if v.kept and not v.source.endswith(REWORDED)]
        again = [v for v in filtered if v.kept and v.source.endswith(REWORDED)]
        kept = fresh[: n - len(again)] + again
        return kept + [v for v in filtered if not v.kept]

    @staticmethod
    def _authored(info: Mapping[str, Any], corrected: str) -> list[Variant]:
        """The played script turn's authored variants; none for a turn no script played, or
        one whose script is gone or changed."""
        from qconsole.teacher.scripts import find_script

        name, turn_id = info.get("script"), info.get("script_turn")
        if not isinstance(name, str) or not isinstance(turn_id, str):
            return []
        try:
            turn = find_script(name).turn(turn_id)
        except QConsoleError:
            return []
        return script_variants(name, turn, corrected)

    def store_variants(self, session_id: str, turn_id: str, side: Side,
                       variants: Sequence[Variant]) -> list[str]:
        """Store the variants the person accepted as synthetic corrections; their session ids."""
        session, turn, _, _, _ = self._turn(session_id, turn_id, side)
        mark = turn.mark(side)
        teacher_name = self._teacher.name if self._teacher is not None else None
        ids = []
        for v in variants:
            if not v.kept:
                continue
            provenance = {"source": v.source if v.source != "teacher" else "teacher-variant",
                          "of": f"{session_id}/{turn_id}/{side}",
                          "teacher": teacher_name if v.source == "teacher" else None,
                          "prompt_hash": v.prompt_hash,
                          "accepted": "edited" if v.edited else "unchanged"}
            sid = self.store.create_session({
                "title": f"[synthetic] {v.prompt[:60]}",
                "models": {side: session.models.get(side, "")},
                "template": session.template,
                "extra": {"synthetic": provenance},
            })
            tid = self.store.append_turn(sid, {"user": v.prompt, side: {"text": ""}})
            if mark is not None:
                self.store.set_mark(sid, tid, side, list(mark.kinds), note="synthetic variant",
                                    step=mark.step)
            self.store.set_rewrite(sid, tid, side, v.reply, provenance=provenance)
            ids.append(sid)
        return ids

    # -- judge ----------------------------------------------------------------------------------
    def judge_items(self, items: Sequence[Any]) -> JudgeReport:
        return judge_items(self.teacher, items)
