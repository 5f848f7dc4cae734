"""Loop keys with nothing to work on say why instead of failing: no local model (a remote left
pane), no adapter to evaluate, nothing to train on."""

from qconsole.config import Config
from qconsole.ui.app import QConsoleApp
from tests.scripted_backend import scripted_loader


async def test_loop_keys_explain_when_they_cannot_run():
    app = QConsoleApp(Config(), sides_loader=scripted_loader(["hi"], None))
    async with app.run_test() as pilot:
        while app.query_one("#prompt").disabled:
            await pilot.pause(0.05)
        for key in ("f3", "f5", "f6", "f8"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is app.screen_stack[0]  # no dialog opened on nothing
        messages = " ".join(n.message for n in app._notifications)
        assert "need a local model" in messages
        assert "no job is running" in messages
