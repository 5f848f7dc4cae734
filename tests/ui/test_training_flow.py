"""Hotkey training for real: mark and rewrite a failing reply, F5, the jobs pane shows progress
and a falling loss while the chat stays usable, and the new adapter arrives in the right pane."""

import pytest
from textual.widgets import TextArea

from qconsole.config import Config
from qconsole.sampling import SamplingSettings
from qconsole.ui.app import QConsoleApp
from qconsole.ui.chat_pane import ChatPane
from qconsole.ui.jobs_pane import JobView
from qconsole.ui.screens.rewrite import RewriteScreen
from qconsole.ui.screens.train import TrainScreen

pytestmark = pytest.mark.slow
QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"


async def test_train_by_key_and_the_adapter_arrives(wait_for, send):
    app = QConsoleApp(Config(sampling=SamplingSettings(temperature=0.0, max_tokens=32),
                             n_ctx=1024))
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled, timeout=300)
        assert app.sides["right"] is None  # no adapter yet
        await send(pilot, app, QUESTION)
        base_reply = app.query_one("#left", ChatPane).turns[0].state.reply

        await pilot.press("ctrl+t", "m", "r")
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, RewriteScreen))
        app.screen.query_one(TextArea).text = "3 + 5 = 8, and 8 - 2 = 6. The answer is 6."
        await pilot.press("ctrl+s")

        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen))
        header = str(app.screen.query_one("Label").render())
        assert "1 correction" in header and "tokens per epoch" in header
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: list(app.query(JobView)))
        view = app.query_one(JobView)

        # the chat stays usable while training runs in its subprocess
        await send(pilot, app, "Say hello.")
        await wait_for(pilot, lambda: view.losses, timeout=600)  # live progress with a loss
        await wait_for(pilot, lambda: view.finished, timeout=900)
        assert view.has_class("done"), view.query_one("#outcome").render()
        assert len(view.losses) >= 2 and view.losses[-1] < view.losses[0]
        await wait_for(pilot, lambda: app.sides["right"] is not None, timeout=120)
        assert app.sides["right"].adapter_name.startswith("lora-")

        await send(pilot, app, QUESTION)
        right = app.query_one("#right", ChatPane)
        await wait_for(pilot, lambda: right.turns and not app.streaming)
        adapted = right.turns[-1].state.reply
        assert "6" in adapted, (base_reply, adapted)
        assert app.query_one("#left", ChatPane).turns[-1].state.reply == base_reply
