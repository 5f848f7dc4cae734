"""What an evaluation run is asked to do, and how the console hands that to a job.

:class:`EvalRequest` is JSON-serialisable: the CLI builds one from its flags, the console writes
one with :func:`save_request` and starts ``qconsole eval --request FILE`` (:func:`eval_job_argv`)
as a background job (qconsole.jobs), so both run exactly the same thing.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.benchmark_data import DEFAULT_BENCHMARKS
from qconsole.evaluation.panel import DEFAULT_PANEL
from qconsole.evaluation.store import RunStore, write_json
from qconsole.evaluation.suites import IN_DOMAIN, SuiteSpec, benchmark_suite

DEFAULT_FORGETTING_THRESHOLD = 2.0  # points of pooled panel accuracy


@dataclass
class EvalRequest:
    """Everything a run needs; JSON-serialisable so the console can hand it to a subprocess."""

    model: str | None = None  # model spec (qconsole.models.resolve); None: the config's
    adapter: str | None = None  # registry name, PEFT dir or GGUF LoRA file; None: base vs base
    suites: list[SuiteSpec] = field(default_factory=list)
    limit: int | None = None  # default per-suite limit (a suite's own limit wins)
    data_dir: str | None = None  # local benchmark JSONL folder; None: package data or the hub
    include_path: str | None = None  # the user's own lm-eval task folder (--include-path)
    use_hub: bool = True  # False: never download (benchmarks without local data are skipped)
    template: str | None = None  # prompt template; None: the config's
    max_tokens: int | None = None  # reply length for generation suites; None: the config's
    n_ctx: int | None = None
    threads: int | None = None  # None: every core, or half of them with ``background``
    background: bool = False  # a console job beside the chat: leave the chat its cores
    parallel: int | None = None  # engines side by side (one thread each); None: one per thread
    cache: bool = True  # reuse the base side's answers (qconsole.evaluation.base_cache)
    cache_path: str | None = None  # None: the workspace's evals/.cache/
    forgetting_threshold: float = DEFAULT_FORGETTING_THRESHOLD
    evals_root: str | None = None
    sessions_root: str | None = None
    run_id: str | None = None
    engine: str = "llama.cpp"  # or "vllm" (qconsole/evaluation/vllm_engine.py)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["suites"] = [s.to_dict() for s in self.suites]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalRequest:
        known = set(cls.__dataclass_fields__)
        unknown = [k for k in data if k not in known]
        if unknown:
            raise QConsoleError(f"evaluation request: unknown key {unknown[0]!r}")
        d = dict(data)
        d["suites"] = [SuiteSpec.from_dict(s) for s in d.get("suites") or []]
        return cls(**d)


def default_suites(
    *,
    in_domain: bool = True,
    benchmarks: Iterable[str] = DEFAULT_BENCHMARKS,
    panel: Iterable[str] = DEFAULT_PANEL,
    extra: Iterable[SuiteSpec] = (),
) -> list[SuiteSpec]:
    """in-domain, then ``extra`` (probes, gym), then benchmarks, then the forgetting panel
    (benchmarks, and the generated part: qconsole.evaluation.panel)."""
    from qconsole.evaluation.panel import generated_panel_suite, is_generated_panel

    panel = list(dict.fromkeys(panel))
    out = [SuiteSpec(name=IN_DOMAIN, kind="in-domain", distance="in-domain")] if in_domain else []
    out.extend(extra)
    out.extend(benchmark_suite(t) for t in dict.fromkeys(benchmarks) if t not in panel)
    out.extend(generated_panel_suite(t) if is_generated_panel(t) else benchmark_suite(t, panel=True)
               for t in panel)
    return out


def save_request(request: EvalRequest) -> Path:
    """Write ``request`` where the evals live (``.requests/``, never listed as a run)."""
    folder = RunStore(request.evals_root).root / ".requests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{id(request):x}.json"
    write_json(path, request.to_dict())
    return path


def eval_job_argv(request_path: str | os.PathLike[str], *, judge: bool = False) -> list[str]:
    """The argv the console gives ``qconsole.jobs.start_job`` for a stored request (save it with
    ``background=True``: the chat keeps its share of the cores); ``judge``: the configured
    teacher judges the free-text items after the run (``--judge``)."""
    return [sys.executable, "-m", "qconsole", "eval", "--request", str(request_path),
            "--progress-jsonl", "-", *(["--judge"] if judge else [])]
