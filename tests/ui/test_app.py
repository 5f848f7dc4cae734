"""The console driven headless by Pilot, with the real embedded model behind it."""


from qconsole.config import Config
from qconsole.sampling import SamplingSettings
from qconsole.ui.app import QConsoleApp
from qconsole.ui.chat_pane import ChatPane
from qconsole.ui.screens.help import HelpScreen


def make_app() -> QConsoleApp:
    cfg = Config(sampling=SamplingSettings(temperature=0.0, max_tokens=24), n_ctx=1024)
    return QConsoleApp(cfg)


async def test_type_a_question_and_see_a_streamed_answer(wait_for):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        prompt = app.query_one("#prompt")
        assert prompt.disabled  # first frame painted before the model is loaded
        await wait_for(pilot, lambda: not prompt.disabled)
        await pilot.click("#prompt")
        await pilot.press(*"What is two plus two?")
        await pilot.press("enter")
        left = app.query_one("#left", ChatPane)
        await wait_for(pilot, lambda: left.turns and not left.turns[0].state.streaming)
        state = left.turns[0].state
        assert state.user == "What is two plus two?"
        assert state.reply.strip() and state.error is None
        assert "tok/s" in state.stats
        assert "tok/s" in str(app.query_one("#status").render())
        # the right pane explains how to get an adapter instead of failing
        assert app.sides["right"] is None


async def test_escape_cancels_and_help_opens(wait_for):
    app = make_app()
    app.settings = SamplingSettings(temperature=0.0, max_tokens=400)
    async with app.run_test(size=(140, 40)) as pilot:
        prompt = app.query_one("#prompt")
        await wait_for(pilot, lambda: not prompt.disabled)
        await pilot.click("#prompt")
        await pilot.press(*"Count from 1 to 200: 1, 2, 3, 4,")
        await pilot.press("enter")
        left = app.query_one("#left", ChatPane)
        await wait_for(pilot, lambda: left.turns and len(left.turns[0].state.reply) > 10)
        await pilot.press("escape")  # long before 400 tokens
        await wait_for(pilot, lambda: not left.turns[0].state.streaming)
        assert "cancelled" in left.turns[0].state.stats
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")


async def test_broken_model_is_a_notification_not_a_crash(tmp_path, wait_for, posted):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    app = QConsoleApp(Config(model=str(bad)))
    async with app.run_test(message_hook=posted) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#loading").display)
        assert app.sides["left"] is None
        assert any("broken.gguf" in n.message and n.severity == "error"
                   for n in posted.notifications)


async def test_regenerate_one_side_and_both_keep_every_turn_saved(wait_for):
    from qconsole.paths import sessions_dir
    from qconsole.store.store import SessionStore

    app = make_app()
    app.settings = SamplingSettings(temperature=0.9, seed=1, max_tokens=12)
    async with app.run_test(size=(140, 40)) as pilot:
        prompt = app.query_one("#prompt")
        await wait_for(pilot, lambda: not prompt.disabled)
        await pilot.click("#prompt")
        await pilot.press(*"Tell me a fact.")
        await pilot.press("enter")
        left = app.query_one("#left", ChatPane)
        await wait_for(pilot, lambda: left.turns and not app.streaming)
        await pilot.press("ctrl+t", "g")  # regenerate the left side only
        await wait_for(pilot, lambda: len(app.handles) == 2 and not app.streaming)
        assert len(left.turns) == 1 and len(app.user_turns) == 1
        assert len(app.sides["left"].history) == 2
        await pilot.press("ctrl+r")  # both sides
        await wait_for(pilot, lambda: len(app.handles) == 3 and not app.streaming)
        assert len(left.turns) == 1 and len(app.sides["left"].history) == 2
        assert app.recorder.flush(10)
        [summary] = SessionStore(sessions_dir()).list_sessions()
        assert summary.n_turns == 3  # the original and both regenerations are kept
