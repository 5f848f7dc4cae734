"""Play a diagnostic script into both sides turn by turn, check every reply, propose marks.

Why proposals and not marks: the teacher's judgement never reaches the store without the
person's key press (issue 10, item 1). A failing check yields a :class:`ProposedMark` (failure
kind, route step, reason); the controller turns it into a store mark only when accepted.

The sides are ``ChatSide`` objects (the console's own), so a script's turns go through exactly
the prompt template, context budgeting and sampling of a typed message. ``on_turn`` is called
after each turn so a UI can show it as it comes (from its worker thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qconsole.evaluation.checkers import Checker
from qconsole.sampling import SamplingSettings
from qconsole.teacher.checks import Judge, Outcome, TurnContext, default_kind, run_check
from qconsole.teacher.scripts import Script, ScriptTurn


@dataclass(frozen=True)
class ProposedMark:
    """A mark the teacher suggests; ``status`` pending until the person accepts, edits or
    drops it."""

    turn: str  # the script turn id
    side: str
    kind: str
    step: str | None
    reason: str
    check: str
    by: str = "rule"  # rule | judge
    store_turn_id: str | None = None
    status: str = "pending"  # pending | accepted | edited | dropped

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProposedMark:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def line(self) -> str:
        step = f", step {self.step}" if self.step else ""
        return f"{self.side} {self.turn}: {self.kind}{step}: {self.reason} [{self.by}]"


@dataclass
class PlayedTurn:
    turn: ScriptTurn
    user: str
    replies: dict[str, str]
    outcomes: dict[str, list[tuple[str, Outcome]]]  # side -> [(check name, outcome)]
    proposals: list[ProposedMark]
    checker: Checker | None = None
    store_turn_id: str | None = None


@dataclass
class PlayResult:
    script: Script
    turns: list[PlayedTurn] = field(default_factory=list)
    session_id: str | None = None

    @property
    def proposals(self) -> list[ProposedMark]:
        return [p for t in self.turns for p in t.proposals]


def turn_prompt(turn: ScriptTurn) -> tuple[str, Checker | None]:
    """The text to send for a turn, and its reasoning-gym scorer for a gym turn."""
    if turn.say is not None:
        return turn.say, None
    from qconsole.evaluation.gym_suites import PRESETS, GymSuiteConfig, build_gym_suite

    g = dict(turn.gym or {})
    family = g.pop("family")
    index = int(g.pop("index", 0))
    data = {"preset": family} if family in PRESETS else {"family": family}
    cfg = dict(g.get("config") or {})
    if family in PRESETS:
        cfg = {**PRESETS[family].get("config", {}), **cfg}
    data.update(suite=f"script:{family}", size=index + 1, seed=int(g.get("seed", 1)), config=cfg)
    if g.get("instruction"):
        data["instruction"] = g["instruction"]
    item = build_gym_suite(GymSuiteConfig.from_dict(data, where=f"script turn {turn.id}"))
    chosen = item.items[index]
    return chosen.prompt, chosen.checker


def check_reply(turn: ScriptTurn, user: str, reply: str, side: str, earlier: Mapping[str, str],
                *, checker: Checker | None = None, judge: Judge | None = None
                ) -> tuple[list[tuple[str, Outcome]], list[ProposedMark]]:
    ctx = TurnContext(user, reply, earlier, checker, judge)
    outcomes: list[tuple[str, Outcome]] = []
    proposals: list[ProposedMark] = []
    for spec in turn.checks:
        out = run_check(spec.check, spec.options, ctx)
        outcomes.append((spec.check, out))
        if out.passed is False:
            proposals.append(ProposedMark(
                turn=turn.id, side=side, kind=spec.kind or default_kind(spec.check),
                step=turn.step, reason=spec.reason or out.reason, check=spec.check, by=out.by,
            ))
    return outcomes, _one_per_side(proposals)


def _one_per_side(proposals: list[ProposedMark]) -> list[ProposedMark]:
    """A store mark is one per reply: keep the first failing check's proposal, and name the
    other failures in its reason."""
    if len(proposals) <= 1:
        return proposals
    first, rest = proposals[0], proposals[1:]
    extra = "; also " + "; ".join(f"{p.kind}: {p.reason}" for p in rest)
    from dataclasses import replace

    return [replace(first, reason=first.reason + extra)]


def play_script(
    script: Script,
    sides: Mapping[str, Any],  # side name -> ChatSide
    settings: SamplingSettings,
    *,
    judge: Judge | None = None,
    recorder: Callable[[PlayedTurn], str | None] | None = None,
    on_turn: Callable[[PlayedTurn], None] | None = None,
    cancel: threading.Event | None = None,
) -> PlayResult:
    """Send each turn to every side, check the replies, propose marks.

    ``recorder`` stores a played turn (returns its store turn id); ``on_turn`` is told after."""
    result = PlayResult(script)
    earlier: dict[str, dict[str, str]] = {name: {} for name in sides}
    for turn in script.turns:
        if cancel is not None and cancel.is_set():
            break
        user, checker = turn_prompt(turn)
        replies: dict[str, str] = {}
        outcomes: dict[str, list[tuple[str, Outcome]]] = {}
        proposals: list[ProposedMark] = []
        for name, side in sides.items():
            reply = side.run_turn(user, settings, cancel).reply
            replies[name] = reply
            outs, props = check_reply(turn, user, reply, name, earlier[name], checker=checker,
                                      judge=judge)
            outcomes[name] = outs
            proposals.extend(props)
            earlier[name][turn.id] = reply
        played = PlayedTurn(turn, user, replies, outcomes, proposals, checker)
        if recorder is not None:
            played.store_turn_id = recorder(played)
            played.proposals = [_with_turn(p, played.store_turn_id) for p in played.proposals]
        result.turns.append(played)
        if on_turn is not None:
            on_turn(played)
    return result


def _with_turn(p: ProposedMark, turn_id: str | None) -> ProposedMark:
    from dataclasses import replace

    return replace(p, store_turn_id=turn_id)
