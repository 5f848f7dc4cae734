"""Ordered, off-thread writes of a live chat into the store.

Why a writer thread: each store write is fsynced (about 10 ms, more on a busy disk) and the
console's UI thread must never wait. Why one thread and a queue: writes of one session must
land in order (the turn before its reply, the reply before its mark), and the turn id the store
assigns is only known once the append has run — later writes read it from the handle, which is
safe because they run after it on the same thread.

A failed write is reported through ``on_error`` (the console shows it); it never kills the
thread, so one full-disk moment does not silently drop everything after it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from qconsole.errors import QConsoleError
from qconsole.store.ids import now_iso
from qconsole.store.model import BlindVote, Turn
from qconsole.store.store import Change, SessionStore
from qconsole.store.votes import assignment_for

_STOP = object()


@dataclass
class TurnHandle:
    """A turn as the console knows it; ``turn_id`` is filled in by the writer thread."""

    user: str
    turn_id: str | None = None
    session_id: str | None = None
    sides: set[str] = field(default_factory=set)
    blind: BlindVote | None = None  # shown blind: the assignment, and the vote once cast


class SessionRecorder:
    def __init__(
        self,
        store: SessionStore,
        *,
        on_error: Callable[[str], None] | None = None,
        session_id: str | None = None,
    ) -> None:
        self.store = store
        self.on_error = on_error or (lambda message: None)
        self.session_id = session_id
        self.meta: dict = {}
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="qconsole-store", daemon=True)
        self._thread.start()

    # -- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is _STOP:
                    return
                job()
            except QConsoleError as exc:
                self.on_error(str(exc))
            except Exception as exc:  # keep writing later jobs; report this one
                self.on_error(f"saving failed: {type(exc).__name__}: {exc}")
            finally:
                self._queue.task_done()

    def _submit(self, job: Callable[[], None]) -> None:
        self._queue.put(job)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is on disk (used at exit and in tests)."""
        done = threading.Event()
        self._submit(done.set)
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._queue.put(_STOP)
        self._thread.join(timeout)

    # -- sessions --------------------------------------------------------------------------
    def new_session(self, meta: dict | None = None) -> None:
        """The next turn starts a new session (created lazily: no empty sessions on disk)."""
        self.meta = dict(meta or {})
        self._submit(self._forget_session)

    def _forget_session(self) -> None:
        self.session_id = None

    def continue_session(self, session_id: str) -> None:
        """The next turns go into an existing session (one the teacher played a script
        into), in order after everything queued before."""

        def job() -> None:
            self.session_id = session_id

        self._submit(job)

    def update_meta(self, meta: dict) -> None:
        self.meta.update(meta)

        def job() -> None:
            if self.session_id is not None:
                self.store.update_meta(self.session_id, meta)

        self._submit(job)

    # -- turns -----------------------------------------------------------------------------
    def start_turn(
        self, user: str, sides: dict[str, dict], *, blind: dict | None = None
    ) -> TurnHandle:
        """Record the user's message and the reply metadata known before streaming; ``blind``
        (``{"seed", "assignment"}``) records that the turn is shown as A/B."""
        handle = TurnHandle(user, sides=set(sides))
        meta = dict(self.meta)
        turn: dict = {"user": user, **sides}
        if blind is not None:
            turn["blind"] = dict(blind)
            assignment = dict(blind.get("assignment") or assignment_for(blind["seed"]))
            turn["blind"]["assignment"] = assignment
            handle.blind = BlindVote(blind["seed"], assignment, shown_at=now_iso())

        def job() -> None:
            if self.session_id is None:
                self.session_id = self.store.create_session(meta)
            handle.session_id = self.session_id
            handle.turn_id = self.store.append_turn(self.session_id, turn)

        self._submit(job)
        return handle

    def _on_turn(self, handle: TurnHandle, action: Callable[[str, str], object]) -> None:
        def job() -> None:
            if handle.turn_id is None or handle.session_id is None:
                raise QConsoleError("this turn was not saved, so it cannot be changed")
            action(handle.session_id, handle.turn_id)

        self._submit(job)

    def finish_side(self, handle: TurnHandle, side: str, fields: dict) -> None:
        self._on_turn(handle, lambda s, t: self.store.update_side(s, t, side, fields))

    def mark(self, handle: TurnHandle, side: str, kind: str, note: str = "",
             step: str | None = None) -> None:
        self._on_turn(handle, lambda s, t: self.store.set_mark(s, t, side, kind, note, step))

    def clear_mark(self, handle: TurnHandle, side: str) -> None:
        self._on_turn(handle, lambda s, t: self.store.clear_mark(s, t, side))

    def rewrite(self, handle: TurnHandle, side: str, text: str | None) -> None:
        self._on_turn(handle, lambda s, t: self.store.set_rewrite(s, t, side, text))

    def prefer(self, handle: TurnHandle, side: str | None) -> None:
        self._on_turn(handle, lambda s, t: self.store.set_preference(s, t, side))

    def vote(self, handle: TurnHandle, vote: str | None) -> None:
        self._on_turn(handle, lambda s, t: self.store.set_vote(s, t, vote))

    def undo(self, on_done: Callable[[Change | None, Turn | None], None]) -> None:
        """Undo the session's last mark/rewrite/preference; ``on_done`` runs on the writer
        thread with the change and the turn as it now stands."""

        def job() -> None:
            if self.session_id is None:
                on_done(None, None)
                return
            change = self.store.undo_last(self.session_id)
            turn = None
            if change is not None:
                turn = self.store.load_session(self.session_id).turn(change.turn_id)
            on_done(change, turn)

        self._submit(job)
