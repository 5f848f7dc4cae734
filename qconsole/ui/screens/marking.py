"""Marking, rewriting, preferring, blind votes and undoing on a selected turn: one piece of code
used by the live console and by the review screen alike.

The controller only dispatches: the store writes go through a :class:`SessionRecorder` (off the
UI thread, in order), and the panes are updated optimistically; undo reloads the turn from the
store and redraws it. Mark and rewrite are straight-line flows (a worker awaiting its dialog
with ``push_screen_wait``). It is the one place a marked turn goes: the console and the review
screen both hand their panes' actions here.

The side a mark or rewrite is for is the view's (``TurnState.side``), not the pane's: a turn
shown blind has A's reply in the left pane whichever side gave it (qconsole/ui/blind.py).
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from qconsole.sides import SIDES, Side, other_side
from qconsole.store.failure_kinds import kind_label
from qconsole.store.recorder import SessionRecorder, TurnHandle
from qconsole.ui import blind
from qconsole.ui.chat_pane import ChatPane, TurnView, apply_stored


def side_label(side: Side) -> str:
    return "base" if side == "left" else "adapter"


def selected_turn(app: App, pane: ChatPane, handles: list[TurnHandle]
                  ) -> tuple[TurnView, TurnHandle] | None:
    """The pane's selected, finished turn and its handle; None after saying in one line why
    there is none (the marking keys and the teacher's keys on a turn share this)."""
    view = pane.selected_view()
    if view is None:
        app.notify("no turn selected: ↑/↓ pick one", severity="warning")
        return None
    if view.state.streaming:
        app.notify("wait for the reply to finish (Esc cancels)", severity="warning")
        return None
    no = view.state.turn_no
    handle = handles[no] if no < len(handles) else None
    if handle is None:
        app.notify("this turn is not saved, so it cannot be marked", severity="error")
        return None
    return view, handle


class MarkingController:
    ACTIONS = ("mark", "rewrite", "prefer", "undo", *blind.VOTE_ACTIONS)

    def __init__(
        self,
        app: App,
        recorder: Callable[[], SessionRecorder | None],
        handles: list[TurnHandle],
        pane: Callable[[Side], ChatPane],
    ) -> None:
        self.app = app
        self._recorder = recorder
        self.handles = handles
        self.pane = pane

    @property
    def recorder(self) -> SessionRecorder | None:
        return self._recorder()

    def handle(self, msg: ChatPane.Action) -> None:
        if msg.action == "other_pane":
            other = self.pane("right" if msg.pane.side == "left" else "left")
            other.selected = msg.pane.selected
            other.focus()
            return
        if msg.action not in self.ACTIONS:
            self.app.notify(f"{msg.action.replace('_', ' ')} is not available here",
                            severity="warning")
            return
        found = selected_turn(self.app, msg.pane, self.handles)
        if found is None:
            return
        view, handle = found
        no = view.state.turn_no
        if self.recorder is None:
            self.app.notify("this turn is not saved, so it cannot be marked", severity="error")
            return
        if msg.action in ("mark", "rewrite"):  # a dialog first: a flow of its own
            flow = self._mark if msg.action == "mark" else self._rewrite
            self.app.run_worker(flow(msg.pane, view, handle), group="marking", exclusive=True,
                                exit_on_error=False)
        elif msg.action in blind.VOTE_ACTIONS:
            views = blind.views_of(no, (self.pane(s) for s in SIDES))
            blind.vote(self.app, self.recorder, handle, views, blind.VOTE_ACTIONS[msg.action])
        else:
            getattr(self, f"_{msg.action}")(msg.pane, view, handle)

    def _view(self, side: Side, turn_no: int) -> TurnView | None:
        """The view of ``side``'s reply to turn ``turn_no``, in whichever pane shows it."""
        for name in SIDES:
            v = self.pane(name).view_for(turn_no)
            if v is not None and v.state.side == side:
                return v
        return None

    async def _mark(self, pane: ChatPane, view: TurnView, handle: TurnHandle) -> None:
        from qconsole.ui.screens.mark import MarkScreen

        side = view.state.side or pane.side
        choice = await self.app.push_screen_wait(MarkScreen(view.state.who()))
        if choice is None or self.recorder is None:
            return
        self.recorder.mark(handle, side, choice.kind, choice.note, choice.step)
        view.state.marks = [kind_label(choice.kind)]
        if choice.step:
            view.state.marks.append(f"step: {choice.step}")
        if choice.note:
            view.state.marks.append(f"“{choice.note}”")
        view.refresh_state()
        peer = self._view(other_side(side), view.state.turn_no)
        if peer is not None:  # marked turns show in both panes
            peer.state.peer_marked = f"{view.state.who()} reply marked: " + kind_label(
                choice.kind
            )
            peer.refresh_state()
        self.app.notify(f"marked: {kind_label(choice.kind)} — w rewrites it")

    async def _rewrite(self, pane: ChatPane, view: TurnView, handle: TurnHandle) -> None:
        from qconsole.ui.screens.rewrite import RewriteScreen

        seed = view.state.rewrite if view.state.rewrite is not None else view.state.reply
        text = await self.app.push_screen_wait(
            RewriteScreen(view.state.user, view.state.reply, seed)
        )
        if text is None or self.recorder is None:
            return
        self.recorder.rewrite(handle, view.state.side or pane.side, text)
        view.state.rewrite = text
        view.refresh_state()
        self.app.notify("rewrite saved beside the original")

    def _prefer(self, pane: ChatPane, view: TurnView, handle: TurnHandle) -> None:
        assert self.recorder is not None
        if handle.blind is not None:
            self.app.notify(f"a turn shown blind takes a vote: {blind.KEYS_HINT} "
                            "(p is the sighted preference)", severity="warning")
            return
        side = view.state.side or pane.side
        new = None if view.state.preferred else side
        self.recorder.prefer(handle, new)
        for name in SIDES:
            other = self._view(name, view.state.turn_no)
            if other is not None:
                other.state.preferred = new == name
                other.refresh_state()

    def _undo(self, pane: ChatPane, view: TurnView, handle: TurnHandle) -> None:
        assert self.recorder is not None

        def done(change, turn) -> None:  # runs on the writer thread
            self.app.call_from_thread(self._after_undo, change, turn)

        self.recorder.undo(done)

    def _after_undo(self, change, turn) -> None:
        if change is None or turn is None:
            self.app.notify("nothing to undo")
            return
        no = next((i for i, h in enumerate(self.handles) if h.turn_id == turn.turn_id), None)
        if no is not None:
            blind.undo_shown(self.handles[no], turn)
            for name in SIDES:
                v = self._view(name, no)
                if v is not None:
                    apply_stored(v.state, turn, name)
                    v.refresh_state()
        what = "blind vote (the names stay shown)" if change.op == "blind_vote" else change.op
        self.app.notify(f"undone: {what}")
