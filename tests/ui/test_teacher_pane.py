"""The teacher's keys in the console, on a scripted model (what the panes show must not depend
on sampling): no teacher -> one line per key; a rule-checked script played into both panes;
a, e, x deciding its suggestions; the variants review list. The real teacher and the real
model are in tests/ui/test_teacher_flow.py."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import OptionList

from qconsole.config import Config
from qconsole.store import SessionStore
from qconsole.store.failure_kinds import kind_label
from qconsole.teacher.config import NO_TEACHER
from qconsole.teacher.variants import Variant
from qconsole.ui.app import QConsoleApp
from qconsole.ui.chat_pane import ChatPane
from qconsole.ui.screens.mark import MarkScreen
from qconsole.ui.screens.variants import VariantsScreen
from qconsole.ui.teacher_flow import read_teacher_spec
from qconsole.ui.teacher_screens import ScriptPickScreen


def test_a_broken_teacher_table_is_one_line():
    spec, line = read_teacher_spec(Config(teacher={"spec": "x", "url": "http://h:1/v1"}))
    assert spec is None and line.startswith("the teacher is not usable: [teacher] needs")
    assert "\n" not in line
    assert read_teacher_spec(Config()) == (None, NO_TEACHER)
    spec, line = read_teacher_spec(Config(teacher={"spec": "smollm2"}))
    assert line is None and spec.spec == "smollm2"


async def test_without_a_teacher_every_teacher_key_says_how_to_set_one(
        scripted_loader, send, wait_for, posted):
    app = QConsoleApp(Config(), sides_loader=scripted_loader(["5"], ["4"]))
    async with app.run_test(size=(140, 40), message_hook=posted) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled)
        await send(pilot, app, "What is 2 + 2?")  # the rest works as before
        await pilot.press("f9")
        assert app.teacher_pane.shown
        assert "no teacher is configured" in str(app.teacher_pane.teacher_line.render())
        await pilot.press("ctrl+y", "ctrl+o", "ctrl+t", "a", "d", "v", "e", "x")
        await pilot.pause(0.2)
        lines = [n.message for n in posted.notifications if "teacher" in n.message]
        assert lines == [NO_TEACHER] * 7
        assert "[teacher]" in NO_TEACHER
        await pilot.press("f9")
        assert not app.teacher_pane.shown


async def test_play_a_script_and_decide_its_suggestions(
        scripted_loader, wait_for, send, probe_script, posted):
    app = QConsoleApp(Config(teacher={"spec": "smollm2"}),  # rule checks only: never loaded
                      sides_loader=scripted_loader(["5", "banana", "hi"],
                                                   ["4", "a pear", "hello"]))
    async with app.run_test(size=(150, 44), message_hook=posted) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled)
        await pilot.press("ctrl+y")
        await wait_for(pilot, lambda: isinstance(app.screen, ScriptPickScreen))
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "route-fairness" in ids and "probe" in ids  # shipped and the workspace's
        options.highlighted = ids.index("probe")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.teacher.player.session_id is not None
                       and not app.teacher.playing)
        flow = app.teacher
        assert app.teacher_pane.shown
        left, right = app.query_one("#left", ChatPane), app.query_one("#right", ChatPane)
        assert [v.state.reply for v in left.turns] == ["5", "banana"]
        assert [v.state.reply for v in right.turns] == ["4", "a pear"]
        assert [(p.side, p.turn, p.kind) for p in flow.proposals] == [
            ("left", "sum", "reasoning_step"), ("left", "prime", "forgot_context"),
            ("right", "prime", "forgot_context")]
        sid = flow.player.session_id
        store = SessionStore(app.store.root)
        session = store.load_session(sid)
        assert len(session.turns) == 2 and not any(t.marks for t in session.turns)
        assert len(app.teacher_pane.rows) == 3

        # a on the left's first turn stores the mark as suggested
        await pilot.press("ctrl+t", "up", "a")
        await wait_for(pilot, lambda: flow.proposals[0].status == "accepted")
        mark = store.load_session(sid).turns[0].mark("left")
        assert mark.kind == "reasoning_step" and mark.step == "generalise"
        assert left.turns[0].state.marks[0] == kind_label("reasoning_step")
        # x drops the second: nothing stored
        await pilot.press("down", "x")
        await wait_for(pilot, lambda: flow.proposals[1].status == "dropped")
        assert store.load_session(sid).turns[1].mark("left") is None
        # e on the right's second turn opens the mark dialog prefilled; Enter keeps it
        await pilot.press("right", "e")
        await wait_for(pilot, lambda: isinstance(app.screen, MarkScreen))
        assert app.screen.query_one("#note").value == "no prime named"
        await pilot.press("enter")
        await wait_for(pilot, lambda: flow.proposals[2].status == "edited")
        mark = store.load_session(sid).turns[1].mark("right")
        assert mark.kind == "forgot_context" and mark.note == "no prime named"
        # no suggestion left on the right's first turn: one line says so
        await pilot.press("up", "a")
        await pilot.pause(0.1)
        assert "no pending suggestion on this adapter reply" in posted.notifications[-1].message

        # the chat goes on in the script's session
        await send(pilot, app, "Thanks.")
        app.recorder.flush(10)
        assert [t.user for t in store.load_session(sid).turns][-1] == "Thanks."
        assert [p.status for p in flow.controller().proposals(sid)] == [
            "accepted", "dropped", "edited"]


class VariantsApp(App):
    def __init__(self, variants):
        super().__init__()
        self.variants = variants
        self.result = "unset"

    def on_mount(self) -> None:
        self.push_screen(VariantsScreen("More like this", self.variants),
                         lambda r: setattr(self, "result", r))


VARIANTS = [Variant("2 + 3?", "2 + 3 = 5. The answer is 5.", "gym:basic_arithmetic"),
            Variant("4 - 1?", "4 - 1 = 3. The answer is 3.", "gym:basic_arithmetic"),
            Variant("6 * 2?", "6 * 2 = 12. The answer is 12.", "gym:basic_arithmetic"),
            Variant("2 + 3 ?", "The answer is 5.", "gym:basic_arithmetic",
                    dropped="near-duplicate of variant 1")]


@pytest.mark.parametrize("keys, expected", [
    (("a", "r", "a"), ["2 + 3?", "6 * 2?"]),  # accept, reject, accept: the cursor moves on
    (("A",), ["2 + 3?", "4 - 1?", "6 * 2?"]),  # accept all kept ones, never the dropped
])
async def test_the_variants_list_accepts_rejects_and_accepts_all(keys, expected):
    app = VariantsApp(VARIANTS)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press(*keys, "ctrl+s")
        await pilot.pause()
    assert [v.prompt for v in app.result] == expected


async def test_a_variant_edited_in_the_list_is_marked_edited():
    app = VariantsApp(VARIANTS)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("down", "e")
        await pilot.pause()
        app.screen.query_one("#f-reply").text = "4 - 1 = 3. So 3."
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("ctrl+s")  # nothing else accepted: the edited one is
        await pilot.pause()
    assert [(v.prompt, v.reply, v.edited) for v in app.result] == [
        ("4 - 1?", "4 - 1 = 3. So 3.", True)]


async def test_storing_nothing_accepted_is_refused_with_a_line():
    app = VariantsApp(VARIANTS)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "nothing accepted yet" in str(app.screen.query_one("#error").render())
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None
