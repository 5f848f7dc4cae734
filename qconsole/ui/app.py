"""The qconsole app: two live chats side by side, one input, keys for the whole loop.

The UI thread never waits: models load in a thread worker, each side streams in its own thread
worker into a :class:`StreamBuffer`, and a timer moves buffered text onto the screen. Workers
report back with messages (qconsole/ui/messages.py); handlers here own the state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, LoadingIndicator, Static

from qconsole.chat.side import ChatSide, TurnOutcome
from qconsole.config import Config, load_config, load_state, save_state
from qconsole.errors import QConsoleError
from qconsole.inference.llama_backend import GenerationStats
from qconsole.paths import sessions_dir
from qconsole.sampling import SamplingSettings
from qconsole.store.recorder import SessionRecorder, TurnHandle
from qconsole.store.store import SessionStore
from qconsole.ui.actions import ACTIONS, bindings, known_ids
from qconsole.ui.adapter_actions import AdapterActions
from qconsole.ui.chat_pane import ChatPane, TurnState
from qconsole.ui.jobs_pane import JobsPane
from qconsole.ui.loop_actions import LoopActions
from qconsole.ui.marking import MarkingController
from qconsole.ui.messages import ModelsLoaded, ReplyFinished
from qconsole.ui.stream_buffer import StreamBuffer
from qconsole.ui.themes import DEFAULT_THEME, load_themes

FLUSH_INTERVAL_S = 1 / 25
JOB_POLL_S = 0.5


class QConsoleApp(AdapterActions, LoopActions, App[None]):
    TITLE = "qconsole"
    BINDINGS = bindings(ACTIONS)
    CSS = """
    #panes { height: 1fr; }
    #loading { height: 3; }
    #prompt { margin: 0 1; }
    #status { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        model: str | None = None,
        sides_loader: Callable[[Config, str], tuple] | None = None,
    ) -> None:
        super().__init__()
        # How the two sides are built; tests of pure UI (snapshots) pass a scripted one.
        self.sides_loader = sides_loader
        self.config = config or load_config()
        if model:
            self.config.model = model
        self.settings: SamplingSettings = self.config.sampling
        self.template_choice = self.config.template
        self.sides: dict[str, ChatSide | None] = {"left": None, "right": None}
        self.buffers = {"left": StreamBuffer(), "right": StreamBuffer()}
        self.streaming: dict[str, int] = {}  # side -> turn index in flight
        self.cancel_event = threading.Event()
        self.user_turns: list[str] = []
        self.handles: list[TurnHandle] = []  # every turn sent this session, in order
        self.store: SessionStore | None = None
        self.recorder: SessionRecorder | None = None
        self._parked_right: ChatSide | None = None
        self.marking = MarkingController(
            self, lambda: self.recorder, self.handles, lambda side: self.query_one(f"#{side}")
        )
        self.last_speed: dict[str, float] = {}
        self.model_name = self.config.model

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield LoadingIndicator(id="loading")
        with Horizontal(id="panes"):
            yield ChatPane("left", id="left")
            yield ChatPane("right", id="right")
        self.jobs_pane = JobsPane(id="jobs")
        yield self.jobs_pane
        yield Input(placeholder="Loading the model…", id="prompt", disabled=True)
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        themes, warnings = load_themes()
        for theme in themes:
            self.register_theme(theme)
        saved = load_state().get("theme")
        names = set(self.available_themes)
        if saved in names:
            self.theme = saved
        elif DEFAULT_THEME in names:
            self.theme = DEFAULT_THEME
        self.theme_changed_signal.subscribe(self, lambda t: save_state(theme=t.name))
        for w in warnings:
            self.notify(w, severity="warning")
        keymap = {k: v for k, v in self.config.keys.items() if k in known_ids()}
        unknown = sorted(set(self.config.keys) - known_ids())
        if unknown:
            self.notify(f"unknown actions in [keys]: {', '.join(unknown)}", severity="warning")
        if keymap:
            self.set_keymap(keymap)
        self.sub_title = self.settings.summary()
        self._open_store()
        self.query_one("#left", ChatPane).set_title(f"base · {self.model_name}", "loading…")
        self.query_one("#right", ChatPane).set_title("adapter", "")
        self.set_status("loading the model in the background…")
        self.set_interval(FLUSH_INTERVAL_S, self._flush_streams)
        self.set_interval(JOB_POLL_S, self._poll_jobs)
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

    # -- status ----------------------------------------------------------------------------
    def set_status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def _status_line(self) -> str:
        left = self.sides["left"]
        parts = [left.model_name if left else self.model_name]
        if left:
            parts.append(f"template {left.template.name}")
        for side in ("left", "right"):
            speed = self.last_speed.get(side)
            if speed is not None:
                parts.append(f"{side} {speed:.1f} tok/s")
        if self.streaming:
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
        except QConsoleError as exc:
            self.post_message(ModelsLoaded(None, None, error=str(exc)))
        except Exception as exc:  # a bug, but the console must stay up to say so
            self.post_message(ModelsLoaded(None, None, error=f"{type(exc).__name__}: {exc}"))

    def on_models_loaded(self, msg: ModelsLoaded) -> None:
        self.query_one("#loading").display = False
        prompt = self.query_one("#prompt", Input)
        left_pane = self.query_one("#left", ChatPane)
        right_pane = self.query_one("#right", ChatPane)
        if msg.error:
            self.notify(msg.error, title="model failed to load", severity="error", timeout=30)
            left_pane.show_placeholder(f"The model could not be loaded:\n{msg.error}")
            left_pane.set_title("base · not loaded")
            self.set_status(f"error: {msg.error}")
            return
        self.sides["left"], self.sides["right"] = msg.left, msg.right
        assert msg.left is not None
        self.model_name = msg.left.model_name
        left_pane.set_title(f"base · {msg.left.title}", msg.left.template.name)
        if msg.right is not None:
            right_pane.clear_placeholder()
            right_pane.set_title(f"adapter · {msg.right.adapter_name}", msg.right.model_name)
        else:
            right_pane.set_title("adapter · none")
            right_pane.show_placeholder(msg.right_note or "No adapter.")
        prompt.disabled = False
        prompt.placeholder = "Type a message; Enter sends it to both sides"
        prompt.focus()
        self.set_status(self._status_line())

    # -- sending ---------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        if not text.strip():
            return
        if self.streaming:
            self.notify("still generating — Esc cancels", severity="warning")
            return
        if self.sides["left"] is None:
            self.notify("the model is not loaded yet", severity="warning")
            return
        event.input.value = ""
        self.send(text)

    def send(self, text: str, *, only: str | None = None) -> None:
        """Send ``text`` to both sides (or to side ``only``, to regenerate just that one)."""
        self.cancel_event = threading.Event()
        if only is None:
            self.user_turns.append(text)
        live = {n: s for n, s in self.sides.items() if s is not None and only in (None, n)}
        handle = self._record_turn(text, live)
        self.handles.append(handle)
        turn_no = len(self.handles) - 1
        for side_name, side in live.items():
            pane = self.query_one(f"#{side_name}", ChatPane)
            view = pane.add_turn(TurnState(user=text, turn_no=turn_no, streaming=True))
            index = pane.turns.index(view)
            self.streaming[side_name] = index
            self.run_worker(
                partial(self._generate, side, index, text, self.settings, self.cancel_event),
                thread=True,
                group=f"gen-{side_name}",
                exit_on_error=False,
            )
        self.set_status(self._status_line())

    def _record_turn(self, text: str, live: dict[str, ChatSide]) -> TurnHandle:
        sides = {
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
            return TurnHandle(text, sides=set(sides))
        if self.recorder.session_id is None and not self.handles:
            self.recorder.meta = self._session_meta()
        return self.recorder.start_turn(text, sides)

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
        except QConsoleError as exc:
            error = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.post_message(ReplyFinished(side.side, index, text, stats, note, error))

    def _flush_streams(self) -> None:
        for side_name, index in list(self.streaming.items()):
            text = self.buffers[side_name].drain()
            if text:
                self.query_one(f"#{side_name}", ChatPane).append_text(index, text)

    def on_reply_finished(self, msg: ReplyFinished) -> None:
        pane = self.query_one(f"#{msg.side}", ChatPane)
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
        if msg.error:
            self.notify(f"{msg.side}: {msg.error}", severity="error")
        self.streaming.pop(msg.side, None)
        self.set_status(self._status_line())

    # -- actions ---------------------------------------------------------------------------
    def action_cancel(self) -> None:
        if self.streaming:
            self.cancel_event.set()
        else:
            self.query_one("#prompt", Input).focus()

    def action_help(self) -> None:
        from qconsole.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen(dict(self.config.keys)))

    def action_settings(self) -> None:
        from qconsole.ui.screens.settings import SettingsScreen

        def apply(result: tuple[SamplingSettings, str] | None) -> None:
            if result is None:
                return
            self.settings, template = result
            self.sub_title = self.settings.summary()
            if template != self.template_choice:
                self.template_choice = template
                for side in self.sides.values():
                    if side is not None:
                        side.template = self._template_for(side)
                self.notify(f"prompt template: {template}")
            self.set_status(self._status_line())

        self.push_screen(SettingsScreen(self.settings, self.template_choice), apply)

    def _template_for(self, side: ChatSide):
        from qconsole.chat.loader import template_for_backend

        return template_for_backend(side.backend, self.template_choice)

    def action_regenerate(self) -> None:
        if self.streaming or not self.user_turns:
            return
        text = self._drop_last_turn()
        if text is not None:
            self.send(text)

    def action_edit_last(self) -> None:
        if self.streaming or not self.user_turns:
            return
        text = self._drop_last_turn()
        if text is not None:
            prompt = self.query_one("#prompt", Input)
            prompt.value = text
            prompt.focus()

    def regenerate_side(self, side_name: str) -> None:
        """Regenerate only this side's last reply; the earlier one stays saved."""
        side = self.sides[side_name]
        if self.streaming or not self.user_turns or side is None:
            return
        pane = self.query_one(f"#{side_name}", ChatPane)
        if side.drop_last_turn() is None or not pane.turns:
            return
        pane.turns.pop().remove()
        self.send(self.user_turns[-1], only=side_name)
        self.query_one("#prompt", Input).focus()

    def _drop_last_turn(self) -> str | None:
        text = self.user_turns.pop()
        for side_name in ("left", "right"):
            side = self.sides[side_name]
            pane = self.query_one(f"#{side_name}", ChatPane)
            if side is not None:
                side.drop_last_turn()
            if pane.turns:
                pane.turns.pop().remove()
        return text

    def action_new_session(self) -> None:
        if self.streaming:
            self.cancel_event.set()
        self.user_turns.clear()
        self.handles.clear()
        if self.recorder is not None:
            self.recorder.new_session(self._session_meta())
        for side_name in ("left", "right"):
            side = self.sides[side_name]
            if side is not None:
                side.clear()
            self.query_one(f"#{side_name}", ChatPane).clear_turns()
        self.notify("new session")

    def action_focus_turns(self) -> None:
        self.query_one("#left", ChatPane).focus()

    def on_chat_pane_action(self, msg: ChatPane.Action) -> None:
        if msg.action == "other_pane":
            other = "right" if msg.pane.side == "left" else "left"
            target = self.query_one(f"#{other}", ChatPane)
            target.selected = msg.pane.selected
            target.focus()
            return
        if msg.action == "regenerate_side":
            self.regenerate_side(msg.pane.side)
            return
        self.marking.handle(msg)

    def action_review(self) -> None:
        if self.store is None:
            self.notify("no session store: see the earlier error", severity="error")
            return
        self._open_review()

    @work(thread=True, exclusive=True, group="review", exit_on_error=False)
    def _open_review(self) -> None:
        """Off the UI thread: wait for pending writes so the live session shows up complete."""
        from qconsole.ui.screens.review import ReviewScreen

        if self.recorder is not None:
            self.recorder.flush(10.0)
        self.call_from_thread(lambda: self.push_screen(ReviewScreen(self.store)))

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        for spec in ACTIONS:
            if spec.id in {"quit", "help"}:
                continue
            yield SystemCommand(spec.description, spec.help, partial(self.run_action, spec.id))

    def on_unmount(self) -> None:
        self.cancel_event.set()
        # Jobs are children of this console: quitting stops them (a cancelled training leaves
        # nothing in the registry, a cancelled evaluation is stored as partial).
        for view in self.jobs_pane.running():
            view.handle.cancel(wait=False)
        if self.recorder is not None:
            self.recorder.close()

