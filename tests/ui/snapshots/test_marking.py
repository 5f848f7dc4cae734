"""Snapshot of the mark picker open on a reply."""


def test_mark_picker(snap, make_app, converse, theme):
    async def run_before(pilot):
        await converse(pilot)
        await pilot.press("ctrl+t", "m")
        await pilot.pause(0.2)

    assert snap(make_app(theme), run_before=run_before)
