"""The teacher's keys in the console: F9 pane, Ctrl+Y play a script, Ctrl+O next question, and
on a selected turn a/e/x (accept, edit, drop the suggested mark), d (draft a correction) and
v (variants).

A plain object the app owns and delegates to (like MarkingController and LoopController). It
only dispatches: every teacher call is the core's :class:`TeacherController` (the same calls as
``qconsole teacher``), run off the UI thread (``asyncio.to_thread`` inside a worker, or the
script player's thread worker), and nothing the teacher proposes reaches the store except by
the person's key: accept, the saved draft, the accepted variants. Each flow is one
straight-line coroutine: gather (thread) -> dialog -> store (thread) -> redraw.

No teacher configured (or a broken ``[teacher]`` table): every teacher key says so in one line,
and the rest of the console works as before.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from qconsole.config import Config
from qconsole.errors import QConsoleError
from qconsole.sides import Side
from qconsole.store.failure_kinds import kind_label
from qconsole.store.recorder import TurnHandle
from qconsole.ui.chat_pane import ChatPane, TurnView, apply_stored
from qconsole.ui.screens.marking import selected_turn, side_label
from qconsole.ui.teacher_pane import SuggestionRow, TeacherPane
from qconsole.ui.teacher_play import ScriptPlayer, TeacherEvent

VARIANTS_N = 10


def read_teacher_spec(config: Config) -> tuple[Any, str | None]:
    """(spec or None, the one line to show when there is no usable teacher)."""
    from qconsole.teacher.config import NO_TEACHER, parse_teacher

    try:
        spec = parse_teacher(config.teacher)
    except QConsoleError as exc:
        return None, f"the teacher is not usable: {exc}"
    return spec, (None if spec is not None else NO_TEACHER)


def describe_spec(spec: Any) -> str:
    return f"teacher: {spec.spec} (local, loads on first use)" if spec.spec else \
        f"teacher: {spec.model or 'first model'} at {spec.url}"


class TeacherFlow:
    ACTIONS = ("accept_suggestion", "edit_suggestion", "drop_suggestion", "draft_correction",
               "variants")

    def __init__(self, app: Any, *, config: Config, store: Callable[[], Any],
                 recorder: Callable[[], Any], sides: dict, panes: Callable[[Side], ChatPane],
                 handles: list[TurnHandle], user_turns: list[str], streaming: dict,
                 buffers: dict, settings: Callable[[], Any], prompt: Any,
                 pane: TeacherPane) -> None:
        self.app = app
        self.config = config
        self.store = store
        self.recorder = recorder
        self.sides = sides
        self.panes = panes
        self.handles = handles
        self.streaming = streaming
        self.settings = settings
        self.prompt = prompt
        self.pane = pane
        self.spec, self.missing = read_teacher_spec(config)
        self._ctl: Any = None
        self.busy: str | None = None  # what the teacher is doing now (one call at a time)
        self.proposals: list[Any] = []  # the suggestions of the played session, file order
        self.goal = ""
        self.player = ScriptPlayer(app, panes=panes, handles=handles, user_turns=user_turns,
                                   streaming=streaming, buffers=buffers, recorder=recorder)

    # -- state -----------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.player.playing

    def controller(self) -> Any:
        from qconsole.teacher.controller import TeacherController

        if self._ctl is None:
            store = self.store()
            if store is None:
                raise QConsoleError("no session store: see the earlier error")
            self._ctl = TeacherController(store, spec=self.spec, aliases=self.config.models)
        return self._ctl

    def on_mount(self) -> None:
        for side in ("left", "right"):  # the selected turn's suggestion is highlighted
            self.app.watch(self.panes(side), "selected",
                           lambda _: self.refresh_suggestions(), init=False)
        if self.missing:
            self.pane.set_teacher(self.missing, missing=True)
        else:
            self.pane.set_teacher(describe_spec(self.spec))
        self.pane.set_suggestions([])

    def _ready(self) -> bool:
        """True when a teacher key may act now; otherwise says why in one line."""
        if self.missing:
            self.app.notify(self.missing, severity="warning", timeout=12)
            return False
        if self.busy:
            self.app.notify(f"the teacher is busy: {self.busy}", severity="warning")
            return False
        return True

    def _activity(self, text: str) -> None:
        self.busy = text or None
        self.pane.set_activity(text)

    async def _in_thread(self, call: str | Callable[..., Any], *args: Any,
                         activity: str = "") -> tuple[bool, Any]:
        """``call(*args)`` in a worker thread (a str: that method of the controller): (True,
        its result), or (False, None) once a QConsoleError has been shown as an error
        notification. ``activity``: the pane's line while it runs."""
        if activity:
            self._activity(activity)
        try:
            fn = getattr(self.controller(), call) if isinstance(call, str) else call
            return True, await asyncio.to_thread(fn, *args)
        except QConsoleError as exc:
            self.app.notify(str(exc), severity="error")
            return False, None
        finally:
            if activity:
                self._activity("")

    def forget(self) -> None:
        """A new session: the suggestions of the old one are no longer on screen."""
        if not self.playing:
            self.proposals = []
            self.goal = ""
            self.player.session_id = None
            self.refresh_suggestions()

    def close(self) -> None:
        self.player.cancel()
        if self._ctl is not None:
            self._ctl.close()

    # -- the pane --------------------------------------------------------------------------
    def toggle_pane(self) -> None:
        self.pane.show(not self.pane.shown)
        self.refresh_suggestions()

    def _turn_label(self, p: Any) -> str:
        no = next((i for i, h in enumerate(self.handles) if h.turn_id == p.store_turn_id), None)
        return f"turn {no + 1} ({p.turn})" if no is not None else p.turn

    def refresh_suggestions(self, focus: tuple[int, Side] | None = None) -> None:
        if focus is None:
            focus = self._selected_turn()
        rows = []
        for p in self.proposals:
            no = next((i for i, h in enumerate(self.handles) if h.turn_id == p.store_turn_id),
                      None)
            rows.append(SuggestionRow(side_label(p.side), self._turn_label(p),
                                      kind_label(p.kind), p.step,
                                      p.reason, p.by, p.status,
                                      current=focus == (no, p.side)))
        self.pane.set_suggestions(rows)

    def _selected_turn(self) -> tuple[int, Side] | None:
        focused = self.app.focused
        if isinstance(focused, ChatPane):
            view = focused.selected_view()
            if view is not None:
                return view.state.turn_no, focused.side
        return None

    # -- events from the workers -----------------------------------------------------------
    def on_event(self, msg: TeacherEvent) -> None:
        if msg.kind == "session":
            self.player.on_session(msg.data)
        elif msg.kind == "begin":
            assert msg.side is not None
            user, buffer = msg.data
            self.player.on_begin(msg.side, user, buffer)
        elif msg.kind == "end":
            assert msg.side is not None
            stats, reply = msg.data
            self.player.on_end(msg.side, stats, reply, msg.error)
        elif msg.kind == "played":
            self._played(msg.data)
        elif msg.kind == "done":
            self._play_done(msg.data, msg.error)

    def _played(self, played: Any) -> None:
        self.player.on_played(played)
        self.proposals.extend(played.proposals)
        n = len(played.proposals)
        self._activity(f"playing: turn {played.turn.id} done, "
                       f"{n} suggestion{'s' if n != 1 else ''}")
        self.refresh_suggestions()

    def _play_done(self, result: Any, error: str | None) -> None:
        self.player.on_done()
        self._activity("")
        if error:
            self.pane.set_activity(f"the script stopped: {error}")
            self.app.notify(f"the script stopped: {error}", severity="error", timeout=20)
            return
        pending = sum(p.status == "pending" for p in self.proposals)
        stopped = len(result.turns) < len(result.script.turns)
        self.pane.set_activity(f"{result.script.name}: {len(result.turns)} turn(s) played"
                               f"{' (stopped)' if stopped else ''}, {pending} suggestion(s) "
                               "to decide")
        self.app.notify(f"script played: {pending} suggested mark(s) in the teacher pane (F9); "
                        "Ctrl+T then a accepts, e edits, x drops")

    # -- Ctrl+Y ----------------------------------------------------------------------------
    def play(self) -> None:
        if not self._ready():
            return
        if self.streaming or self.playing:
            self.app.notify("still generating — Esc cancels", severity="warning")
            return
        if self.sides["left"] is None:
            self.app.notify("the model is not loaded yet", severity="warning")
            return
        self.app.run_worker(self._play_flow(), group="teacher-pick", exclusive=True,
                            exit_on_error=False)

    async def _play_flow(self) -> None:
        from qconsole.teacher.scripts import find_script
        from qconsole.ui.teacher_screens import ScriptPickScreen, script_entries

        entries = await asyncio.to_thread(script_entries)
        name = await self.app.push_screen_wait(ScriptPickScreen(entries))
        if name is None:
            return
        try:
            script = await asyncio.to_thread(find_script, name)
            ctl = self.controller()
        except QConsoleError as exc:
            self.app.notify(str(exc), severity="error")
            return
        if self.streaming or self.playing:
            return
        self.app.action_new_session()  # a script is a dialogue of its own
        live = {n: s for n, s in self.sides.items() if s is not None}
        self.goal = script.goal
        self.pane.show()
        self.pane.set_activity(f"playing {script.name} ({len(script.turns)} turns; Esc stops)")
        self.player.start(ctl, script, live, self.settings())

    def cancel(self) -> bool:
        return self.player.cancel()

    # -- Ctrl+O ----------------------------------------------------------------------------
    def next_question(self) -> None:
        if not self._ready():
            return
        if self.playing:
            self.app.notify("a script is playing — Esc stops it", severity="warning")
            return
        self.app.run_worker(self._next_question(), group="teacher", exit_on_error=False)

    async def _next_question(self) -> None:
        left = self.sides["left"]
        history = list(left.history) if left is not None else []
        ok, question = await self._in_thread(self._ask_next, history,
                                             activity="thinking of the next question…")
        if not ok:
            return
        self.prompt.value = question
        self.prompt.focus()
        self.pane.set_activity("the next question is in the message box: edit it or Enter")

    def _ask_next(self, history: list) -> str:
        """Worker thread: the conversation, the script's goal, the failures seen so far."""
        ctl = self.controller()
        failures: list[str] = []
        recorder = self.recorder()
        if recorder is not None:
            recorder.flush(10.0)
            if recorder.session_id is not None:
                failures = ctl.session_failures(recorder.session_id)
        return ctl.next_question(history, goal=self.goal, failures=failures)

    # -- the selected turn's keys ----------------------------------------------------------
    def handle(self, msg: ChatPane.Action) -> None:
        if not self._ready():
            return
        found = selected_turn(self.app, msg.pane, self.handles)
        if found is None:
            return
        view, handle = found
        if msg.action in ("accept_suggestion", "drop_suggestion"):
            flow = self._accept_or_drop(msg.action, msg.pane, view, handle)
        else:
            flows = {"edit_suggestion": self._edit, "draft_correction": self._draft,
                     "variants": self._variants}
            flow = flows[msg.action](msg.pane, view, handle)
        self.app.run_worker(flow, group="teacher", exit_on_error=False)

    def _suggestion(self, handle: TurnHandle, side: Side) -> int | None:
        for i, p in enumerate(self.proposals):
            if p.store_turn_id == handle.turn_id and p.side == side and p.status == "pending":
                return i
        self.app.notify(f"no pending suggestion on this {side_label(side)} reply "
                        "(the teacher pane, F9, lists them)", severity="warning")
        return None

    async def _decided(self, index: int, decide: Callable[[], Any], pane: ChatPane,
                       view: TurnView, handle: TurnHandle) -> None:
        ok, p = await self._in_thread(decide)
        if not ok:
            return
        self.proposals[index] = p
        if p.status != "dropped":
            await self._redraw(handle, view.state.turn_no)
        self.refresh_suggestions()
        label = kind_label(p.kind)
        self.app.notify({"accepted": f"mark stored: {label} — w rewrites it, d drafts it",
                         "edited": f"edited mark stored: {label}",
                         "dropped": "suggestion dropped"}[p.status])

    async def _redraw(self, handle: TurnHandle, turn_no: int) -> None:
        """Both panes' views of the turn, from the store (what is really saved)."""
        store = self.store()
        assert handle.session_id is not None and handle.turn_id is not None
        session = await asyncio.to_thread(store.load_session, handle.session_id)
        turn = session.turn(handle.turn_id)
        for name in ("left", "right"):
            v = self.panes(name).view_for(turn_no)
            if v is not None:
                apply_stored(v.state, turn, name)
                v.refresh_state()

    async def _accept_or_drop(self, action: str, pane: ChatPane, view: TurnView,
                              handle: TurnHandle) -> None:
        index = self._suggestion(handle, pane.side)
        if index is None:
            return
        sid = self.player.session_id
        ctl = self.controller()
        decide = ctl.accept_mark if action == "accept_suggestion" else ctl.drop_mark
        await self._decided(index, lambda: decide(sid, index), pane, view, handle)

    async def _edit(self, pane: ChatPane, view: TurnView, handle: TurnHandle) -> None:
        from qconsole.ui.screens.mark import MarkScreen

        index = self._suggestion(handle, pane.side)
        if index is None:
            return
        p = self.proposals[index]
        choice = await self.app.push_screen_wait(
            MarkScreen(side_label(pane.side), current=p.kind, note=p.reason, step=p.step))
        if choice is None:
            return
        sid = self.player.session_id
        await self._decided(index, lambda: self.controller().edit_mark(
            sid, index, kind=choice.kind, step=choice.step or "", reason=choice.note),
            pane, view, handle)

    async def _saved_ids(self, handle: TurnHandle) -> tuple[str, str] | None:
        """(session id, turn id) of a turn, once the recorder has written it."""
        recorder = self.recorder()
        if handle.turn_id is None and recorder is not None:
            await asyncio.to_thread(recorder.flush, 10.0)
        if handle.turn_id is None or handle.session_id is None:
            self.app.notify("this turn is not saved, so the teacher cannot see it",
                            severity="error")
            return None
        if recorder is not None:  # the reply itself is written after the turn
            await asyncio.to_thread(recorder.flush, 10.0)
        return handle.session_id, handle.turn_id

    async def _draft(self, pane: ChatPane, view: TurnView, handle: TurnHandle) -> None:
        from qconsole.ui.teacher_screens import DraftScreen

        ids = await self._saved_ids(handle)
        if ids is None:
            return
        sid, tid = ids
        self.pane.show()
        ok, draft = await self._in_thread(
            "draft", sid, tid, pane.side,
            activity=f"drafting a correction of the {side_label(pane.side)} reply…")
        if not ok:
            return
        text = await self.app.push_screen_wait(DraftScreen(
            view.state.user, view.state.reply, draft.corrected,
            first_wrong_step=draft.first_wrong_step, why=draft.why, teacher=draft.teacher,
            parsed=draft.parsed))
        if text is None:
            self.pane.set_activity("draft left unsaved")
            return
        ok, prov = await self._in_thread("save_draft", sid, tid, pane.side, draft, text)
        if not ok:
            return
        view.state.rewrite = text.strip()
        view.refresh_state()
        self.pane.set_activity(f"draft saved as the correction ({prov['accepted']}; prompt "
                               f"{prov['prompt_hash']})")
        self.app.notify(f"correction saved ({prov['accepted']} teacher draft)")

    async def _variants(self, pane: ChatPane, view: TurnView, handle: TurnHandle) -> None:
        from qconsole.ui.screens.variants import VariantsScreen

        ids = await self._saved_ids(handle)
        if ids is None:
            return
        sid, tid = ids
        self.pane.show()
        ok, made = await self._in_thread(self._make_variants, sid, tid, pane.side,
                                         activity=f"making {VARIANTS_N} variants of this failure…")
        if not ok:
            return
        variants, n_evals = made
        kept = sum(v.kept for v in variants)
        self.pane.set_activity(f"{kept} variant(s) kept, {len(variants) - kept} filtered "
                               f"(leakage checked against {n_evals} evaluation items)")
        accepted = await self.app.push_screen_wait(
            VariantsScreen(f"More like this ({side_label(pane.side)} reply)", variants))
        if not accepted:
            return
        ok, stored = await self._in_thread("store_variants", sid, tid, pane.side, accepted)
        if not ok:
            return
        self.pane.set_activity(f"stored {len(stored)} synthetic correction(s)")
        self.app.notify(f"stored {len(stored)} synthetic correction(s): F5 trains on them "
                        "(qconsole train --no-synthetic leaves them out)")

    def _make_variants(self, sid: str, tid: str, side: Side) -> tuple[list, int]:
        """Worker thread: candidates, filtered for near-duplicates and evaluation leakage."""
        from qconsole.teacher.overlap import eval_index, workspace_eval_items

        data_dir = os.environ.get("QCONSOLE_BENCHMARK_DATA") or None
        items, sources = workspace_eval_items(data_dir=data_dir)
        evals = eval_index(items, sources)
        return self.controller().variants(sid, tid, side, VARIANTS_N, evals=evals), len(items)
