"""F3's picker and switching the right pane's adapter in place (no model reload).

A plain object the console owns and delegates to, like :class:`MarkingController`: it is given
what it reads (the sides, the config, the right pane, whether replies are streaming, the local
base) and tells the console through ``on_changed`` when the right side changed. The flows are
straight-line coroutines run as workers: list (thread) -> picker (``push_screen_wait``) ->
attach (thread) -> apply (UI thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual.app import App

from qconsole.chat.side import ChatSide
from qconsole.config import Config, save_state
from qconsole.errors import describe
from qconsole.sides import Side
from qconsole.ui.chat_pane import ChatPane


class AdapterSwitcher:
    def __init__(
        self,
        app: App,
        *,
        config: Config,
        sides: dict[Side, ChatSide | None],
        pane: Callable[[], ChatPane],
        busy: Callable[[], bool],
        local_base: Callable[[], Path | None],
        on_changed: Callable[[], None],
        blind: Callable[[], bool] = lambda: False,
    ) -> None:
        self.app = app
        self.config = config
        self.sides = sides  # the console's own dict: the switcher replaces sides["right"]
        self.pane = pane
        self.busy = busy
        self.local_base = local_base
        self.on_changed = on_changed
        self.blind = blind  # blind A/B mode: a notice must not tie the adapter to a pane
        # a right side removed by "none" keeps its llama.cpp context: switching back is cheap
        self.parked: ChatSide | None = None

    def pick(self) -> None:
        """F3: list the adapters for this base, let the person choose, apply the choice."""
        right = self.sides["right"]
        if right is not None and getattr(right.backend, "adapter_mode", None) == "none":
            self.app.notify("the right pane is a remote server with adapter_mode = 'none': its "
                            "adapter is chosen in [remote.right] of the config",
                            severity="warning")
            return
        base = self.local_base()
        if base is not None:
            self.app.run_worker(self._pick(base), group="adapters", exclusive=True,
                                exit_on_error=False)

    async def _pick(self, base: Path) -> None:
        from qconsole.adapters.registry import list_adapters
        from qconsole.ui.screens.adapters import NONE_ID, AdapterPickerScreen

        entries = await asyncio.to_thread(list_adapters, base)
        right = self.sides["right"]
        name = await self.app.push_screen_wait(
            AdapterPickerScreen(entries, right.adapter_name if right else None)
        )
        if name is None:
            return
        if self.busy():
            self.app.notify("wait for the replies to finish (Esc cancels)", severity="warning")
            return
        await self._switch(None if name == NONE_ID else name)

    def switch(self, name: str | None) -> None:
        """Apply adapter ``name`` to the right side, or remove the right side (None)."""
        self.app.run_worker(self._switch(name), group="adapter-switch", exclusive=True,
                            exit_on_error=False)

    async def _switch(self, name: str | None) -> None:
        from qconsole.chat.loader import attach_adapter

        left, right = self.sides["left"], self.sides["right"]
        if left is None:
            return
        if right is None and self.parked is not None:
            right = self.parked
            right.clear()  # its history stopped when it was parked; start it fresh
        if name is None:
            self._apply(None)
            return
        try:
            side = await asyncio.to_thread(attach_adapter, self.config, left, right, name)
        except Exception as exc:  # the right pane keeps what it had
            self.app.notify(describe(exc), title="adapter not loaded", severity="error",
                            timeout=20)
            return
        self._apply(side)

    def _apply(self, side: ChatSide | None) -> None:
        from qconsole.chat.loader import NO_ADAPTER

        pane = self.pane()
        old = self.sides["right"]
        self.sides["right"] = side
        if side is None:
            self.parked = old or self.parked
            pane.set_title("adapter · none")
            pane.show_placeholder(NO_ADAPTER)
            save_state(adapter=None)
            self.app.notify("right pane: no adapter")
        else:
            pane.clear_placeholder()
            pane.set_title(f"adapter · {side.adapter_name}", side.model_name)
            save_state(adapter=side.adapter_name)
            if (old is None or old.adapter_name != side.adapter_name) and self.blind():
                self.app.notify(f"adapter {side.adapter_name} loaded; blind mode: it answers "
                                "as A or B, drawn per turn")
            elif old is None or old.adapter_name != side.adapter_name:
                self.app.notify(f"right pane now uses adapter {side.adapter_name}")
        self.on_changed()
