"""Snapshots of the training loop as the console shows it: the train dialog over a corrected
conversation, and a training job in the jobs pane (a real subprocess speaking the job protocol
with fixed figures, so the picture does not depend on how fast anything trains)."""

import sys

from textual.widgets import Input, TextArea

from qconsole.ui.jobs_pane import JobView
from qconsole.ui.screens.rewrite import RewriteScreen
from qconsole.ui.screens.train import TrainScreen

JOB = """
import json, time
def ev(kind, **fields):
    print(json.dumps({"event": kind, "time": 0, **fields}), flush=True)
ev("start", total_steps=8, summary_lines=["2 examples from 1 session"])
ev("phase", phase="train", message="training on the CPU")
for s in (1, 2, 3):
    ev("progress", step=s, total_steps=8, epoch=s / 4, loss=2.0 - 0.3 * s, lr=2e-4,
       tokens_per_s=120.0, eta_s=10.0 * (8 - s))
time.sleep(120)
"""


async def _rewrite_first_base_reply(pilot, converse):
    await converse(pilot)
    await pilot.press("ctrl+t", "up", "w")
    while not isinstance(pilot.app.screen, RewriteScreen):
        await pilot.pause(0.05)
    pilot.app.screen.query_one(TextArea).text = "3 + 5 = 8, and 8 - 2 = 6. The answer is 6."
    await pilot.press("ctrl+s")
    while isinstance(pilot.app.screen, RewriteScreen):
        await pilot.pause(0.05)


def test_train_dialog(snap, make_app, converse, theme):
    async def run_before(pilot):
        await _rewrite_first_base_reply(pilot, converse)
        app = pilot.app
        app.recorder.flush(10.0)
        corrections = app.store.corrections()
        # the token counts are the dialog's input (the controller measures them), fixed here
        app.push_screen(TrainScreen(corrections, 1, (41, 17)))
        while not (isinstance(app.screen, TrainScreen) and app.screen.query("#f-name")):
            await pilot.pause(0.05)
        name = app.screen.query_one("#f-name", Input)
        name.value = "fairness-v2"  # not today's date
        name.cursor_blink = False  # a steady cursor: the picture does not depend on the moment
        await pilot.pause(0.2)

    assert snap(make_app(theme), run_before=run_before)


def test_training_job_in_the_jobs_pane(snap, make_app, converse, theme, tmp_path):
    from qconsole.jobs import start_job

    async def run_before(pilot):
        await converse(pilot)
        app = pilot.app
        handle = start_job([sys.executable, "-c", JOB], tmp_path / "train.log")
        view = JobView(handle, "train", "training fairness-v2 on 2 corrections")
        app.jobs_pane.add_job(view)
        while view.state.step < 3:
            await pilot.pause(0.1)
        await pilot.pause(0.2)

    assert snap(make_app(theme), run_before=run_before)
