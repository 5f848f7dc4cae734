"""``qconsole review``: the review screen on its own, with no model loaded (opens fast)."""

from __future__ import annotations

from textual.app import App

from qconsole.config import load_state, save_state
from qconsole.store.store import SessionStore
from qconsole.ui.themes import DEFAULT_THEME, load_themes


class ReviewApp(App[None]):
    TITLE = "qconsole review"

    def __init__(self, store: SessionStore) -> None:
        super().__init__()
        self.store = store

    def on_mount(self) -> None:
        from qconsole.ui.screens.review import ReviewScreen

        themes, _ = load_themes()
        for theme in themes:
            self.register_theme(theme)
        saved = load_state().get("theme")
        if saved in self.available_themes:
            self.theme = saved
        elif DEFAULT_THEME in self.available_themes:
            self.theme = DEFAULT_THEME
        self.theme_changed_signal.subscribe(self, lambda t: save_state(theme=t.name))
        self.push_screen(ReviewScreen(self.store, standalone=True))
