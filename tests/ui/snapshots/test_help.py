"""Snapshot of the console without an adapter (the right pane explains how to get one), with
the help screen open."""


def test_no_adapter_and_help(snap, make_app, theme):
    async def run_before(pilot):
        while pilot.app.query_one("#prompt").disabled:
            await pilot.pause(0.05)
        await pilot.press("f1")
        await pilot.pause(0.2)

    assert snap(make_app(theme, adapter=False), run_before=run_before)
