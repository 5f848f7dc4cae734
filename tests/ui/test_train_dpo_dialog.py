"""The F5 dialog's objective: it shows the preference pairs per source, returns a request with
``objective`` and beta, and refuses an objective with nothing to train on (UI only)."""

from __future__ import annotations

from types import SimpleNamespace

from textual.widgets import Input, Label, Select

from qconsole.config import Config
from qconsole.ui.base_app import QConsoleBaseApp
from qconsole.ui.screens.train import NO_PAIRS_YET, NOTHING_YET, TrainScreen

CORRECTION = SimpleNamespace(user="q", rewrite="a", session_id="s1")


class Host(QConsoleBaseApp):
    """A bare qconsole app to open the dialog in."""


async def _submit(wait_for, screen: TrainScreen, objective: str, beta: str = "0.1"):
    results: list = []
    app = Host(Config())
    async with app.run_test(size=(120, 50)) as pilot:
        app.push_screen(screen, callback=results.append)
        await wait_for(pilot, lambda: screen.query("#f-objective"))
        header = str(screen.query_one(Label).render())
        screen.query_one("#f-objective", Select).value = objective
        screen.query_one("#f-beta", Input).value = beta
        await pilot.pause()
        screen.action_submit()
        await pilot.pause()
        error = "" if results else str(screen.query_one("#error", Label).render())
    return (results[0] if results else None), header, error


async def test_dpo_objective_and_beta_reach_the_request(wait_for):
    screen = TrainScreen([CORRECTION], 1, pairs={"rewrite": 1, "blind": 2})
    request, header, _ = await _submit(wait_for, screen, "dpo", "0.25")
    assert "DPO: 3 preference pairs (rewrite 1, blind 2)" in header
    assert request.objective == "dpo" and request.settings.beta == 0.25


async def test_an_objective_without_data_is_refused_with_its_reason(wait_for):
    request, _, error = await _submit(wait_for, TrainScreen([CORRECTION], 1), "sft+dpo")
    assert request is None and error == NO_PAIRS_YET.format(objective="sft+dpo")
    request, _, error = await _submit(wait_for, TrainScreen([], 0, pairs={"blind": 1}), "sft")
    assert request is None and error == NOTHING_YET
    request, _, _ = await _submit(wait_for, TrainScreen([], 0, pairs={"blind": 1}), "dpo")
    assert request is not None and request.objective == "dpo"
