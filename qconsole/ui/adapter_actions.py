"""The console's adapter actions: F3's picker and switching the right pane's adapter in place.

A mixin of :class:`qconsole.ui.app.QConsoleApp`, kept apart so the app module stays about the
chat; it uses the app's ``sides``, ``config``, ``recorder`` and ``notify``.
"""

from __future__ import annotations

from textual import work

from qconsole.chat.side import ChatSide
from qconsole.config import save_state
from qconsole.errors import QConsoleError
from qconsole.ui.chat_pane import ChatPane
from qconsole.ui.messages import AdapterReady


class AdapterActions:
    _parked_right: ChatSide | None

    def _local_base(self):
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

    def action_pick_adapter(self) -> None:
        right = self.sides["right"]
        if right is not None and getattr(right.backend, "adapter_mode", None) == "none":
            self.notify("the right pane is a remote server with adapter_mode = 'none': its "
                        "adapter is chosen in [remote.right] of the config", severity="warning")
            return
        base = self._local_base()
        if base is not None:
            self._open_adapter_picker(base)

    @work(thread=True, exclusive=True, group="adapters", exit_on_error=False)
    def _open_adapter_picker(self, base_path) -> None:
        from qconsole.adapters.registry import list_adapters

        try:
            entries = list_adapters(base_path)
        except QConsoleError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self._show_adapter_picker, entries)

    def _show_adapter_picker(self, entries: list) -> None:
        from qconsole.ui.screens.adapters import NONE_ID, AdapterPickerScreen

        right = self.sides["right"]

        def chosen(name: str | None) -> None:
            if name is None:
                return
            if self.streaming:
                self.notify("wait for the replies to finish (Esc cancels)", severity="warning")
                return
            self.switch_adapter(None if name == NONE_ID else name)

        self.push_screen(AdapterPickerScreen(entries, right.adapter_name if right else None),
                         chosen)

    @work(thread=True, exclusive=True, group="adapters", exit_on_error=False)
    def switch_adapter(self, name: str | None) -> None:
        """Apply an adapter to the right side (no model reload) or remove the right side."""
        from qconsole.chat.loader import attach_adapter

        left = self.sides["left"]
        # a right side parked by "none" keeps its llama.cpp context: switching back is cheap
        right = self.sides["right"]
        if right is None and self._parked_right is not None:
            right = self._parked_right
            right.clear()  # its history stopped when it was parked; start it fresh
        if left is None:
            return
        if name is None:
            self.post_message(AdapterReady(None, None))
            return
        try:
            side = attach_adapter(self.config, left, right, name)
            self.post_message(AdapterReady(side, None))
        except QConsoleError as exc:
            self.post_message(AdapterReady(right, str(exc)))
        except Exception as exc:
            self.post_message(AdapterReady(right, f"{type(exc).__name__}: {exc}"))

    def on_adapter_ready(self, msg: AdapterReady) -> None:
        from qconsole.chat.loader import NO_ADAPTER

        pane = self.query_one("#right", ChatPane)
        if msg.error:
            self.notify(msg.error, title="adapter not loaded", severity="error", timeout=20)
            return
        old = self.sides["right"]
        self.sides["right"] = msg.side
        if msg.side is None:
            self._parked_right = old or self._parked_right
            pane.set_title("adapter · none")
            pane.show_placeholder(NO_ADAPTER)
            save_state(adapter=None)
            self.notify("right pane: no adapter")
        else:
            pane.clear_placeholder()
            pane.set_title(f"adapter · {msg.side.adapter_name}", msg.side.model_name)
            save_state(adapter=msg.side.adapter_name)
            changed = old is None or old.adapter_name != msg.side.adapter_name
            if changed:
                self.notify(f"right pane now uses adapter {msg.side.adapter_name}")
        if self.recorder is not None:
            self.recorder.update_meta(self._session_meta())
        self.set_status(self._status_line())
