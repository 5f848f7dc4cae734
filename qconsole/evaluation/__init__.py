"""Model-free parts of evaluation: probe suites, checkers, per-item records and statistics.

Why model-free: everything here can be tested by hand-computed numbers without loading a model,
and the same code serves the console pane, ``qconsole eval`` and ``qconsole report``. The model
backend produces replies (or log-likelihood choices); this package turns them into per-item
records and honest statistics.

Modules, one job each:
- ``results``: ``ItemResult`` per-item records and their JSON-lines form.
- ``stats``: Wilson intervals, paired and cluster-robust differences, McNemar, flips.
- ``cycles``: topic-by-cycle accuracy matrix, GEM ACC/BWT/FWT, forgetting-panel flag.
- ``checkers``: reading answers out of replies (text only, a leaf module).
- ``readings``: scoring a reply two ways, strict and flexible, per checker kind.
- ``baselines``: the constant-answer baseline of suites with a closed answer set.
- ``leakage``: eval items that repeat training corrections, compared on content.
- ``rows``: one results-table row per suite (both readings, baseline, leaks left out).
- ``bleed``: "format bleed", replies to unrelated prompts in the trained corrections' shape.
- ``probes``: user-written YAML/JSONL probe sets with file:line validation.
- ``gym_suites``: reasoning-gym generated suites (reasoning-gym is imported lazily).
"""

from qconsole.evaluation.checkers import Checker
from qconsole.evaluation.cycles import (
    AccuracyMatrix,
    CycleResults,
    ForgettingCheck,
    GemMetrics,
    accuracy_matrix,
    forgetting_check,
    gem_metrics,
)
from qconsole.evaluation.gym_suites import (
    PRESETS,
    GymSuiteConfig,
    build_gym_suite,
    gym_families,
    preset,
)
from qconsole.evaluation.probes import ProbeItem, ProbeSet, load_probe_file, parse_probe_text
from qconsole.evaluation.readings import Reading, check, check_with, read
from qconsole.evaluation.results import ItemResult, read_jsonl, write_jsonl
from qconsole.evaluation.stats import (
    FlipTable,
    PairedComparison,
    compare,
    compare_by,
    mcnemar_exact,
    wilson_interval,
)

__all__ = [
    "PRESETS",
    "AccuracyMatrix",
    "Checker",
    "CycleResults",
    "FlipTable",
    "ForgettingCheck",
    "GemMetrics",
    "GymSuiteConfig",
    "ItemResult",
    "PairedComparison",
    "ProbeItem",
    "ProbeSet",
    "Reading",
    "accuracy_matrix",
    "build_gym_suite",
    "check",
    "check_with",
    "compare",
    "compare_by",
    "forgetting_check",
    "gem_metrics",
    "gym_families",
    "load_probe_file",
    "mcnemar_exact",
    "parse_probe_text",
    "preset",
    "read",
    "read_jsonl",
    "wilson_interval",
    "write_jsonl",
]
