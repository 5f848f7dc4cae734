"""Snapshot of the teacher pane after a script was played into both panes: its suggested marks,
one accepted, the selected turn's suggestion highlighted (a scripted model: the picture does
not depend on sampling)."""

from textual.widgets import OptionList

from qconsole.config import Config, save_state
from qconsole.ui.app import QConsoleApp


def test_teacher_pane_with_suggestions(snap, scripted_loader, theme, probe_script):
    save_state(theme=theme)
    app = QConsoleApp(Config(teacher={"spec": "smollm2"}),  # rule checks: never loaded
                      sides_loader=scripted_loader(["5", "banana"], ["4", "a pear"]))

    async def run_before(pilot):
        while pilot.app.query_one("#prompt").disabled:
            await pilot.pause(0.05)
        await pilot.press("ctrl+y")
        await pilot.pause(0.2)
        options = pilot.app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        options.highlighted = ids.index("probe")
        await pilot.press("enter")
        while pilot.app.teacher.player.session_id is None or pilot.app.teacher.playing:
            await pilot.pause(0.05)
        await pilot.press("ctrl+t", "up", "a")
        while pilot.app.teacher.proposals[0].status != "accepted":
            await pilot.pause(0.05)
        await pilot.press("down")
        await pilot.pause(0.2)
        pilot.app.query_one("#prompt").cursor_blink = False

    assert snap(app, run_before=run_before)
