"""Loop keys with nothing to work on say why instead of failing: no local model (a remote left
pane), no adapter to evaluate, nothing to train on."""

from qconsole.config import Config
from qconsole.ui.app import QConsoleApp


async def test_loop_keys_explain_when_they_cannot_run(scripted_loader, posted):
    app = QConsoleApp(Config(), sides_loader=scripted_loader(["hi"], None))
    async with app.run_test(message_hook=posted) as pilot:
        while app.query_one("#prompt").disabled:
            await pilot.pause(0.05)
        for key in ("f3", "f5", "f6", "f8"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is app.screen_stack[0]  # no dialog opened on nothing
        messages = " ".join(n.message for n in posted.notifications)
        assert "need a local model" in messages
        assert "no job is running" in messages


async def test_quitting_cancels_running_jobs(tmp_path, scripted_loader):
    import sys
    import time

    from qconsole.jobs import start_job
    from qconsole.ui.jobs_pane import JobsPane, JobView

    app = QConsoleApp(Config(), sides_loader=scripted_loader(["hi"], None))
    async with app.run_test() as pilot:
        handle = start_job([sys.executable, "-c", "import time; time.sleep(60)"],
                           tmp_path / "sleep.log")
        app.query_one("#jobs", JobsPane).add_job(JobView(handle, "train", "sleeper"))
        await pilot.pause(0.1)
        assert handle.running
        await pilot.press("ctrl+q")
    deadline = time.time() + 10
    while handle.running and time.time() < deadline:
        time.sleep(0.05)
    assert not handle.running


async def test_ctrl_t_goes_to_the_turns_and_back_to_the_message_box(scripted_loader):
    """In the turns every letter is a marking key, so the way back to typing is a key too."""
    from qconsole.ui.chat_pane import ChatPane

    app = QConsoleApp(Config(), sides_loader=scripted_loader(["hi"], None))
    async with app.run_test() as pilot:
        while app.query_one("#prompt").disabled:
            await pilot.pause(0.05)
        await pilot.press("ctrl+t")
        assert isinstance(app.focused, ChatPane)
        await pilot.press("ctrl+t")
        assert app.focused is app.query_one("#prompt")


async def test_back_in_the_turns_the_newest_reply_is_selected(scripted_loader, send):
    """Coming back to the turns after sending a message selects that new turn (the reply one
    comes to mark or vote on), not the one marked before."""
    from qconsole.ui.chat_pane import ChatPane

    app = QConsoleApp(Config(), sides_loader=scripted_loader(["one", "two"], None))
    async with app.run_test() as pilot:
        while app.query_one("#prompt").disabled:
            await pilot.pause(0.05)
        await send(pilot, app, "first")
        await send(pilot, app, "second")
        await pilot.press("ctrl+t", "up")
        left = app.query_one("#left", ChatPane)
        assert left.selected == 0
        await pilot.press("ctrl+t")  # back to typing, nothing new: the selection stays
        await pilot.press("ctrl+t")
        assert left.selected == 0
        await pilot.press("ctrl+t")
        await send(pilot, app, "third")
        await pilot.press("ctrl+t")
        assert left.selected == 2
