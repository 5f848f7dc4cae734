"""``qconsole report``: a Markdown or HTML report of stored evaluation runs and their cycles.

The numbers are recomputed from the stored per-item records, so they are the same ones the
console and ``qconsole eval`` showed. Runs that did not complete are left out unless
``--include-partial``, and then every one of them is headed PARTIAL. The A/B judgements of the
stored sessions (blind votes, and sighted preferences apart) get a section of their own.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a Markdown/HTML report of stored evaluations",
                       description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", metavar="RUN_ID",
                   help="runs to report (default: every complete run)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="report file, .md or .html (default: <evals>/report.md)")
    p.add_argument("--format", choices=("md", "html"), help="default: from the file name")
    p.add_argument("--latest", action="store_true", help="only the latest run")
    p.add_argument("--include-partial", action="store_true",
                   help="also show cancelled, failed or crashed runs (marked PARTIAL)")
    p.add_argument("--evals", metavar="DIR", help="the evals folder (default: <workspace>/evals)")
    p.add_argument("--sessions", metavar="DIR",
                   help="sessions folder for the A/B section (default: <workspace>/sessions)")
    p.add_argument("--list", action="store_true", help="list stored runs and exit")
    p.add_argument("--ledger", metavar="FILE",
                   help="the cycle ledger whose cycles to show (default: the workspace's newest "
                        "ledger of `qconsole cycle`, if its runs are in these evals)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qconsole.errors import QConsoleError
    from qconsole.evaluation.report import build_report
    from qconsole.evaluation.store import RunStore

    store = RunStore(args.evals)
    every = store.runs()
    if args.list:
        for r in every:
            print(f"{r.run_id}\t{r.status}\t{r.adapter_name or '(base vs base)'}\t{r.created}")
        if not every:
            print(f"(no evaluation runs in {store.root})")
        return 0
    if args.runs:
        runs = [store.get(run_id) for run_id in args.runs]
    else:
        runs = [r for r in every if r.is_final or args.include_partial]
        if args.latest:
            runs = runs[-1:]
    ab = _ab_summary(args.sessions)
    if not runs and ab.empty:
        raise QConsoleError(f"no {'stored' if args.include_partial else 'complete'} evaluation "
                            f"runs in {store.root} and no A/B votes; run `qconsole eval` first")
    output = Path(args.output) if args.output else store.root / (
        f"report.{args.format or 'md'}")
    growth = _ledger_growth(args, store)
    path = build_report(runs, output, fmt=args.format, cycles_from=every, ab=ab,
                        cycles=growth.for_report() if growth is not None else None)
    if growth is not None and growth.cycles:
        import sys

        from qconsole.cycles.charts import text_chart
        from qconsole.cycles.report import write_growth_report

        grown = write_growth_report(growth, output.with_name(f"{output.stem}-growth.md"))
        print(text_chart(growth.matrix()), file=sys.stderr)
        print(grown)
    print(path)
    return 0


def _ab_summary(sessions: str | None):
    """The A/B section's figures from the session store (``evaluation/ab_report.py``)."""
    from qconsole.evaluation.ab_report import summarize_store
    from qconsole.paths import sessions_dir
    from qconsole.store.store import SessionStore

    return summarize_store(SessionStore(sessions or sessions_dir()))


def _ledger_growth(args: argparse.Namespace, store):  # -> Growth | None
    """The growth of the cycle ledger to report (``--ledger``, else the workspace's newest one
    whose evaluation runs live in ``store``), or None."""
    from pathlib import Path

    from qconsole.cycles.growth import growth_from_ledger
    from qconsole.cycles.ledger import Ledger, find_ledgers
    from qconsole.errors import QConsoleError
    from qconsole.paths import workspace_dir

    paths = [Path(args.ledger)] if args.ledger else find_ledgers(workspace_dir())
    for path in reversed(paths):
        ledger = Ledger.read(path)
        try:
            return growth_from_ledger(ledger, store.root)
        except QConsoleError:
            if args.ledger:
                raise
    return None
