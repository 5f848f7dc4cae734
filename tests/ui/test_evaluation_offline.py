"""F6 offline, for real: one benchmark has local data, the other has none and no hub. The dialog
says so before the start, the evaluation completes with everything else, and the missing
benchmark is marked skipped (with its reason) instead of failing the run."""

import shutil

import pytest
from textual.widgets import Input, Label

from qconsole.config import Config
from qconsole.evaluation.store import RunStore
from qconsole.paths import adapters_dir
from qconsole.sampling import SamplingSettings
from qconsole.ui.app import QConsoleApp
from qconsole.ui.jobs_pane import JobView
from qconsole.ui.screens.evaluate import EvaluateScreen

pytestmark = pytest.mark.slow


async def test_f6_offline_runs_what_it_can_and_marks_the_rest_skipped(
        benchmark_data, tmp_path, monkeypatch, make_peft_adapter, wait_for):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no hub, whatever the machine has
    monkeypatch.delenv("QCONSOLE_BENCHMARK_DATA", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(benchmark_data / "arc_easy_test.jsonl", data)  # and no WinoGrande file
    make_peft_adapter(adapters_dir() / "offline-adapter", r=8, b_std=0.03, seed=5)
    app = QConsoleApp(Config(sampling=SamplingSettings(temperature=0.0, max_tokens=24),
                             n_ctx=1024))
    async with app.run_test(size=(160, 60)) as pilot:
        await wait_for(pilot, lambda: not app.query_one("#prompt").disabled, timeout=300)
        assert app.sides["right"].adapter_name == "offline-adapter"
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, EvaluateScreen))
        fields = {"f-gym": "chain_sum", "f-tasks": "arc_easy", "f-panel": "winogrande",
                  "f-limit": "2", "f-data": str(data)}
        for field, value in fields.items():
            app.screen.query_one(f"#{field}", Input).value = value
        label = app.screen.query_one("#availability", Label)
        # the check runs again after every change: wait for the one of these fields
        await wait_for(pilot, lambda: f"arc_easy: local ({data})" in str(label.render()),
                       timeout=30)
        shown = str(label.render())
        assert "winogrande: unavailable" in shown and "will be skipped" in shown
        assert "gsm8k_cot" not in shown  # the default benchmark is no longer asked for

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: list(app.query(JobView)))
        view = app.query_one(JobView)
        await wait_for(pilot, lambda: view.finished, timeout=1200)
        outcome = str(view.query_one("#outcome").render())
        assert view.has_class("done"), outcome
        assert "skipped (no data): winogrande" in outcome
        suites = [row["suite"] for row in view.comparisons]
        assert any("chain_sum" in s for s in suites) and "arc_easy" in suites
        assert "winogrande" not in suites

    run = RunStore().latest(adapter="offline-adapter")
    assert run is not None and run.is_final and run.status == "complete"
    skipped = run.results()["skipped"]
    assert [s["suite"] for s in skipped] == ["winogrande"]
    assert "no local file" in skipped[0]["reason"] and "hub" in skipped[0]["reason"]
