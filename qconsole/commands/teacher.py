"""``qconsole teacher``: the teacher headless: play a diagnostic script into both sides, decide
the marks it proposes, ask for the next question, draft a correction, make variants, judge.

The console's teacher keys call the same ``TeacherController``; this is its twin for scripts
and CI. Model text printed here goes through ``visible_text`` (escape sequences shown, never
run). Nothing the teacher suggests is stored unless a flag says so (``--accept``, ``--save``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qconsole.errors import QConsoleError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "teacher", help="the teacher: diagnostic scripts, proposed marks, drafts, variants, judge",
        description="An instruct model configured under [teacher] that steers the dialogue, "
                    "names failures, drafts corrections and multiplies them.",
    )
    parser.set_defaults(func=lambda _a: (parser.print_help(), 0)[1])
    acts = parser.add_subparsers(dest="teacher_action", metavar="ACTION")

    p = acts.add_parser("scripts", help="list the diagnostic scripts (shipped and yours)")
    p.set_defaults(func=run_scripts)

    p = acts.add_parser("play", help="play a script into both sides and propose marks")
    p.add_argument("script", help="a script name (see `qconsole teacher scripts`) or a .yaml")
    p.add_argument("--side", choices=("both", "left", "right"), default="both")
    p.add_argument("--no-judge", action="store_true",
                   help="rule checks only, even with a teacher configured")
    p.add_argument("--accept", action="store_true", help="accept every proposed mark at once")
    p.set_defaults(func=run_play)

    p = acts.add_parser("marks", help="list or decide a session's proposed marks")
    p.add_argument("session_id")
    p.add_argument("--accept", type=int, action="append", default=[], metavar="N")
    p.add_argument("--drop", type=int, action="append", default=[], metavar="N")
    p.add_argument("--edit", type=int, default=None, metavar="N",
                   help="accept mark N with --kind/--step/--reason changed")
    p.add_argument("--kind", default=None)
    p.add_argument("--step", default=None)
    p.add_argument("--reason", default=None)
    p.set_defaults(func=run_marks)

    p = acts.add_parser("next", help="the teacher's next question for a session")
    p.add_argument("session_id")
    p.add_argument("--side", choices=("left", "right"), default="left")
    p.set_defaults(func=run_next)

    p = acts.add_parser("draft", help="draft a correction (LEMA form) of one reply")
    p.add_argument("session_id")
    p.add_argument("turn_id")
    p.add_argument("--side", choices=("left", "right"), default="left")
    p.add_argument("--reference", default=None, help="the correct final answer, if known")
    save = p.add_mutually_exclusive_group()
    save.add_argument("--save", action="store_true", help="store the draft unchanged")
    save.add_argument("--edited", type=Path, default=None, metavar="FILE",
                      help="store this file's text as the correction (the edited draft; - for "
                           "stdin), with the draft's provenance")
    p.set_defaults(func=run_draft)

    p = acts.add_parser("variants", help="more like this: N new pairs for a marked failure")
    p.add_argument("session_id")
    p.add_argument("turn_id")
    p.add_argument("--side", choices=("left", "right"), default="left")
    p.add_argument("-n", type=int, default=10)
    p.add_argument("--gym", default=None, metavar="FAMILY",
                   help="generate from this reasoning-gym family or preset (no LLM)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="benchmark JSONL files to check for leakage (default: "
                        "$QCONSOLE_BENCHMARK_DATA)")
    p.add_argument("--probes", type=Path, action="append", default=[],
                   help="probe files to check for leakage")
    p.add_argument("--accept", default=None, metavar="all|1,2,5",
                   help="store these as synthetic corrections")
    p.set_defaults(func=run_variants)

    p = acts.add_parser("judge", help="compare two replies in both orders")
    p.add_argument("--run", default=None, metavar="RUN_ID",
                   help="judge every free-text item of a stored evaluation (base vs adapter)")
    p.add_argument("--prompt", default=None)
    p.add_argument("--a", default=None)
    p.add_argument("--b", default=None)
    p.add_argument("--reference", default=None)
    p.set_defaults(func=run_judge)


def _out(text: str) -> None:
    from qconsole.text_safety import visible_text

    print(visible_text(text))


def _controller(*, need_teacher: bool = False):
    from qconsole.config import load_config
    from qconsole.paths import sessions_dir
    from qconsole.store import SessionStore
    from qconsole.teacher.config import require_teacher_spec, teacher_spec_from_config
    from qconsole.teacher.controller import TeacherController

    cfg = load_config()
    spec = require_teacher_spec(cfg) if need_teacher else teacher_spec_from_config(cfg)
    return TeacherController(SessionStore(sessions_dir()), spec=spec, aliases=cfg.models), cfg


def run_scripts(args: argparse.Namespace) -> int:
    from qconsole.teacher.scripts import SHIPPED_DIR, load_script_file, script_files

    for name, path in sorted(script_files().items()):
        where = "shipped" if path.parent == SHIPPED_DIR else str(path.parent)
        try:
            s = load_script_file(path)
            _out(f"{name}\t{len(s.turns)} turns\t{s.title}\t({where})")
        except QConsoleError as exc:
            _out(f"{name}\tbroken: {exc}\t({where})")
    return 0


def run_play(args: argparse.Namespace) -> int:
    from qconsole.chat.loader import load_sides
    from qconsole.teacher.scripts import find_script

    script = find_script(args.script)
    ctl, cfg = _controller()
    left, right, note = load_sides(cfg, cfg.template)
    sides = {"left": left, "right": right}
    if args.side != "both":
        sides = {args.side: sides[args.side]}
    missing = [k for k, v in sides.items() if v is None]
    first_line = (note or "no adapter").strip().splitlines()[0]
    if missing and args.side != "both":
        raise QConsoleError(f"the {missing[0]} side has no model: {first_line}")
    sides = {k: v for k, v in sides.items() if v is not None}
    if missing:
        print(f"(right side empty: {first_line} playing the left side only)", file=sys.stderr)
    if not ctl.has_teacher and not args.no_judge:
        print("(no teacher configured: rule checks only)", file=sys.stderr)

    def show(played) -> None:
        _out(f"\n## {played.turn.id}" + (f" [{played.turn.step}]" if played.turn.step else ""))
        _out(f"User: {played.user}")
        for name, reply in played.replies.items():
            _out(f"{name}: {reply}")
            for check, outcome in played.outcomes[name]:
                verdict = {True: "pass", False: "FAIL", None: "undecided"}[outcome.passed]
                _out(f"    {check}: {verdict}: {outcome.reason}")

    result = ctl.play(script, sides, cfg.sampling, use_judge=not args.no_judge, on_turn=show)
    assert result.session_id is not None
    props = ctl.proposals(result.session_id)
    _out(f"\nsession {result.session_id}: {len(props)} proposed mark(s)")
    for i, p in enumerate(props, 1):
        _out(f"  {i}. {p.line()}")
    if args.accept:
        for i in range(len(props)):
            ctl.accept_mark(result.session_id, i)
        _out(f"accepted {len(props)} mark(s)")
    elif props:
        _out(f"decide: qconsole teacher marks {result.session_id} --accept N / --drop N")
    ctl.close()
    return 0


def run_marks(args: argparse.Namespace) -> int:
    ctl, _ = _controller()
    sid = args.session_id
    for n in args.accept:
        _out(f"accepted: {ctl.accept_mark(sid, n - 1).line()}")
    for n in args.drop:
        _out(f"dropped: {ctl.drop_mark(sid, n - 1).line()}")
    if args.edit is not None:
        p = ctl.edit_mark(sid, args.edit - 1, kind=args.kind, step=args.step, reason=args.reason)
        _out(f"edited: {p.line()}")
    for i, p in enumerate(ctl.proposals(sid), 1):
        _out(f"  {i}. [{p.status}] {p.line()}")
    return 0


def run_next(args: argparse.Namespace) -> int:
    ctl, _ = _controller(need_teacher=True)
    _out(ctl.next_question_for(args.session_id, args.side))
    ctl.close()
    return 0


def run_draft(args: argparse.Namespace) -> int:
    ctl, _ = _controller(need_teacher=True)
    draft = ctl.draft(args.session_id, args.turn_id, args.side, reference=args.reference)
    _out(draft.text())
    if not draft.parsed:
        _out("(the teacher did not follow the format: its whole answer is offered as the "
             "corrected reply)")
    final = None
    if args.save:
        final = draft.corrected
    elif args.edited is not None:
        try:
            final = (sys.stdin.read() if str(args.edited) == "-" else
                     args.edited.read_text(encoding="utf-8"))
        except OSError as exc:
            raise QConsoleError(f"cannot read {args.edited}: {exc.strerror or exc}") from None
    if final is not None:
        prov = ctl.save_draft(args.session_id, args.turn_id, args.side, draft, final)
        _out(f"saved as the correction ({prov['accepted']}; teacher {prov['teacher']}, "
             f"prompt {prov['prompt_hash']})")
    ctl.close()
    return 0


def _selection(text: str, n: int) -> list[int]:
    if text.strip() == "all":
        return list(range(n))
    try:
        picked = [int(x) - 1 for x in text.split(",") if x.strip()]
    except ValueError:
        raise QConsoleError("--accept takes 'all' or numbers like 1,2,5") from None
    bad = [i + 1 for i in picked if not 0 <= i < n]
    if bad:
        raise QConsoleError(f"no variant {bad[0]}; there are {n} kept")
    return picked


def run_variants(args: argparse.Namespace) -> int:
    import os

    from qconsole.teacher.overlap import eval_index, workspace_eval_items

    ctl, _ = _controller()
    data_dir = args.data_dir or os.environ.get("QCONSOLE_BENCHMARK_DATA") or None
    items, sources = workspace_eval_items(data_dir=data_dir, probe_files=args.probes)
    evals = eval_index(items, sources)
    variants = ctl.variants(args.session_id, args.turn_id, args.side, args.n, gym=args.gym,
                            evals=evals)
    kept = [v for v in variants if v.kept]
    _out(f"{len(kept)} variant(s) kept; leakage checked against {len(items)} evaluation "
         f"item(s): {', '.join(sources) or 'none found'}")
    for i, v in enumerate(kept, 1):
        _out(f"{i}. Q: {v.prompt}\n   A: {v.reply}   [{v.source}]")
    for v in variants:
        if not v.kept:
            _out(f"-  dropped ({v.dropped}): {v.prompt[:100]}")
    if args.accept:
        chosen = [kept[i] for i in _selection(args.accept, len(kept))]
        ids = ctl.store_variants(args.session_id, args.turn_id, args.side, chosen)
        _out(f"stored {len(ids)} synthetic correction(s) "
             "(train includes them; `qconsole train --no-synthetic` leaves them out)")
    ctl.close()
    return 0


def run_judge(args: argparse.Namespace) -> int:
    from qconsole.teacher.judge import judge_pair

    ctl, _ = _controller(need_teacher=True)
    if args.run:
        from qconsole.evaluation.store import RunStore

        run = RunStore().get(args.run)
        report = ctl.judge_items([i for i in run.items() if i.reference is None
                                  or i.suite.startswith("in-domain")])
        for line in report.lines():
            _out(line)
    else:
        if not (args.prompt and args.a and args.b):
            raise QConsoleError("give --run RUN_ID, or --prompt with --a and --b")
        v = judge_pair(ctl.teacher, args.prompt, args.a, args.b, args.reference)
        _out(f"a first: {v.first}; b first: {v.second}; winner: {v.winner}")
    ctl.close()
    return 0
