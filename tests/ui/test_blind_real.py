"""Blind A/B with the real embedded model and a real adapter: the two replies differ, nothing
on screen says whose is whose until the vote, and the vote reveals the adapter by name."""

import pytest

from qconsole.config import Config
from qconsole.paths import adapters_dir, sessions_dir
from qconsole.sampling import SamplingSettings
from qconsole.store.store import SessionStore
from qconsole.ui.app import QConsoleApp
from qconsole.ui.chat_pane import ChatPane

pytestmark = pytest.mark.slow


async def test_blind_vote_on_a_real_adapter(make_peft_adapter, wait_for, screen_text):
    make_peft_adapter(adapters_dir() / "dropped-in", r=8, b_std=0.05, seed=3)
    app = QConsoleApp(Config(sampling=SamplingSettings(temperature=0.0, max_tokens=20),
                             n_ctx=1024), blind_seed=3)  # seed 3: the adapter is A
    async with app.run_test(size=(150, 45)) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled, timeout=300)
        assert app.sides["right"] is not None and app.sides["right"].adapter_name == "dropped-in"
        model = app.sides["left"].model_name
        await pilot.press("ctrl+b")
        await pilot.click("#prompt")
        await pilot.press(*"Once upon a time there was")
        await pilot.press("enter")
        left, right = app.query_one("#left", ChatPane), app.query_one("#right", ChatPane)
        await wait_for(pilot, lambda: left.turns and right.turns and not app.streaming)
        await pilot.pause(0.2)
        a, b = left.turns[0].state, right.turns[0].state
        assert (a.side, b.side) == ("right", "left")  # the adapter's reply is A, on the left
        assert a.reply and b.reply and a.reply != b.reply and not (a.held or b.held)
        assert "tok/s" in a.stats and "tok/s" in b.stats  # measured, only not shown
        text = screen_text(app)
        assert a.reply.split()[0] in text
        for name in ("dropped-in", model, "tok/s", "ttft", "base ·", "adapter ·"):
            assert name not in text, name
        await pilot.press("ctrl+t", "2")  # B better
        await pilot.pause(0.2)
        assert a.reveal == "you voted B better · A was adapter dropped-in · B was base"
        assert "tok/s" in screen_text(app)
        assert app.recorder.flush(10)
        (turn,) = SessionStore(sessions_dir()).load_session(app.recorder.session_id).turns
        assert turn.blind.vote == "b" and turn.blind.winner_side() == "left"
        assert turn.reply("right").adapter == "dropped-in"
