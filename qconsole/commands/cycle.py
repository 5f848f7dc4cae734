"""``qconsole cycle PLAN.yaml``: run the plan's cycles (probe, check, corrections, train,
evaluate, record), or resume them where a kill stopped them, then write the growth report.

Exit status: 0 every cycle done; 3 a human queue waits for review in the console (run the
same command again afterwards); 2 a problem to fix (bad plan, a plan that changed under its
ledger); 130 interrupted (the ledger keeps every finished step).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

WAITING = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cycle", help="run (or resume) a plan of training cycles",
                       description=__doc__.splitlines()[0])
    p.add_argument("plan", type=Path, metavar="PLAN.yaml")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for probing, training and evaluation (default: every core)")
    p.add_argument("--until-cycle", type=int, default=None, metavar="K",
                   help="stop after cycle K (the next run continues from there)")
    p.add_argument("--report", type=Path, default=None, metavar="FILE.md",
                   help="where to write the growth report (default: beside the ledger)")
    p.add_argument("--status", action="store_true",
                   help="show the ledger (what is finished) and run nothing")
    p.add_argument("--quiet", "-q", action="store_true", help="only the result lines")
    p.set_defaults(func=run)


def _status(ledger) -> None:
    from qconsole.cycles.view import step_marks

    for c in ledger.cycles:
        print(f"cycle {c['cycle']} ({', '.join(c.get('topics', []))}): {step_marks(c)}")
    if not ledger.cycles:
        print("no cycle started yet")


def run(args: argparse.Namespace) -> int:
    from qconsole.cycles.context import CycleContext
    from qconsole.cycles.growth import growth_from_ledger
    from qconsole.cycles.ledger import Ledger, ledger_path
    from qconsole.cycles.plan import load_plan
    from qconsole.cycles.report import write_growth_report
    from qconsole.cycles.runner import run_plan
    from qconsole.cycles.train_eval import check_panel_data
    from qconsole.errors import QConsoleError
    from qconsole.evaluation.store import evals_dir
    from qconsole.paths import adapters_dir, sessions_dir, workspace_dir

    plan = load_plan(args.plan)
    if args.threads is not None and args.threads < 1:
        raise QConsoleError("--threads must be at least 1")
    workspace = workspace_dir()
    if args.status and not ledger_path(workspace, plan.name).is_file():
        print("no cycle started yet")  # a look must not leave a ledger behind
        return 0
    if not args.status:  # before a ledger exists: a refusal leaves nothing behind
        check_panel_data(plan)
    ledger = Ledger.open(ledger_path(workspace, plan.name), plan_name=plan.name,
                         plan_hash=plan.hash, plan_path=str(args.plan.resolve()),
                         topics={t.name: t.kind for t in plan.topics})
    if args.status:
        _status(ledger)
        return 0

    def say(line: str) -> None:
        if not args.quiet or not line.startswith("  "):
            print(line, file=sys.stderr, flush=True)

    ctx = CycleContext(plan=plan, ledger=ledger, workspace=workspace, sessions=sessions_dir(),
                       adapters=adapters_dir(), evals=evals_dir(), say=say,
                       threads=args.threads)
    outcome = run_plan(ctx, until_cycle=args.until_cycle)
    if outcome.skipped:
        say(f"resumed: {len(outcome.skipped)} finished step(s) kept, "
            f"{len(outcome.ran)} run now")
    growth = growth_from_ledger(ledger, ctx.evals)
    output = args.report or ledger.folder / "report.md"
    write_growth_report(growth, output, plan=plan,
                        command=f"qconsole cycle {args.plan}")
    print(output)
    if outcome.waiting is not None:
        w = outcome.waiting
        say(f"cycle {w.cycle} waits for review: {len(w.pending)} queued turn(s) need a "
            "rewrite. Open the console (qconsole), F4 review, rewrite the sessions titled "
            f"'cycle {w.cycle} · ...' (e.g. {w.pending[0]!r}), then run this command again.")
        return WAITING
    return 0
