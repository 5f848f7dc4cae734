"""What every qconsole app shares, written once (harlequin's ``app_base.py`` idea): the console
and ``qconsole review`` both derive from :class:`QConsoleBaseApp`.

- styles: every ``.tcss`` of ``qconsole/ui/styles`` (package data, no CSS strings in modules);
- themes: the built-in and user theme files registered, the last choice restored and saved, a
  bad theme file reported once (one notification listing every skipped file);
- keys: the ``[keys]`` table of the config applied as Textual's keymap, unknown ids reported;
- text: every notification is literal text (no markup, control characters made visible), so
  "[keys]" or a file name with an escape in it shows as written;
- errors: one handler for a worker that raised, through :func:`qconsole.errors.describe`.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from textual.app import App
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from qconsole.config import Config, load_config, load_state, save_state
from qconsole.errors import describe
from qconsole.text_safety import visible_text
from qconsole.ui.actions import known_ids
from qconsole.ui.themes import DEFAULT_THEME, load_themes

STYLES = Path(__file__).parent / "styles"


def stylesheets(*names: str) -> list[str | PurePath]:
    """Paths of ``styles/<name>.tcss``, for ``CSS_PATH``."""
    return [STYLES / f"{n}.tcss" for n in names]


class QConsoleBaseApp(App[None]):
    CSS_PATH = stylesheets("widgets", "dialogs", "screens")

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config: Config = config or load_config()
        themes, self.theme_warnings = load_themes()
        for theme in themes:
            self.register_theme(theme)
        saved = load_state().get("theme")
        if saved in self.available_themes:
            self.theme = saved
        elif DEFAULT_THEME in self.available_themes:
            self.theme = DEFAULT_THEME
        keymap = {k: v for k, v in self.config.keys.items() if k in known_ids()}
        self.unknown_keys = sorted(set(self.config.keys) - known_ids())
        if keymap:
            self.set_keymap(keymap)

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, lambda t: save_state(theme=t.name))
        if self.theme_warnings:
            self.notify("\n".join(self.theme_warnings), title="themes", severity="warning",
                        timeout=15)
        if self.unknown_keys:
            self.notify(f"unknown actions in [keys]: {', '.join(self.unknown_keys)}",
                        severity="warning")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Literal text, always: Textual's ``Widget.notify`` passes ``markup=True`` on, so the
        argument is ignored here rather than trusted (qconsole's messages quote user and model
        text, and its own contain brackets such as "[keys]")."""
        super().notify(visible_text(str(message)), title=visible_text(title),
                       severity=severity, timeout=timeout, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported (workers run with exit_on_error=False:
        a bug in one job must not close the console)."""
        error = event.worker.error
        if event.state is WorkerState.ERROR and error is not None:
            self.notify(describe(error), title="error", severity="error", timeout=20)
