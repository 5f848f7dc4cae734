"""Dialogs and the console's own text, UI only (a scripted model; no llama.cpp):

- nothing typed is lost: a burst of keys and the save key right after it, delivered as fast as a
  terminal delivers them, saves every character (in each dialog that has an editor);
- a rewrite identical to the model's reply is refused with a message;
- streams never touch widgets that are gone (another screen on top, the app closing);
- qconsole's own text with brackets ("[keys]") shows literally."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input, TextArea

from qconsole.config import Config
from qconsole.sampling import SamplingSettings
from qconsole.ui.app import QConsoleApp
from qconsole.ui.base_app import QConsoleBaseApp
from qconsole.ui.screens.evaluate import EvaluateScreen
from qconsole.ui.screens.mark import MarkScreen
from qconsole.ui.screens.rewrite import SAME_AS_REPLY, RewriteScreen
from qconsole.ui.screens.settings import SettingsScreen
from qconsole.ui.screens.train import TrainScreen

# 214 characters, as in the report: typed fast, then the save key at once
LONG = ("Tom has 3 apples and buys 5 more, so he has 3 + 5 = 8 apples. He gives 2 away, "
        "so 8 - 2 = 6 remain. The answer is 6. Each step follows from the one before it; "
        "nothing is assumed that was not stated in the question.")
assert len(LONG) == 214


def burst(app, text: str, then: str | None) -> None:
    """Every key of ``text`` and then ``then``, queued at once (no waiting in between), the way
    a terminal delivers fast typing (tmux send-keys, a paste without bracketed paste)."""
    for ch in text:
        key = ch if ch.isalnum() else _character_to_key(ch)
        app.post_message(events.Key(key, ch))
    if then is not None:
        app.post_message(events.Key(then, None))


class Host(QConsoleBaseApp):
    """A bare qconsole app (the shared styles, themes and keys) to open one dialog in."""


async def run_dialog(wait_for, screen, prepare, text: str, then: str):
    results: list = []
    app = Host(Config())
    async with app.run_test(size=(120, 50)) as pilot:
        app.push_screen(screen, callback=results.append)
        await pilot.pause()
        target = prepare(screen)
        target.focus()
        await pilot.pause()
        burst(app, text, then)
        await wait_for(pilot, lambda: results)
    return results[0]


async def test_rewrite_editor_saves_everything_typed_before_ctrl_s(wait_for):
    screen = RewriteScreen("How many apples?", "Tom has apples.", "Tom has apples.")
    result = await run_dialog(wait_for, screen, lambda s: s.query_one(TextArea), LONG, "ctrl+s")
    assert result == LONG  # the selected seed replaced by every typed character


async def test_every_dialog_editor_keeps_a_fast_burst(wait_for):
    digits = "1234567890" * 21 + "1234"  # 214 digits into a number field
    settings = await run_dialog(wait_for, SettingsScreen(SamplingSettings(), "auto"),
                                lambda s: clear(s.query_one("#f-seed", Input)), digits, "ctrl+s")
    assert settings.sampling.seed == int(digits)

    corrections = [SimpleNamespace(user="q", rewrite="a", session_id="s1")]
    name = "n" * 214
    train = await run_dialog(wait_for, TrainScreen(corrections, 1),
                             lambda s: clear(s.query_one("#f-name", Input)), name, "ctrl+s")
    assert train.name == name

    gym = ",".join(["chain_sum"] * 21) + ",abcd"
    choice = await run_dialog(wait_for, EvaluateScreen("fair-1"),
                              lambda s: clear(s.query_one("#f-gym", Input)), gym, "ctrl+s")
    assert ",".join(choice.gym) == gym

    note = LONG
    mark = await run_dialog(wait_for, MarkScreen("base"),
                            lambda s: s.query_one("#note", Input), note, "enter")
    assert mark.note == note.strip() and mark.kind


def clear(widget: Input) -> Input:
    widget.value = ""
    return widget


async def test_a_rewrite_identical_to_the_reply_is_refused(wait_for):
    results: list = []
    app = Host(Config())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RewriteScreen("q", "The reply.", "The reply.")
        app.push_screen(screen, callback=results.append)
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen and not results  # still open, nothing saved
        assert SAME_AS_REPLY[:30] in str(screen.query_one("#error").render())
        screen.query_one(TextArea).text = "  The reply.\n"  # whitespace is no change either
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen and not results
        screen.query_one(TextArea).text = "The reply, corrected."
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: results)
    assert results == ["The reply, corrected."]


async def start_streaming(pilot, app, wait_for):
    await wait_for(pilot, lambda: not app.prompt.disabled)
    await pilot.click("#prompt")
    await pilot.press(*"hi", "enter")
    await wait_for(pilot, lambda: app.panes["left"].turns
                and "one" in app.panes["left"].turns[0].state.reply)


async def test_a_stream_ending_after_its_widgets_are_gone_still_saves_the_reply(wait_for,
                                                                                gated_loader):
    """What teardown does to the console (its panes and jobs pane removed while the reply
    thread, the flush timer and the jobs poll still run), done on purpose."""
    from qconsole.paths import sessions_dir
    from qconsole.store.store import SessionStore

    gate = threading.Event()
    app = QConsoleApp(Config(), sides_loader=gated_loader("one two three four", gate))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await start_streaming(pilot, app, wait_for)
            await app.query_one("#panes").remove()
            await app.jobs_pane.remove()
            await pilot.pause(0.3)  # flush and poll timers fire with the widgets gone
            gate.set()
            await wait_for(pilot, lambda: not app.streaming)
            await pilot.pause(0.2)
            assert app.panes["left"].turns[0].state.reply == "one two three four"
            assert app.recorder.flush(10)
    finally:
        gate.set()
    [summary] = SessionStore(sessions_dir()).list_sessions()
    session = SessionStore(sessions_dir()).load_session(summary.id)
    assert session.turns[0].reply("left").text == "one two three four"


async def test_quitting_mid_stream_touches_no_widget_that_is_gone(wait_for, gated_loader):
    gate = threading.Event()
    app = QConsoleApp(Config(), sides_loader=gated_loader("one two three four", gate))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await start_streaming(pilot, app, wait_for)
            await pilot.press("ctrl+q")  # the reply finishes (cancelled) while closing
    finally:
        gate.set()
    assert app.return_code in (0, None)


async def test_own_text_with_brackets_shows_literally(wait_for, scripted_loader):
    cfg = Config(keys={"no_such_action": "f12"})
    app = QConsoleApp(cfg, sides_loader=scripted_loader(["hi"], None))
    async with app.run_test(size=(140, 90)) as pilot:
        await wait_for(pilot, lambda: not app.prompt.disabled)
        await pilot.press("f1")
        await pilot.pause(0.2)
        svg = app.export_screenshot().replace("&#160;", " ")
        assert "under [keys] (action" in svg  # the help's last line, brackets kept
        # notifications are literal text too (a toast wraps, so read the notification)
        assert any(n.message == "unknown actions in [keys]: no_such_action"
                   for n in app._notifications)
        assert all(not n.markup for n in app._notifications)


async def test_review_list_shows_session_text_literally():
    from qconsole.paths import sessions_dir
    from qconsole.store.store import SessionStore
    from qconsole.ui.review_app import ReviewApp

    store = SessionStore(sessions_dir())
    sid = store.create_session({"models": {"left": "m[bold]"}})
    store.append_turn(sid, {"user": "see [keys] here", "left": {"text": "hi"}})
    app = ReviewApp(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause(0.2)
        svg = app.export_screenshot().replace("&#160;", " ")
    assert "see [keys] here" in svg and "m[bold]" in svg


async def test_f6_judge_option_reaches_the_job_and_says_how_without_a_teacher(wait_for):
    """The judge box of F6: checked with a teacher configured, the choice asks for it and the
    job's argv carries --judge; with no teacher the box is disabled, the dialog says how to set
    one, and the choice never asks for a judge."""
    from textual.widgets import Checkbox

    from qconsole.evaluation.request import eval_job_argv
    from qconsole.teacher.config import NO_TEACHER
    from qconsole.ui.loop_controller import LoopController

    def tick(screen):
        box = screen.query_one("#f-judge", Checkbox)
        box.value = True
        return screen.query_one("#f-limit", Input)

    choice = await run_dialog(wait_for, EvaluateScreen("fair-1"), tick, "", "ctrl+s")
    assert choice.judge is True
    assert eval_job_argv("r.json", judge=choice.judge)[-1] == "--judge"
    assert "--judge" not in eval_job_argv("r.json")

    results: list = []
    app = Host(Config())
    async with app.run_test(size=(120, 50)) as pilot:
        screen = EvaluateScreen("fair-1", no_judge=NO_TEACHER)
        app.push_screen(screen, callback=results.append)
        await pilot.pause()
        assert screen.query_one("#f-judge", Checkbox).disabled
        assert NO_TEACHER[:30] in str(screen.query_one("#judge-missing").render())
        screen.query_one("#f-judge", Checkbox).value = True  # even if forced on
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: results)
    assert results[0].judge is False

    # the controller asks the console's teacher flow
    ctl = LoopController.__new__(LoopController)
    ctl.app = SimpleNamespace(teacher=SimpleNamespace(spec=None, missing=NO_TEACHER))
    assert ctl.no_judge() == NO_TEACHER
    ctl.app = SimpleNamespace(teacher=SimpleNamespace(spec=object(), missing=None))
    assert ctl.no_judge() is None
