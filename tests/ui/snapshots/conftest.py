"""SVG snapshots of the main screens in each bundled theme (UI only: a scripted model stands in
for llama.cpp so the pictures do not depend on sampling or speed). One module per feature; the
pictures live in __snapshots__/<module>/ beside it. Update deliberately with
`pytest tests/ui/snapshots --snapshot-update` and look at the SVGs."""

from __future__ import annotations

import functools

import pytest

from qconsole.config import Config
from qconsole.ui.app import QConsoleApp

THEMES = ["qconsole-dark", "qconsole-light", "qconsole-high-contrast"]
SIZE = (120, 34)


@pytest.fixture(params=THEMES)
def theme(request) -> str:
    """Every snapshot test runs once per bundled theme (ids as the theme names)."""
    return request.param


@pytest.fixture()
def snap(snap_compare):
    """``snap_compare`` at the one terminal size all snapshots share."""
    return functools.partial(snap_compare, terminal_size=SIZE)


@pytest.fixture()
def make_app(scripted_loader):
    """``make_app(theme, adapter=True)``: the console on a scripted model, in ``theme``."""

    def make(theme: str, *, adapter: bool = True) -> QConsoleApp:
        from qconsole.config import save_state

        save_state(theme=theme)
        return QConsoleApp(
            Config(),
            sides_loader=scripted_loader(
                ["3+2=5", "Honesty is a word. [bold]Honesty[/bold] \x1b[31mis a word."],
                ["3 + 5 = 8, and 8 - 2 = 6. The answer is 6.", "Honesty is telling the truth."]
                if adapter else None,
            ),
        )

    return make


async def _converse(pilot):
    while pilot.app.query_one("#prompt").disabled:
        await pilot.pause(0.05)
    await pilot.click("#prompt")
    for text in ["Tom has 3 apples, buys 5, gives 2 away. How many?", "What is honesty?"]:
        await pilot.press(*text)
        await pilot.press("enter")
        while not pilot.app.user_turns or pilot.app.streaming:
            await pilot.pause(0.05)
        await pilot.pause(0.1)
    # a steady cursor when the prompt is in the picture: it does not depend on the moment
    pilot.app.query_one("#prompt").cursor_blink = False


@pytest.fixture(scope="session")
def converse():
    """``await converse(pilot)``: two questions answered on both sides."""
    return _converse
