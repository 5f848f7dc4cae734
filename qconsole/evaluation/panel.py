"""The forgetting panel's generated part: built-in probe suites asked by generation and read
flexibly, beside the log-likelihood benchmarks.

Why: forgetting that log-likelihood cannot see. After 50 arithmetic corrections the adapter's
log-likelihood panel stayed level, yet it answered an ordinary yes/no question in the trained
arithmetic shape. ``general_qa`` (``data/general_qa.yaml``: 16 yes/no, 16 multiple-choice and
8 short questions, balanced answers) catches that, and its replies feed the format-bleed line
(qconsole.evaluation.bleed). The default panel is the benchmarks plus this part; ``--panel``
takes either kind of name.
"""

from __future__ import annotations

from pathlib import Path

from qconsole.evaluation.benchmark_data import FORGETTING_PANEL
from qconsole.evaluation.suites import SuiteSpec

_DATA = Path(__file__).with_name("data")
GENERATED_PANEL: dict[str, Path] = {"general_qa": _DATA / "general_qa.yaml"}
DEFAULT_PANEL: tuple[str, ...] = (*FORGETTING_PANEL, *GENERATED_PANEL)


def is_generated_panel(name: str) -> bool:
    return name in GENERATED_PANEL


def generated_panel_suite(name: str) -> SuiteSpec:
    """A built-in generated panel suite (a probe file shipped with qconsole)."""
    return SuiteSpec(name=name, kind="probes", path=str(GENERATED_PANEL[name]), panel=True,
                     topic="general", distance="far")
