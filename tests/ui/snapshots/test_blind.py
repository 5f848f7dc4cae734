"""Snapshot of a blind A/B turn: only "A" and "B", no model or adapter name, no per-side
figures; the rendered text is checked too, so a leak fails even where the picture is updated."""

from qconsole.ui.blind import BlindMode

NAMES = ("fairness-v1", "scripted-base", "tok/s", "ttft", "base ·", "adapter ·")


def test_blind_turn_shows_no_names(snap, make_app, converse, theme, screen_text):
    app = make_app(theme)
    app.blind = BlindMode(seed=3)  # draws: adapter on A (left pane), then base on A

    async def run_before(pilot):
        while pilot.app.query_one("#prompt").disabled:
            await pilot.pause(0.05)
        await pilot.press("ctrl+b")
        await converse(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause(0.2)
        text = screen_text(pilot.app)
        assert "Honesty is telling the truth." in text  # the replies are there ...
        assert [n for n in NAMES if n in text] == []  # ... and nothing says whose they are
        assert [h.blind.assignment["A"] for h in pilot.app.handles] == ["right", "left"]

    assert snap(app, run_before=run_before)
