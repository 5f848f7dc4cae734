"""One evaluation run: base and adapter over every suite, per-item results, honest comparisons.

Why one loaded model: the base and the adapter are compared on identical weights, the adapter
switched on the llama.cpp context (qconsole.inference.llama_engine). Each suite is run for the
base, then for the adapter, so that every finished suite is a complete paired comparison; the
run is stored after each suite (qconsole.evaluation.store), which is what makes a cancelled or
crashed run still show what it finished, marked partial.

Without an adapter the "adapter" pass is the base again, after dropping the KV cache: every
difference must then be exactly zero and nothing may flip. That is a real check of the
machinery (determinism, pairing, scoring), not a placeholder.

Runs in the console as a job (qconsole.jobs.start_job with :func:`eval_job_argv` of a request
written by :func:`save_request`)::

    qconsole eval --request <evals>/.requests/<id>.json --progress-jsonl -

writing the job protocol's JSON-lines events (qconsole.jobs.events): ``start`` (suites and
their item counts, ``skipped``: benchmarks without data and why), ``phase`` (``load``,
``suite``), ``progress`` (``step``/``total_steps`` over the whole run, plus ``suite``,
``side``, ``suite_done``, ``suite_total``, ``eta_s`` for the suite and ``run_eta_s``), ``log``
(warnings, leakage, skipped benchmarks), ``suite_done`` (``suite`` and its ``comparison``),
then exactly one of ``done`` (``run_dir``, ``table``), ``cancelled`` or ``error`` (both with
``run_dir`` and ``partial: true``). SIGTERM or SIGINT cancels between two model calls.

Where each step lives (one job per module):

- ``request``: :class:`EvalRequest`, the default suites, saving a request for a job;
- ``setup``: model, adapter, corrections, the stored run, every suite's items;
- ``suite_run``: one suite, base then adapter, into paired per-item records;
- ``document``: ``results.json``, the forgetting check and the table, after every suite;
- ``progress``: the ``progress`` events and ETAs;
- ``qconsole.jobs.child``: signals and quiet libraries, shared with training jobs.
"""

from __future__ import annotations

import threading

from qconsole.errors import QConsoleError
from qconsole.evaluation.document import finish_document, run_table
from qconsole.evaluation.progress import Progress
from qconsole.evaluation.request import EvalRequest
from qconsole.evaluation.setup import EvalContext, prepare_suites, setup_run
from qconsole.evaluation.store import StoredRun, update_manifest
from qconsole.evaluation.suite_run import run_suite
from qconsole.inference.llama_engine import EvalCancelled
from qconsole.jobs.events import Emit


def run_evaluation(
    request: EvalRequest,
    *,
    emit: Emit | None = None,
    cancel: threading.Event | None = None,
) -> StoredRun:
    """Run ``request``; return the stored run (status ``complete``, or raise after storing a
    ``cancelled``/``failed`` partial run). ``emit(kind, **fields)`` receives the events."""
    emit = emit or (lambda kind, **fields: None)
    cancel = cancel or threading.Event()
    run: StoredRun | None = None
    ctx: EvalContext | None = None
    try:
        emit("phase", phase="load")
        ctx = setup_run(request, emit, cancel)
        run = ctx.run
        prepared = prepare_suites(ctx)
        update_manifest(run, item_counts={p.spec.name: p.n_items for p in prepared},
                        warnings=ctx.warnings)
        total = sum(p.n_items for p in prepared)
        emit("start", run_id=run.run_id, run_dir=str(run.path),
             model=run.manifest["model"]["name"], adapter=run.manifest.get("adapter"),
             suites=[{"name": p.spec.name, "kind": p.spec.kind, "items": p.n_items,
                      "panel": p.spec.panel} for p in prepared],
             total_items=total, skipped=ctx.skipped)
        for w in ctx.warnings:
            emit("log", level="warning", message=w)
        progress = Progress(emit, total)
        for p in prepared:
            run_suite(ctx, p, progress)
        finish_document(ctx, "complete")
        emit("done", run_id=run.run_id, run_dir=str(run.path), status="complete",
             table=run_table(ctx), forgetting=ctx.forgetting, skipped=ctx.skipped)
        return run
    except (EvalCancelled, KeyboardInterrupt):
        if ctx is not None:
            finish_document(ctx, "cancelled")
        emit("cancelled", run_dir=str(run.path) if run else None, partial=True,
             completed_suites=ctx.completed if ctx else [])
        raise
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not isinstance(exc, QConsoleError):
            message = f"{type(exc).__name__}: {message}"
        if ctx is not None:
            finish_document(ctx, "failed", error=message)
        emit("error", message=message, run_dir=str(run.path) if run else None, partial=True)
        raise
    finally:
        if ctx is not None:
            ctx.close()
