"""``qconsole review``: the review screen on its own, with no model loaded (opens fast).

Themes, keys, styles and error reporting come from :class:`QConsoleBaseApp`, as in the console.
"""

from __future__ import annotations

from qconsole.config import Config
from qconsole.store.store import SessionStore
from qconsole.ui.base_app import QConsoleBaseApp


class ReviewApp(QConsoleBaseApp):
    TITLE = "qconsole review"

    def __init__(self, store: SessionStore, config: Config | None = None) -> None:
        super().__init__(config)
        self.store = store

    def on_mount(self) -> None:
        from qconsole.ui.screens.review import ReviewScreen

        self.push_screen(ReviewScreen(self.store, standalone=True))
