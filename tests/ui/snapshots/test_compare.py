"""Snapshot of the side-by-side comparison: base and adapter answering, one reply marked."""


def test_compare_screen(snap, make_app, converse, theme):
    async def run_before(pilot):
        await converse(pilot)
        await pilot.press("ctrl+t", "up", "m", "r")  # mark the first base reply
        await pilot.pause(0.2)

    assert snap(make_app(theme), run_before=run_before)
