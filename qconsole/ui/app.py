"""The qconsole app: two live chats side by side, one input, keys for the whole loop.

The app owns the chat's state (the two sides, the turns in flight, the session recorder) and
delegates the rest to plain controllers it gives what they need: marking
(:class:`MarkingController`), the right pane's adapter (:class:`AdapterSwitcher`) and the
loop's jobs, training and evaluation (:class:`LoopController`). Themes, keys, styles and error
reporting are shared with ``qconsole review`` through :class:`QConsoleBaseApp`.

The UI thread never waits: models load in a thread worker, each side streams in its own thread
worker into a :class:`StreamBuffer`, and a timer moves buffered text onto the screen. Workers
report back with messages (qconsole/ui/messages.py); handlers here own the state. The app keeps
its own widgets by reference, never by a query of whatever screen is on top: a stream that ends
while the review screen (which has its own ``#left``) is shown, or while the app is closing,
updates the console's panes or nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, LoadingIndicator, Static

from qconsole.chat.side import ChatSide, TurnOutcome
from qconsole.config import Config
from qconsole.errors import QConsoleError, describe
from qconsole.inference.backend import GenerationStats
from qconsole.paths import sessions_dir
from qconsole.prompts import PromptTemplate
from qconsole.sampling import SamplingSettings
from qconsole.sides import SIDES, Side
from qconsole.store.recorder import SessionRecorder, TurnHandle
from qconsole.store.store import SessionStore
from qconsole.ui import blind
from qconsole.ui.actions import ACTIONS, bindings
from qconsole.ui.adapter_switcher import AdapterSwitcher
from qconsole.ui.base_app import QConsoleBaseApp, stylesheets
from qconsole.ui.chat_pane import ChatPane, TurnState
from qconsole.ui.jobs_pane import JobsPane
from qconsole.ui.literal import literal
from qconsole.ui.loop_controller import LoopController
from qconsole.ui.messages import ModelsLoaded, ReplyFinished
from qconsole.ui.screens.marking import MarkingController
from qconsole.ui.stream_buffer import StreamBuffer
from qconsole.ui.teacher_flow import TeacherFlow
from qconsole.ui.teacher_pane import TeacherPane
from qconsole.ui.teacher_play import TeacherEvent

FLUSH_INTERVAL_S = 1 / 25
JOB_POLL_S = 0.5


class QConsoleApp(QConsoleBaseApp):
    TITLE = "qconsole"
    BINDINGS = bindings(ACTIONS)
    CSS_PATH = stylesheets("widgets", "dialogs", "screens", "console")

    def __init__(
        self,
        config: Config | None = None,
        *,
        model: str | None = None,
        sides_loader: Callable[[Config, str], tuple] | None = None,
        blind_seed: int | None = None,
    ) -> None:
        super().__init__(config)
        # blind A/B mode (ctrl+b); ``blind_seed`` makes its per-turn draws reproducible
        self.blind = blind.BlindMode(blind_seed)
        # How the two sides are built; tests of pure UI (snapshots) pass a scripted one.
        self.sides_loader = sides_loader
        if model:
            self.config.model = model
        self.settings: SamplingSettings = self.config.sampling
        self.template_choice = self.config.template
        self.sides: dict[Side, ChatSide | None] = {"left": None, "right": None}
        self.buffers = {"left": StreamBuffer(), "right": StreamBuffer()}
        self.streaming: dict[Side, int] = {}  # side -> turn index in flight
        # side -> the pane its reply in flight is drawn in (not its own one on a blind turn)
        self.stream_panes: dict[Side, ChatPane] = {}
        self.cancel_event = threading.Event()
        self.user_turns: list[str] = []
        self.handles: list[TurnHandle] = []  # every turn sent this session, in order
        self.store: SessionStore | None = None
        self.recorder: SessionRecorder | None = None
        self.last_speed: dict[str, float] = {}
        self.model_name = self.config.model
        # the console's widgets, made here and kept by reference (see the module docstring)
        self.panes = {side: ChatPane(side, id=side) for side in SIDES}
        self.jobs_pane = JobsPane(id="jobs")
        self.prompt = Input(placeholder="Loading the model…", id="prompt", disabled=True)
        self.status_bar = Static("", id="status")
        self.marking = MarkingController(self, lambda: self.recorder, self.handles,
                                         self.panes.__getitem__)
        self.adapters = AdapterSwitcher(
            self, config=self.config, sides=self.sides, pane=lambda: self.panes["right"],
            busy=lambda: bool(self.streaming), local_base=self.local_base,
            on_changed=self._right_side_changed, blind=lambda: self.blind.on,
        )
        self.loop = LoopController(
            self, sides=self.sides, jobs=lambda: self.jobs_pane, store=lambda: self.store,
            recorder=lambda: self.recorder, template=lambda: self.template_choice,
            local_base=self.local_base, adapters=self.adapters,
        )
        self.teacher_pane = TeacherPane(id="teacher")
        self.teacher = TeacherFlow(
            self, config=self.config, store=lambda: self.store, recorder=lambda: self.recorder,
            sides=self.sides, panes=self.panes.__getitem__, handles=self.handles,
            user_turns=self.user_turns, streaming=self.streaming, buffers=self.buffers,
            settings=lambda: self.settings, prompt=self.prompt, pane=self.teacher_pane,
        )

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield LoadingIndicator(id="loading")
        with Horizontal(id="panes"):
            yield self.panes["left"]
            yield self.panes["right"]
            yield self.teacher_pane
        yield self.jobs_pane
        yield self.prompt
        yield self.status_bar
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.settings.summary()
        self._open_store()
        self.panes["left"].set_title(f"base · {self.model_name}", "loading…")
        self.panes["right"].set_title("adapter", "")
        self.set_status("loading the model in the background…")
        self.set_interval(FLUSH_INTERVAL_S, self._flush_streams)
        self.set_interval(JOB_POLL_S, self._poll_jobs)
        self.teacher.on_mount()
        self.load_models()

    def _open_store(self) -> None:
        try:
            self.store = SessionStore(sessions_dir())
        except QConsoleError as exc:
            self.notify(f"sessions will not be saved: {exc}", severity="error", timeout=30)
            return
        for warning in self.store.take_warnings():
            self.notify(warning, severity="warning", timeout=15)
        self.recorder = SessionRecorder(self.store, on_error=self._store_error)

    def _store_error(self, message: str) -> None:
        """Called on the writer thread."""
        self.call_from_thread(self.notify, message, title="not saved", severity="error",
                              timeout=30)

    def _session_meta(self) -> dict:
        models, adapters = {}, {}
        for name, side in self.sides.items():
            if side is not None:
                models[name] = side.model_name
                adapters[name] = (
                    {"name": side.adapter_name, "fingerprint": side.adapter_fingerprint}
                    if side.adapter_name else None
                )
        left = self.sides["left"]
        return {
            "models": models,
            "adapters": adapters,
            "template": left.template.name if left else self.template_choice,
            "settings": self.settings.to_dict(),
        }

    def local_base(self) -> Path | None:
        """The local base GGUF the loop works on, or None (with a notification) when the model
        is not loaded yet or the left pane is a remote server."""
        left = self.sides["left"]
        if left is None or left.backend is None:
            self.notify("the model is not loaded yet", severity="warning")
            return None
        path = getattr(left.backend, "path", None)
        if path is None:
            self.notify("adapters, training and evaluation need a local model in the left pane "
                        "(the left pane is a remote server)", severity="warning")
        return path

    def _right_side_changed(self) -> None:
        if self.recorder is not None:
            self.recorder.update_meta(self._session_meta())
        if self.blind.on and self.sides["right"] is None:
            self.blind.on = False
            self.notify("blind mode off: there is no adapter in the right pane to compare")
        self._apply_titles()
        self.set_status(self._status_line())

    def _apply_titles(self) -> None:
        """Pane titles: base and adapter by name, or in blind mode only A and B."""
        left_pane, right_pane = self.panes["left"], self.panes["right"]
        left, right = self.sides["left"], self.sides["right"]
        if self.blind.on:
            left_pane.set_title("A", "blind: who is A is drawn per turn")
            right_pane.set_title("B", blind.KEYS_HINT)
            return
        if left is not None:
            left_pane.set_title(f"base · {left.title}", left.template.name)
        if right is not None:
            right_pane.set_title(f"adapter · {right.adapter_name}", right.model_name)
        else:
            right_pane.set_title("adapter · none")

    # -- status ----------------------------------------------------------------------------
    def set_status(self, text: str) -> None:
        if self.status_bar.is_attached:
            self.status_bar.update(literal(text))

    def _status_line(self) -> str:
        left = self.sides["left"]
        if self.blind.on:  # no names, no per-side speed
            return "  │  ".join(blind.status_parts(left.template.name if left else None,
                                                  bool(self.streaming)))
        parts = [left.model_name if left else self.model_name]
        if left:
            parts.append(f"template {left.template.name}")
        for side in SIDES:
            speed = self.last_speed.get(side)
            if speed is not None:
                parts.append(f"{side} {speed:.1f} tok/s")
        if self.streaming or self.teacher.playing:
            parts.append("generating… (Esc cancels)")
        return "  │  ".join(parts)

    # -- loading ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_models(self) -> None:
        from qconsole.chat.loader import load_sides

        try:
            loader = self.sides_loader or load_sides
            left, right, right_note = loader(self.config, self.template_choice)
            self.post_message(ModelsLoaded(left, right, right_note=right_note))
        except Exception as exc:  # a bug too: the console must stay up to say so
            self.post_message(ModelsLoaded(None, None, error=describe(exc)))

    def on_models_loaded(self, msg: ModelsLoaded) -> None:
        self.query_one("#loading").display = False
        left_pane, right_pane = self.panes["left"], self.panes["right"]
        if msg.error:
            self.notify(msg.error, title="model failed to load", severity="error", timeout=30)
            left_pane.show_placeholder(f"The model could not be loaded:\n{msg.error}")
            left_pane.set_title("base · not loaded")
            self.set_status(f"error: {msg.error}")
            return
        self.sides["left"], self.sides["right"] = msg.left, msg.right
        assert msg.left is not None
        self.model_name = msg.left.model_name
        if msg.right is not None:
            right_pane.clear_placeholder()
        else:
            right_pane.show_placeholder(msg.right_note or "No adapter.")
        self._apply_titles()
        self.prompt.disabled = False
        self.prompt.placeholder = "Type a message; Enter sends it to both sides"
        self.prompt.focus()
        self.set_status(self._status_line())

    # -- sending ---------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.prompt:
            return
        text = event.value
        if not text.strip():
            return
        if self.streaming or self.teacher.playing:
            self.notify("still generating — Esc cancels", severity="warning")
            return
        if self.sides["left"] is None:
            self.notify("the model is not loaded yet", severity="warning")
            return
        event.input.value = ""
        self.send(text)

    def send(self, text: str, *, only: Side | None = None) -> None:
        """Send ``text`` to both sides (or to side ``only``, to regenerate just that one)."""
        self.cancel_event = threading.Event()
        if only is None:
            self.user_turns.append(text)
        live = {n: s for n, s in self.sides.items() if s is not None and only in (None, n)}
        draw = None
        if self.blind.on and len(live) == 2:
            draw = self.blind.draw()
        elif self.blind.on:
            self.notify("blind mode needs both panes: this turn is shown with names",
                        severity="warning")
        handle = self._record_turn(text, live, draw)
        self.handles.append(handle)
        turn_no = len(self.handles) - 1
        for side_name, side in live.items():
            state = TurnState(user=text, turn_no=turn_no, streaming=True, side=side_name,
                              identity=blind.identity(side.adapter_name))
            pane = self.panes[side_name]
            if draw is not None:
                assignment = draw["assignment"]
                pane = self.panes[blind.pane_for(side_name, assignment)]
                state.blind = blind.label_for(side_name, assignment)
                state.held = True
            view = pane.add_turn(state)
            index = pane.turns.index(view)
            self.streaming[side_name] = index
            self.stream_panes[side_name] = pane
            self.run_worker(
                partial(self._generate, side, index, text, self.settings, self.cancel_event),
                thread=True,
                group=f"gen-{side_name}",
                exit_on_error=False,
            )
        self.set_status(self._status_line())

    def _record_turn(self, text: str, live: dict[Side, ChatSide],
                     draw: dict | None = None) -> TurnHandle:
        sides: dict[str, dict[str, Any]] = {
            name: {
                "model": side.model_name,
                "adapter": (
                    {"name": side.adapter_name, "fingerprint": side.adapter_fingerprint}
                    if side.adapter_name else None
                ),
                "template": side.template.name,
                "sampling": self.settings.to_dict(),
            }
            for name, side in live.items()
        }
        if self.recorder is None:
            from qconsole.store.model import BlindVote

            shown = BlindVote(draw["seed"], draw["assignment"]) if draw is not None else None
            return TurnHandle(text, sides=set(sides), blind=shown)
        if self.recorder.session_id is None and not self.handles:
            self.recorder.meta = self._session_meta()
        return self.recorder.start_turn(text, sides, blind=draw)

    def _generate(
        self,
        side: ChatSide,
        index: int,
        text: str,
        settings: SamplingSettings,
        cancel: threading.Event,
    ) -> None:
        """Worker thread: stream one side's reply into its buffer, then report."""
        stats = GenerationStats()
        note = error = None
        buf = self.buffers[side.side]
        try:
            plan = side.plan(text, settings)
            note = plan.note
            for piece in side.stream_turn(text, settings, cancel=cancel, stats=stats, plan=plan):
                buf.append(piece)
        except Exception as exc:  # shown on the turn; a bug must not lose the turn either
            error = describe(exc)
        self.post_message(ReplyFinished(side.side, index, text, stats, note, error))

    def _flush_streams(self) -> None:
        for side_name, index in list(self.streaming.items()):
            pane = self.stream_panes.get(side_name, self.panes[side_name])
            if not pane.is_attached:  # closing: the text stays buffered for on_reply_finished
                continue
            if index < len(pane.turns) and pane.turns[index].state.held:
                # blind: both replies appear together at the end
                continue
            text = self.buffers[side_name].drain()
            if text:
                pane.append_text(index, text)

    def on_reply_finished(self, msg: ReplyFinished) -> None:
        """The state and the store are updated whatever is on screen; the pane redraws only
        while it is attached (not while the app is closing)."""
        pane = self.stream_panes.get(msg.side, self.panes[msg.side])
        rest = self.buffers[msg.side].drain()
        view = pane.turns[msg.index]
        view.state.reply = (view.state.reply + rest).strip()
        view.state.streaming = False
        view.state.note = msg.note
        view.state.error = msg.error
        st = msg.stats
        if msg.error is None:
            view.state.stats = (
                f"{st.completion_tokens} tok · {st.tokens_per_s:.1f} tok/s · "
                f"ttft {1000 * (st.ttft_s or 0):.0f} ms · {st.finish_reason}"
            )
            self.last_speed[msg.side] = st.tokens_per_s
        if view.is_attached:
            view.refresh_state()
        side = self.sides[msg.side]
        if side is not None and msg.error is None:
            side.commit(TurnOutcome(msg.user, view.state.reply, st, msg.note))
        if self.recorder is not None:
            self.recorder.finish_side(self.handles[view.state.turn_no], msg.side, {
                "text": view.state.reply,
                "prompt_tokens": st.prompt_tokens,
                "completion_tokens": st.completion_tokens,
                "tokens_per_s": st.tokens_per_s,
                "ttft_s": st.ttft_s,
                "elapsed_s": st.elapsed_s,
                "finish_reason": st.finish_reason,
                "error": msg.error,
            })
        if msg.error and view.state.hidden:  # the error text may name the model or adapter
            self.notify(f"{view.state.blind}: the reply failed (the detail is shown after the "
                        "vote)", severity="error")
        elif msg.error:
            self.notify(f"{msg.side}: {msg.error}", severity="error")
        self.streaming.pop(msg.side, None)
        self.stream_panes.pop(msg.side, None)
        if not self.streaming:
            self._release_held(view.state.turn_no)
        self.set_status(self._status_line())

    def _release_held(self, turn_no: int) -> None:
        """Blind: both replies are done, so both appear now, together."""
        for view in blind.views_of(turn_no, self.panes.values()):
            if view.state.held:
                view.state.held = False
                if view.is_attached:
                    view.refresh_state()

    # -- actions ---------------------------------------------------------------------------
    def action_cancel(self) -> None:
        if self.teacher.cancel():  # a script playing stops after this reply
            return
        if self.streaming:
            self.cancel_event.set()
        else:
            self.prompt.focus()

    def action_help(self) -> None:
        from qconsole.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen(dict(self.config.keys)))

    @work(exclusive=True, group="settings", exit_on_error=False)
    async def action_settings(self) -> None:
        from qconsole.ui.screens.settings import SettingsScreen

        choice = await self.push_screen_wait(SettingsScreen(self.settings, self.template_choice))
        if choice is None:
            return
        self.settings = choice.sampling
        self.sub_title = self.settings.summary()
        if choice.template != self.template_choice:
            self.template_choice = choice.template
            for side in self.sides.values():
                if side is not None:
                    side.template = self._template_for(side)
            self.notify(f"prompt template: {choice.template}")
        self.set_status(self._status_line())

    def _template_for(self, side: ChatSide) -> PromptTemplate:
        """The chosen template for this side's model: from its GGUF header (llama.cpp), or
        from what a remote server reported (it has no header)."""
        from qconsole.prompts import template_for, template_for_model

        info = getattr(side.backend, "info", None)
        if info is not None:
            return template_for_model(info, self.template_choice)
        return template_for(self.template_choice,
                            chat_template=getattr(side.backend, "chat_template", None),
                            bos_token=getattr(side.backend, "bos_token", None),
                            eos_token=getattr(side.backend, "eos_token", None))

    def action_regenerate(self) -> None:
        if self.streaming or self.teacher.playing or not self.user_turns:
            return
        text = self._drop_last_turn()
        if text is not None:
            self.send(text)

    def action_edit_last(self) -> None:
        if self.streaming or self.teacher.playing or not self.user_turns:
            return
        text = self._drop_last_turn()
        if text is not None:
            self.prompt.value = text
            self.prompt.focus()

    def regenerate_side(self, side_name: Side) -> None:
        """Regenerate only this side's last reply; the earlier one stays saved."""
        side = self.sides[side_name]
        if self.streaming or not self.user_turns or side is None:
            return
        if self.blind.on or (self.handles and self.handles[-1].blind is not None):
            self.notify("a blind turn is regenerated whole: ctrl+r (with a new draw)",
                        severity="warning")
            return
        pane = self.panes[side_name]
        if side.drop_last_turn() is None or not pane.turns:
            return
        pane.turns.pop().remove()
        self.send(self.user_turns[-1], only=side_name)
        self.prompt.focus()

    def _drop_last_turn(self) -> str | None:
        text = self.user_turns.pop()
        for side_name in SIDES:
            side = self.sides[side_name]
            pane = self.panes[side_name]
            if side is not None:
                side.drop_last_turn()
            if pane.turns:
                pane.turns.pop().remove()
        return text

    def action_new_session(self) -> None:
        if self.teacher.playing:
            self.notify("a script is playing — Esc stops it first", severity="warning")
            return
        if self.streaming:
            self.cancel_event.set()
        self.user_turns.clear()
        self.handles.clear()
        if self.recorder is not None:
            self.recorder.new_session(self._session_meta())
        for side_name in SIDES:
            side = self.sides[side_name]
            if side is not None:
                side.clear()
            self.panes[side_name].clear_turns()
        self.teacher.forget()
        self.notify("new session")

    def action_focus_turns(self) -> None:
        """ctrl+t: to the turns, and from the turns back to the message box (a key typed in
        the turns is a marking key, so the way back must not need typing)."""
        if isinstance(self.focused, ChatPane):
            self.prompt.focus()
        else:
            self.panes["left"].enter_turns()

    def action_blind(self) -> None:
        """ctrl+b: blind A/B mode on or off (for the turns sent from now on)."""
        if not self.blind.on and (self.sides["left"] is None or self.sides["right"] is None):
            self.notify("blind mode compares two panes: load an adapter in the right pane "
                        "first (F3)", severity="warning")
            return
        self.blind.on = not self.blind.on
        self._apply_titles()
        self.set_status(self._status_line())
        if self.blind.on:
            self.notify("blind mode on: from the next message, A and B are drawn per turn and "
                        f"the names hidden until you vote ({blind.KEYS_HINT}, in the turns: "
                        "ctrl+t)", title="blind A/B", timeout=10)
        else:
            self.notify("blind mode off: the panes show base and adapter again",
                        title="blind A/B")

    def on_chat_pane_action(self, msg: ChatPane.Action) -> None:
        if msg.action == "regenerate_side":
            self.regenerate_side(msg.pane.side)
        elif msg.action in TeacherFlow.ACTIONS:
            if not self._teacher_names_sides():
                self.teacher.handle(msg)
        else:
            self.marking.handle(msg)

    # the loop's keys, delegated
    def action_pick_adapter(self) -> None:
        self.adapters.pick()

    def action_train(self) -> None:
        self.loop.train()

    def action_evaluate(self) -> None:
        self.loop.evaluate()

    def action_jobs(self) -> None:
        self.loop.toggle_pane()

    def action_cancel_job(self) -> None:
        self.loop.cancel_job()

    # the teacher's keys, delegated (qconsole/ui/teacher_flow.py)
    def action_teacher_pane(self) -> None:
        self.teacher.toggle_pane()

    def action_play_script(self) -> None:
        if not self._teacher_names_sides():
            self.teacher.play()

    def _teacher_names_sides(self) -> bool:
        """True (after one line saying so) while blind: the teacher's suggestions and drafts
        say which reply is the base's, so they wait until blind mode is off."""
        if not self.blind.on:
            return False
        self.notify("the teacher names base and adapter: leave blind mode (ctrl+b) first",
                    severity="warning")
        return True

    def action_next_question(self) -> None:
        self.teacher.next_question()

    def on_teacher_event(self, msg: TeacherEvent) -> None:
        self.teacher.on_event(msg)
        self.set_status(self._status_line())

    @work(exclusive=True, group="cycles", exit_on_error=False)
    async def action_cycles(self) -> None:
        """F12: the cycle ledger; a chosen cycle's adapter goes to the right pane."""
        from qconsole.ui.screens.cycles import CyclesScreen

        right = self.sides["right"]
        name = await self.push_screen_wait(CyclesScreen(right.adapter_name if right else None))
        if name and self.adapters.busy():
            self.notify("wait for the replies to finish (Esc cancels)", severity="warning")
        elif name:
            self.adapters.switch(name)

    def _poll_jobs(self) -> None:
        if self.jobs_pane.is_attached:
            self.loop.poll()

    @work(exclusive=True, group="review", exit_on_error=False)
    async def action_review(self) -> None:
        """Wait (off the UI thread) for pending writes, so the live session shows up whole."""
        import asyncio

        from qconsole.ui.screens.review import ReviewScreen

        if self.store is None:
            self.notify("no session store: see the earlier error", severity="error")
            return
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.flush, 10.0)
        await self.push_screen_wait(ReviewScreen(self.store))

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        for spec in ACTIONS:
            if spec.id in {"quit", "help"}:
                continue
            yield SystemCommand(spec.description, spec.help, partial(self.run_action, spec.id))

    def on_unmount(self) -> None:
        self.cancel_event.set()
        self.loop.cancel_all()
        self.teacher.close()
        if self.recorder is not None:
            self.recorder.close()
