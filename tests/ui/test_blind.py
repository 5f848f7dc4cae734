"""Blind A/B mode by keys: the seeded per-turn draw, what the screen hides, the vote, the
reveal, undo, and the vote after a restart and in review.

UI-only (the scripted stream of tests/helpers/scripted_backend.py, as the snapshot tests use):
what is hidden and stored does not depend on what a model says. The real model and a real
adapter are in test_blind_real.py.
"""

from __future__ import annotations

from qconsole.config import Config
from qconsole.paths import sessions_dir
from qconsole.store.store import SessionStore
from qconsole.ui.app import QConsoleApp
from qconsole.ui.blind import BlindMode
from qconsole.ui.chat_pane import ChatPane
from qconsole.ui.screens.mark import MarkScreen
from qconsole.ui.screens.review import ReviewScreen, SessionScreen

ADAPTER, MODEL = "fairness-v1", "scripted-base"  # the names the scripted loader gives
LEAKS = (ADAPTER, MODEL, "tok/s", "ttft", "base ·", "adapter ·", "left", "right")


def seed_with_both(n: int) -> int:
    """A seed whose first ``n`` draws put each side on A at least once, the first on the right
    (so A's reply, in the left pane, is the adapter's)."""
    for seed in range(1000):
        mode = BlindMode(seed)
        sides = [mode.draw()["assignment"]["A"] for _ in range(n)]
        if set(sides) == {"left", "right"} and sides[0] == "right":
            return seed
    raise AssertionError("no seed found")


def make_app(scripted_loader, seed: int, n: int = 3) -> QConsoleApp:
    return QConsoleApp(
        Config(),
        sides_loader=scripted_loader([f"base answer {i}" for i in range(n)],
                                     [f"adapter answer {i}" for i in range(n)]),
        blind_seed=seed,
    )


async def ask(pilot, app, wait_for, text: str) -> None:
    await pilot.click("#prompt")
    await pilot.press(*text)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not app.streaming)
    await pilot.pause(0.1)


def hidden_leaks(text: str) -> list[str]:
    return [word for word in LEAKS if word in text]


async def test_blind_turns_are_drawn_per_turn_hidden_and_revealed(
        scripted_loader, wait_for, posted, screen_text):
    seed = seed_with_both(3)
    mode = BlindMode(seed)
    expected = [mode.draw() for _ in range(3)]
    app = make_app(scripted_loader, seed)
    async with app.run_test(size=(130, 40), message_hook=posted) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled)
        await pilot.press("ctrl+b")
        assert app.blind.on
        left, right = app.query_one("#left", ChatPane), app.query_one("#right", ChatPane)
        assert (str(left.border_title), str(right.border_title)) == ("A", "B")
        for i in range(3):
            await ask(pilot, app, wait_for, f"question {i}")

        # recorded per turn: the seed and the assignment drawn from it, both ways
        draws = [{"seed": h.blind.seed, "assignment": h.blind.assignment} for h in app.handles]
        assert draws == expected
        assert {d["assignment"]["A"] for d in draws} == {"left", "right"}
        # placed by label: A's reply on the left whoever gave it (turn 0: the adapter's)
        assert left.turns[0].state.reply == "adapter answer 0"
        assert (left.turns[0].state.side, left.turns[0].state.blind) == ("right", "A")
        for i, d in enumerate(draws):
            a_text = left.view_for(i).state.reply
            assert a_text.startswith("adapter" if d["assignment"]["A"] == "right" else "base")

        # nothing on screen names a side: not the titles, the status line, the turns' figures
        text = screen_text(app)
        assert "answer 0" in text and "A" in text
        assert hidden_leaks(text) == [], text
        assert hidden_leaks(str(app.query_one("#status").render())) == []
        # the mark dialog names the reply by its label, not by "base"/"adapter"
        await pilot.press("ctrl+t", "up", "up")
        assert left.selected == 0
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MarkScreen)
        assert "this A reply" in screen_text(app) and hidden_leaks(screen_text(app)) == []
        await pilot.press("escape")
        await pilot.pause()
        # p is refused on a blind turn: it would record a sighted preference
        await pilot.press("p")
        assert not any(v.state.preferred for v in left.turns + right.turns)

        # vote A better on turn 0: the names come back on both views and in a notice
        await pilot.press("1")
        await pilot.pause()
        line = "you voted A better · A was adapter fairness-v1 · B was base"
        assert left.view_for(0).state.reveal == line == right.view_for(0).state.reveal
        assert any(line in n.message for n in posted.notifications)
        shown = screen_text(app)  # the line wraps in a 65-column pane
        assert "you voted A better · A was adapter" in shown and ADAPTER in shown
        assert "tok/s" in left.view_for(0).state.stats  # its figures are shown again
        # the other turns stay hidden
        assert left.view_for(1).state.hidden and left.view_for(2).state.hidden

        assert app.recorder.flush(10)
        session = SessionStore(sessions_dir()).load_session(app.recorder.session_id)
        t1 = session.turns[0]
        assert (t1.blind.vote, t1.blind.assignment, t1.blind.seed) == (
            "a", expected[0]["assignment"], expected[0]["seed"])
        assert t1.blind.winner_side() == "right" and t1.preference is None
        assert [t.blind.assignment for t in session.turns] == [d["assignment"] for d in draws]

        # u undoes the vote; the names stay shown (they were seen), a new vote is flagged
        await pilot.press("u")
        await wait_for(pilot, lambda: left.view_for(0).state.vote is None)
        assert "vote undone" in left.view_for(0).state.reveal
        assert not left.view_for(0).state.hidden
        assert app.recorder.flush(10)
        session = SessionStore(sessions_dir()).load_session(app.recorder.session_id)
        assert session.turns[0].blind.vote is None
        await pilot.press("3")
        await pilot.pause()
        assert any("cast after the reveal" in n.message for n in posted.notifications)

        # ctrl+b again: names are back on the titles
        await pilot.press("ctrl+b")
        assert str(left.border_title).startswith("base ·")


async def test_a_vote_survives_a_restart_and_review_keeps_unvoted_turns_blind(
        scripted_loader, wait_for, screen_text):
    seed = seed_with_both(2)
    app = make_app(scripted_loader, seed, n=2)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled)
        await pilot.press("ctrl+b")
        await ask(pilot, app, wait_for, "first question")
        await ask(pilot, app, wait_for, "second question")
        await pilot.press("ctrl+t", "up")  # the first turn
        await pilot.press("4")  # both bad
        await pilot.pause()
        assert app.recorder.flush(10)
        sid = app.recorder.session_id

    # a new console (a restart): the vote is on disk, and review shows it
    again = make_app(scripted_loader, seed, n=0)
    async with again.run_test(size=(130, 40)) as pilot:
        await wait_for(pilot, lambda: not again.query_one("#prompt").disabled)
        stored = SessionStore(sessions_dir()).load_session(sid)
        assert [t.blind.vote for t in stored.turns] == ["both_bad", None]
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(again.screen, ReviewScreen))
        review = again.screen
        await wait_for(pilot, lambda: "Blind votes (1)" in str(
            review.query_one("#ab").render()))
        assert "fairness-v1 vs base: 0-0 (0 ties, 1 both bad)" in str(
            review.query_one("#ab").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(again.screen, SessionScreen))
        screen = again.screen
        left = screen.query_one("#left", ChatPane)
        right = screen.query_one("#right", ChatPane)
        assert (str(left.border_title), str(right.border_title)) == ("A", "B")
        first, second = left.view_for(0).state, left.view_for(1).state
        assert first.vote == "both_bad" and "A was" in first.reveal
        assert second.hidden and second.side == stored.turns[1].blind.assignment["A"]
        # the screen shows the first turn's reveal (names), but nothing of the second's
        # figures; the second turn's names appear only in the first's reveal line
        text = screen_text(again)
        assert "tok/s" not in text.split("second question")[-1]
        # vote on the second turn in review: B better
        await pilot.press("down")
        assert left.selected == 1
        await pilot.press("2")
        await pilot.pause()
        assert second.vote == "b" and second.reveal.startswith("you voted B better")
        screen.recorder.flush(10)
        stored = SessionStore(sessions_dir()).load_session(sid)
        assert stored.turns[1].blind.vote == "b"
        assert stored.turns[1].blind.winner_side() == stored.turns[1].blind.assignment["B"]


async def test_blind_mode_needs_an_adapter(scripted_loader, wait_for, posted):
    app = QConsoleApp(Config(), sides_loader=scripted_loader(["only base"], None))
    async with app.run_test(size=(130, 40), message_hook=posted) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled)
        await pilot.press("ctrl+b")
        assert not app.blind.on
        assert any("load an adapter" in n.message for n in posted.notifications)
