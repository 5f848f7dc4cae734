"""The forgetting panel's generated part: built-in probe suites asked by generation and read
flexibly, beside the log-likelihood benchmarks.

Why: forgetting that log-likelihood cannot see. After 50 arithmetic corrections the adapter's
log-likelihood panel stayed level, yet it answered an ordinary yes/no question in the trained
arithmetic shape. ``general_qa`` (``data/general_qa.yaml``: 16 yes/no, 16 multiple-choice and
8 short questions, balanced answers) catches that, and its replies feed the format-bleed line
(qconsole.evaluation.bleed). ``gsm8k_slice`` adds a slice of a generative benchmark: the first
``SLICE_SIZE`` GSM8K test questions asked as chat turns, read flexibly by the final number
(qconsole.evaluation.benchmark_slice); it needs the local benchmark data and is skipped, with
its reason, without it. The default panel is the benchmarks plus this part; ``--panel`` takes
either kind of name.
"""

from __future__ import annotations

from pathlib import Path

from qconsole.evaluation.benchmark_data import FORGETTING_PANEL
from qconsole.evaluation.suites import SuiteSpec

_DATA = Path(__file__).with_name("data")
GENERATED_PANEL: dict[str, Path] = {"general_qa": _DATA / "general_qa.yaml"}
# name -> the benchmark sliced (qconsole.evaluation.benchmark_slice.SLICE_BENCHMARKS)
SLICE_PANEL: dict[str, str] = {"gsm8k_slice": "gsm8k"}
SLICE_SIZE = 10  # keeps the default panel's generated part to about a minute a side on 2 cores
DEFAULT_PANEL: tuple[str, ...] = (*FORGETTING_PANEL, *GENERATED_PANEL, *SLICE_PANEL)


def is_generated_panel(name: str) -> bool:
    return name in GENERATED_PANEL or name in SLICE_PANEL


def generated_panel_suite(name: str) -> SuiteSpec:
    """A built-in generated panel suite: a probe file shipped with qconsole, or a slice of a
    benchmark's local data (its file is looked up when the run starts)."""
    if name in SLICE_PANEL:
        return SuiteSpec(name=name, kind="probes", task=SLICE_PANEL[name], limit=SLICE_SIZE,
                         panel=True, topic="math word problems", distance="far")
    return SuiteSpec(name=name, kind="probes", path=str(GENERATED_PANEL[name]), panel=True,
                     topic="general", distance="far")
