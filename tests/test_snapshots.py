"""SVG snapshots of the main screens in each bundled theme (UI only: a scripted model stands in
for llama.cpp so the pictures do not depend on sampling or speed). Update deliberately with
`pytest tests/test_snapshots.py --snapshot-update` and look at the SVGs."""

import pytest

from qconsole.config import Config
from qconsole.ui.app import QConsoleApp
from tests.scripted_backend import scripted_loader

THEMES = ["qconsole-dark", "qconsole-light", "qconsole-high-contrast"]
SIZE = (120, 34)


def make_app(theme: str, *, adapter: bool = True) -> QConsoleApp:
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


async def converse(pilot):
    while pilot.app.query_one("#prompt").disabled:
        await pilot.pause(0.05)
    await pilot.click("#prompt")
    for text in ["Tom has 3 apples, buys 5, gives 2 away. How many?", "What is honesty?"]:
        await pilot.press(*text)
        await pilot.press("enter")
        while not pilot.app.user_turns or pilot.app.streaming:
            await pilot.pause(0.05)
        await pilot.pause(0.1)


@pytest.mark.parametrize("theme", THEMES)
def test_compare_screen(snap_compare, theme):
    async def run_before(pilot):
        await converse(pilot)
        await pilot.press("ctrl+t", "up", "m", "r")  # mark the first base reply
        await pilot.pause(0.2)

    assert snap_compare(make_app(theme), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("theme", THEMES)
def test_no_adapter_and_help(snap_compare, theme):
    async def run_before(pilot):
        while pilot.app.query_one("#prompt").disabled:
            await pilot.pause(0.05)
        await pilot.press("f1")
        await pilot.pause(0.2)

    assert snap_compare(make_app(theme, adapter=False), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("theme", THEMES)
def test_mark_picker(snap_compare, theme):
    async def run_before(pilot):
        await converse(pilot)
        await pilot.press("ctrl+t", "m")
        await pilot.pause(0.2)

    assert snap_compare(make_app(theme), terminal_size=SIZE, run_before=run_before)
