"""Snapshot of the evaluate dialog over a conversation with an adapter in the right pane."""

from qconsole.ui.screens.evaluate import EvaluateScreen


def test_evaluate_dialog(snap, make_app, converse, theme):
    async def run_before(pilot):
        await converse(pilot)
        # a data folder that exists nowhere: the availability line is the same on every machine
        pilot.app.push_screen(EvaluateScreen("fairness-v1", data_dir="/nonexistent/benchmarks"))
        while not isinstance(pilot.app.screen, EvaluateScreen):
            await pilot.pause(0.05)
        await pilot.pause(0.3)

    assert snap(make_app(theme), run_before=run_before)
