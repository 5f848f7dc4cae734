"""Ctrl+Y: a diagnostic script played into both panes, streamed turn by turn as if typed.

The script is played by the core (:meth:`TeacherController.play`, the same call as ``qconsole
teacher play``) in a thread worker; what it sees as the two sides are the console's own
``ChatSide`` objects, each wrapped in :class:`PaneSide` so that its reply streams into the
console's pane through the very buffers and timer a typed message uses. The worker never
touches a widget: it posts :class:`TeacherEvent` messages (turn started, turn finished, turn
recorded with its suggested marks, script done) and the handlers here, on the UI thread, own
the panes and the list of turn handles. One message queue keeps them in order.

The script's session becomes the console's session: the recorder continues it, so a typed
message after the script, a mark (m) or a rewrite (w) of a played turn, and undo (u) all land
in the same session as the played turns and the accepted suggestions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message

from qconsole.chat.side import ChatSide, TurnOutcome
from qconsole.errors import describe
from qconsole.inference.backend import GenerationStats
from qconsole.sampling import SamplingSettings
from qconsole.sides import Side
from qconsole.store.recorder import TurnHandle
from qconsole.ui.chat_pane import TurnState
from qconsole.ui.stream_buffer import StreamBuffer


@dataclass
class TeacherEvent(Message):
    """From a teacher worker to the app (which hands it to the teacher flow)."""

    kind: str  # session | begin | end | played | done
    side: Side | None = None
    data: Any = None
    error: str | None = None


class PaneSide:
    """A ChatSide whose ``run_turn`` streams into its pane. Each turn has a buffer of its own
    (handed to the UI with the turn's "begin"), so text the worker streams for the next turn
    can never be drained into the view of the one before; "end" carries the whole reply."""

    def __init__(self, side: ChatSide, post: Callable[[TeacherEvent], None]) -> None:
        self._side = side
        self._post = post

    def __getattr__(self, name: str) -> Any:  # title, template, adapter_name, ...
        return getattr(self._side, name)

    def run_turn(self, user_text: str, settings: SamplingSettings,
                 cancel: threading.Event | None = None) -> TurnOutcome:
        side = self._side
        buffer = StreamBuffer()
        self._post(TeacherEvent("begin", side.side, (user_text, buffer)))
        stats = GenerationStats()
        pieces: list[str] = []
        plan = side.plan(user_text, settings)
        try:
            for piece in side.stream_turn(user_text, settings, cancel=cancel, stats=stats,
                                          plan=plan):
                pieces.append(piece)
                buffer.append(piece)
        except Exception as exc:
            self._post(TeacherEvent("end", side.side, (stats, "".join(pieces)),
                                    error=describe(exc)))
            raise
        outcome = TurnOutcome(user_text, "".join(pieces).strip(), stats, plan.note)
        side.commit(outcome)
        self._post(TeacherEvent("end", side.side, (stats, outcome.reply)))
        return outcome


class ScriptPlayer:
    """The UI-thread half of playing a script: panes, handles and the recorder."""

    def __init__(self, app: Any, *, panes: Callable[[Side], Any], handles: list[TurnHandle],
                 user_turns: list[str], streaming: dict, buffers: dict,
                 recorder: Callable[[], Any]) -> None:
        self.app = app
        self.panes = panes
        self.handles = handles
        self.user_turns = user_turns
        self.streaming = streaming
        self.buffers = buffers
        self.recorder = recorder
        self.cancel_event = threading.Event()
        self.playing = False
        self.session_id: str | None = None
        self._views: dict[Side, Any] = {}

    def start(self, controller: Any, script: Any, sides: dict[Side, ChatSide],
              settings: SamplingSettings) -> None:
        """Play ``script`` (the console's session was just reset) in a thread worker."""
        self.cancel_event = threading.Event()
        self.playing = True
        self.session_id = None
        self.app.run_worker(lambda: self._run(controller, script, sides, settings),
                            thread=True, group="teacher-play", exit_on_error=False)

    def cancel(self) -> bool:
        if not self.playing:
            return False
        self.cancel_event.set()
        return True

    def _run(self, controller: Any, script: Any, sides: dict[Side, ChatSide],
             settings: SamplingSettings) -> None:
        """Worker thread."""
        post = self.app.post_message
        try:
            sid = controller.start_session(script, sides, settings)
            post(TeacherEvent("session", data=sid))
            wrapped = {name: PaneSide(s, post) for name, s in sides.items()}
            result = controller.play(script, wrapped, settings,
                                     use_judge=controller.has_teacher,
                                     on_turn=lambda p: post(TeacherEvent("played", data=p)),
                                     cancel=self.cancel_event, session_id=sid)
            post(TeacherEvent("done", data=result))
        except Exception as exc:  # the console stays up and says what went wrong
            post(TeacherEvent("done", error=describe(exc)))

    # -- UI thread -------------------------------------------------------------------------
    def on_session(self, session_id: str) -> None:
        self.session_id = session_id
        recorder = self.recorder()
        if recorder is not None:
            recorder.continue_session(session_id)

    def on_begin(self, side: Side, user: str, buffer: StreamBuffer) -> None:
        self.buffers[side] = buffer  # the console's flush timer drains it into the view
        pane = self.panes(side)
        view = pane.add_turn(TurnState(user=user, turn_no=len(self.handles), streaming=True))
        self._views[side] = view
        self.streaming[side] = pane.turns.index(view)

    def on_end(self, side: Side, stats: GenerationStats, reply: str, error: str | None) -> None:
        view = self._views.pop(side, None)
        self.streaming.pop(side, None)
        if view is None:
            return
        self.buffers[side].drain()  # the whole reply came with the event
        view.state.reply = reply.strip()
        view.state.streaming = False
        view.state.error = error
        if error is None:
            view.state.stats = (f"{stats.completion_tokens} tok · {stats.tokens_per_s:.1f} "
                                f"tok/s · {stats.finish_reason} · script")
        if view.is_attached:
            view.refresh_state()

    def on_played(self, played: Any) -> TurnHandle:
        handle = TurnHandle(played.user, turn_id=played.store_turn_id,
                            session_id=self.session_id, sides=set(played.replies))
        self.handles.append(handle)
        self.user_turns.append(played.user)
        return handle

    def on_done(self) -> None:
        self.playing = False
        for side in list(self._views):
            self.on_end(side, GenerationStats(), "", "stopped")
