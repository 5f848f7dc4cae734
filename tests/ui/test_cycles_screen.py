"""F12's cycles screen on a real ledger file: per cycle and topic the accuracy with its
interval, the error rate per failure kind, and Enter hands back the cycle's adapter (the
console puts it in the right pane through its AdapterSwitcher)."""

from __future__ import annotations

from textual.app import App

from qconsole.ui.actions import ACTIONS
from qconsole.ui.screens.cycles import CyclesScreen


class Host(App):
    def __init__(self, in_use):
        super().__init__()
        self.in_use = in_use
        self.chosen = "unset"

    def on_mount(self) -> None:
        self.push_screen(CyclesScreen(self.in_use), self._done)

    def _done(self, name) -> None:
        self.chosen = name


def _ledger(isolated_workspace, ledger_with_cycles, held_out_items):
    cycles = [
        {"topics": ["sums"], "corrections": 4,
         "items": held_out_items("sums", 10, 2, 8, 1) + held_out_items("logic", 10, 3, 4)},
        {"topics": ["logic"], "corrections": 3,
         "items": held_out_items("sums", 10, 2, 7) + held_out_items("logic", 10, 3, 9)},
    ]
    ledger_with_cycles(isolated_workspace, isolated_workspace / "evals", cycles,
                       plan_name="ui", topics={"sums": "reasoning_step", "logic": "judgement"})


async def test_the_screen_shows_each_cycle_and_rolls_back_to_an_earlier_adapter(
        isolated_workspace, ledger_with_cycles, held_out_items, wait_for):
    _ledger(isolated_workspace, ledger_with_cycles, held_out_items)
    app = Host("ui-c2")
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CyclesScreen)
                       and app.screen.view is not None)
        await pilot.pause(0.2)
        text = app.export_screenshot().replace("&#160;", " ")
        assert "plan ui · 2 cycle(s) · right pane: ui-c2" in text
        assert "ACC 80.0%" in text  # (0.7 + 0.9) / 2
        assert "BWT -10.0 pp" in text and "FWT +10.0 pp" in text
        assert "80.0% [49.0, 94.3]" in text  # cycle 1 sums 8/10, Wilson interval
        assert "format" in text and "1/20 = 5.0%" in text
        await pilot.press("enter")  # the first row: cycle 1
        await wait_for(pilot, lambda: app.chosen != "unset")
    assert app.chosen == "ui-c1"


async def test_without_a_ledger_the_screen_says_how_to_make_one(wait_for):
    app = Host(None)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CyclesScreen))
        await pilot.pause(0.3)
        assert "qconsole cycle" in app.export_screenshot().replace("&#160;", " ")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.chosen != "unset")
    assert app.chosen is None


def test_f12_opens_the_cycles_screen_and_is_in_the_palette():
    spec = next(s for s in ACTIONS if s.id == "cycles")
    assert spec.key == "f12"
    keys = [k for s in ACTIONS for k in s.key.split(",")]
    assert len(keys) == len(set(keys))
