"""Marking, rewriting, preferring, undo and review, by keys alone, with the real model, and
checked against the TinyDB files on disk."""

from qconsole.config import Config
from qconsole.paths import sessions_dir
from qconsole.sampling import SamplingSettings
from qconsole.store.store import SessionStore
from qconsole.ui.app import QConsoleApp
from qconsole.ui.chat_pane import ChatPane
from qconsole.ui.screens.mark import MarkScreen
from qconsole.ui.screens.review import ReviewScreen, SessionScreen
from qconsole.ui.screens.rewrite import RewriteScreen


async def test_mark_rewrite_prefer_undo_and_review_by_keys(wait_for, send):
    app = QConsoleApp(Config(sampling=SamplingSettings(temperature=0.0, max_tokens=12), n_ctx=1024))
    async with app.run_test(size=(150, 45)) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled)
        await send(pilot, app, "Tom has 3 apples and buys 5 more. How many now?")
        await send(pilot, app, "All cats are animals. Felix is a cat. Is Felix an animal?")

        await pilot.press("ctrl+t")  # to the turns; the last one is selected
        left = app.query_one("#left", ChatPane)
        assert app.focused is left and left.selected == 1
        await pilot.press("up")  # the first turn
        assert left.selected == 0
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MarkScreen)
        await pilot.press("r")  # "wrong reasoning step": the hotkey picks and saves
        await pilot.pause()
        assert left.turns[0].state.marks == ["Wrong reasoning step"]

        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, RewriteScreen)
        await pilot.press(*" 3 + 5 = 8. The answer is 8.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "The answer is 8." in left.turns[0].state.rewrite

        await pilot.press("down")  # second turn: mark it differently, then prefer and undo
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("p")
        assert left.turns[1].state.preferred
        await pilot.press("u")  # undoes the preference
        await wait_for(pilot, lambda: not left.turns[1].state.preferred)

        assert app.recorder.flush(10)
        store = SessionStore(sessions_dir())
        [summary] = store.list_sessions()
        session = store.load_session(summary.id)
        t1, t2 = session.turns
        assert t1.mark("left").kinds == ("reasoning_step",)
        assert t1.rewrite("left").endswith("The answer is 8.")
        assert t1.reply("left").text == left.turns[0].state.reply  # original kept
        assert t2.mark("left").kinds == ("generalisation",) and t2.preference is None
        assert t1.reply("left").completion_tokens and t1.reply("left").model

        await pilot.press("f4")  # review
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen)
        panes = app.screen.query(ChatPane)
        review_left = [p for p in panes if p.side == "left"][0]
        assert review_left.turns[0].state.marks == ["Wrong reasoning step"]
        assert review_left.turns[0].state.rewrite.endswith("The answer is 8.")
        # edit from review: mark the second turn's reply as a factual error instead
        await pilot.press("down")
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        store = SessionStore(sessions_dir())
        assert store.load_session(summary.id).turns[1].mark("left").kinds == ("factual",)


async def test_review_app_opens_without_a_model(tmp_path):
    from qconsole.ui.review_app import ReviewApp

    store = SessionStore(sessions_dir())
    sid = store.create_session({"models": {"left": "m"}})
    store.append_turn(sid, {"user": "hello [bold]x[/bold] \x1b[31m", "left": {"text": "hi"}})
    app = ReviewApp(store)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.ids == [sid]
        await pilot.press("enter")
        await pilot.pause()
        pane = [p for p in app.screen.query(ChatPane) if p.side == "left"][0]
        assert pane.turns[0].state.user.startswith("hello [bold]")
        await pilot.press("escape")
        await pilot.press("escape")
