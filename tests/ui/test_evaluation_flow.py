"""Evaluation by key for real: with an adapter in the right pane, F6 launches `qconsole eval`
as a subprocess; the jobs pane shows progress, then the before/after table (suite, base,
adapter, difference, interval, p, flips), and the run is stored for review and reports."""

import pytest
from textual.widgets import Input, TextArea

from qconsole.config import Config
from qconsole.evaluation.store import RunStore
from qconsole.paths import adapters_dir
from qconsole.sampling import SamplingSettings
from qconsole.ui.app import QConsoleApp
from qconsole.ui.jobs_pane import JobView
from qconsole.ui.screens.evaluate import EvaluateScreen
from qconsole.ui.screens.evaluations import EvaluationsScreen
from qconsole.ui.screens.review import ReviewScreen
from qconsole.ui.screens.rewrite import RewriteScreen

pytestmark = pytest.mark.slow


async def test_evaluate_by_key_shows_the_table(benchmark_data, make_peft_adapter, wait_for, send):
    make_peft_adapter(adapters_dir() / "probe-adapter", r=8, b_std=0.03, seed=5)
    app = QConsoleApp(Config(sampling=SamplingSettings(temperature=0.0, max_tokens=24),
                             n_ctx=1024))
    async with app.run_test(size=(160, 60)) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled, timeout=300)
        assert app.sides["right"].adapter_name == "probe-adapter"
        await send(pilot, app, "What is 7 + 5?")
        await pilot.press("ctrl+t", "m", "r", "w")
        await wait_for(pilot, lambda: isinstance(app.screen, RewriteScreen))
        app.screen.query_one(TextArea).text = "7 + 5 = 12. The answer is 12."
        await pilot.press("ctrl+s")

        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, EvaluateScreen))
        fields = {"f-gym": "chain_sum", "f-tasks": "arc_easy", "f-panel": "hellaswag",
                  "f-limit": "3", "f-data": str(benchmark_data)}
        for field, value in fields.items():
            app.screen.query_one(f"#{field}", Input).value = value
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: list(app.query(JobView)))
        view = app.query_one(JobView)
        await wait_for(pilot, lambda: view.finished, timeout=1200)
        assert view.has_class("done"), str(view.query_one("#outcome").render())
        suites = [row["suite"] for row in view.comparisons]
        assert any("in-domain" in s for s in suites)
        assert any("chain_sum" in s for s in suites)
        assert any("arc_easy" in s for s in suites)
        assert any("hellaswag" in s for s in suites)
        for row in view.comparisons:
            assert row["n"] >= 1 and row["label"] in {"improved", "regressed", "not significant"}
        svg = app.export_screenshot()  # what is on screen: the table with its columns
        for text in ("base", "adapter", "diff", "95", "not"):
            assert text in svg

        run = RunStore().latest(adapter="probe-adapter")
        assert run is not None and run.is_final

        # the same numbers again in review: F4, then e
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvaluationsScreen))
        await pilot.pause(0.3)
        assert app.screen.runs[0].run_id == run.run_id
        review_svg = app.export_screenshot()
        assert "1 cycle(s): probe-adapter" in review_svg.replace("&#160;", " ")
        assert "forgetting" in review_svg
