"""The compare flow for real: a PEFT adapter dropped into adapters/, the console loads it into
the right pane (converted to a GGUF LoRA, applied by llama.cpp), one question gets two different
streamed answers, and F3 switches the adapter off again without reloading the model."""

import pytest

from qconsole.config import Config
from qconsole.paths import adapters_dir
from qconsole.sampling import SamplingSettings
from qconsole.ui.app import QConsoleApp
from qconsole.ui.chat_pane import ChatPane
from qconsole.ui.screens.adapters import AdapterPickerScreen

pytestmark = pytest.mark.slow


async def test_drop_in_adapter_answers_beside_the_base(make_peft_adapter, wait_for):
    make_peft_adapter(adapters_dir() / "dropped-in", r=8, b_std=0.05, seed=3)
    app = QConsoleApp(Config(sampling=SamplingSettings(temperature=0.0, max_tokens=20),
                             n_ctx=1024))
    async with app.run_test(size=(150, 45)) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled, timeout=300)
        right_side = app.sides["right"]
        assert right_side is not None and right_side.adapter_name == "dropped-in"
        assert right_side.backend is not app.sides["left"].backend  # both stream at once
        backend = right_side.backend
        await pilot.click("#prompt")
        await pilot.press(*"Once upon a time there was")
        await pilot.press("enter")
        left = app.query_one("#left", ChatPane)
        right = app.query_one("#right", ChatPane)
        await wait_for(pilot, lambda: right.turns and left.turns and not app.streaming)
        a, b = left.turns[0].state, right.turns[0].state
        assert a.reply and b.reply and a.error is None and b.error is None
        assert a.reply != b.reply  # the adapter really changes what the model says
        assert "tok/s" in b.stats

        # F3: pick "none"; the right pane falls back to its placeholder, nothing reloads
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, AdapterPickerScreen))
        await pilot.press("enter")  # the first option is "none"
        await wait_for(pilot, lambda: app.sides["right"] is None)
        # and back to the adapter: the parked llama.cpp context is reused, no reload
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, AdapterPickerScreen))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.sides["right"] is not None
                       and app.sides["right"].adapter_name == "dropped-in")
        assert app.sides["right"].backend is backend
