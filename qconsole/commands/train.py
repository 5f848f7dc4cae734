"""``qconsole train``: one training cycle from the command line, or as the console's subprocess.

The console starts ``qconsole train ... --progress-jsonl -`` through qconsole.jobs and reads the
events; a person runs the same command headless and reads the same run as text on stderr.
SIGTERM (the console's cancel) stops at the next step boundary; whatever was made is removed
and a ``cancelled`` event is the last line. Exit status: 0 done, 2 a problem to fix (nothing to
train on, bad settings), 130 cancelled, 1 an unexpected failure (one line; its traceback saved under
``<cache>/logs/``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, Unpack

from qconsole.errors import QConsoleError

if TYPE_CHECKING:
    from qconsole.jobs.events import EventFields, JobEvent


def register(sub: argparse._SubParsersAction) -> None:
    from qconsole.training.settings import (
        BACKENDS,
        BF16_CHOICES,
        OBJECTIVES,
        PRESET_HELP,
        PRESETS,
        SCHEDULES,
    )

    p = sub.add_parser(
        "train",
        help="train a fresh LoRA adapter on all corrections",
        description=(
            "Train a fresh LoRA adapter from the base model on every rewritten reply in the "
            "sessions (plus optional preference choices and replay data), convert it for "
            "llama.cpp, check it, and install it under adapters/."
        ),
    )
    data = p.add_argument_group("data")
    data.add_argument("--objective", choices=OBJECTIVES, default="sft",
                      help="sft: learn the rewritten replies (default); dpo: prefer the chosen "
                           "reply of each preference pair (rewrite over original, preferred "
                           "pane, blind vote winner) over the rejected one; sft+dpo: both, which "
                           "keeps the chosen replies likely (plain dpo lowers them too)")
    data.add_argument("--model", default=None,
                      help="base model spec (default: the configured chat model)")
    data.add_argument("--template", choices=("auto", "transcript", "chat"), default=None,
                      help="prompt template (default: the configured one, as the chat uses)")
    data.add_argument("--sessions", type=Path, default=None, metavar="DIR",
                      help="sessions directory (default: the workspace's sessions/)")
    data.add_argument("--session", action="append", dest="session_ids", metavar="ID",
                      help="only this session (repeatable)")
    data.add_argument("--kind", default=None, help="only corrections marked with this kind")
    data.add_argument("--preferences", action="store_true",
                      help="also train on the chosen side of left/right preferences")
    data.add_argument("--no-synthetic", dest="synthetic", action="store_false",
                      help="leave out synthetic corrections (the teacher's 'more like this' "
                           "variants); by default they are trained on")
    data.add_argument("--replay", type=Path, default=None, metavar="JSONL",
                      help="replay conversations mixed in against forgetting")
    data.add_argument("--replay-max", type=int, default=None, metavar="N",
                      help="at most N replay examples (a seeded random subset)")
    data.add_argument("--hf-model", type=Path, default=None, metavar="DIR",
                      help="train on these Hugging Face weights of the same base instead of "
                           "the dequantised GGUF")

    hp = p.add_argument_group("hyper-parameters (override the preset)")
    hp.add_argument("--preset", choices=tuple(PRESETS), default="default",
                    help="; ".join(f"{k}: {v}" for k, v in PRESET_HELP.items()))
    hp.add_argument("--rank", "-r", type=int, default=None)
    hp.add_argument("--alpha", type=float, default=None)
    hp.add_argument("--dropout", type=float, default=None)
    hp.add_argument("--targets", default=None, metavar="M1,M2",
                    help="LoRA target modules (default: all linear layers of the blocks)")
    hp.add_argument("--lr", type=float, default=None, dest="learning_rate")
    hp.add_argument("--epochs", type=int, default=None)
    hp.add_argument("--batch-size", type=int, default=None)
    hp.add_argument("--grad-accum", type=int, default=None)
    hp.add_argument("--min-steps", type=int, default=None,
                    help="make more passes over a tiny set until this many steps")
    hp.add_argument("--max-steps", type=int, default=None)
    hp.add_argument("--max-seq-len", type=int, default=None)
    hp.add_argument("--warmup-ratio", type=float, default=None)
    hp.add_argument("--schedule", choices=SCHEDULES, default=None)
    hp.add_argument("--weight-decay", type=float, default=None)
    hp.add_argument("--max-grad-norm", type=float, default=None)
    hp.add_argument("--seed", type=int, default=None)
    hp.add_argument("--bf16", choices=BF16_CHOICES, default=None,
                    help="bf16 autocast (auto: where the CPU/GPU has bf16 arithmetic)")
    hp.add_argument("--threads", type=int, default=None, help="CPU threads for training")
    hp.add_argument("--beta", type=float, default=None,
                    help="DPO: how far the adapter may move from the base (default 0.1)")
    hp.add_argument("--sft-weight", type=float, default=None,
                    help="sft+dpo: weight of the chosen reply's SFT loss (default 1)")
    hp.add_argument("--backend", choices=BACKENDS, default=None,
                    help="auto: data-parallel PEFT (ddp) on several CUDA GPUs, Unsloth on one "
                         "(with the gpu extra; PEFT on CUDA without it), else cpu")

    out = p.add_argument_group("output")
    out.add_argument("--name", default=None, help="adapter name (default: lora-<date-time>)")
    out.add_argument("--adapters", type=Path, default=None, metavar="DIR",
                     help="adapters directory (default: the workspace's adapters/)")
    out.add_argument("--no-verify", dest="verify", action="store_false",
                     help="skip the llama.cpp vs transformers equivalence check")
    out.add_argument("--dry-run", action="store_true",
                     help="show the training set and settings, train nothing")
    out.add_argument("--preview", type=int, default=3, metavar="N",
                     help="examples shown before training")
    out.add_argument("--progress-jsonl", default=None, metavar="PATH|-",
                     help="write JSON-lines events to PATH, or to stdout with '-'")
    out.add_argument("--quiet", "-q", action="store_true", help="no text report on stderr")
    p.set_defaults(func=run)


SETTING_FLAGS = (
    "rank", "alpha", "dropout", "learning_rate", "epochs", "batch_size", "grad_accum",
    "min_steps", "max_steps", "max_seq_len", "warmup_ratio", "schedule", "weight_decay",
    "max_grad_norm", "seed", "bf16", "threads", "backend", "beta", "sft_weight",
)


def settings_from_args(args: argparse.Namespace) -> Any:
    from qconsole.training.settings import settings_for

    overrides = {k: getattr(args, k, None) for k in SETTING_FLAGS}
    if args.targets:
        overrides["target_modules"] = tuple(t.strip() for t in args.targets.split(",") if t)
    return settings_for(args.preset, **overrides)


def request_from_args(args: argparse.Namespace) -> Any:
    from qconsole.training.request import TrainRequest

    return TrainRequest(
        model=args.model,
        objective=getattr(args, "objective", "sft"),
        template=args.template,
        settings=settings_from_args(args),
        sessions_dir=args.sessions,
        session_ids=args.session_ids,
        kind=args.kind,
        include_preferences=args.preferences,
        include_synthetic=getattr(args, "synthetic", True),
        replay=args.replay,
        replay_max=args.replay_max,
        name=args.name,
        adapters_root=args.adapters,
        hf_model_dir=args.hf_model,
        verify=args.verify,
        dry_run=args.dry_run,
        preview=args.preview,
    )


class TextReport:
    """The events as lines a person reads (stderr)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, ev: JobEvent) -> None:
        kind = ev.get("event")
        lines: list[str] = []
        if kind == "start":
            lines += [f"training set: {line}" for line in ev.get("summary_lines", [])]
            for item in ev.get("preview", []):
                prompt = str(item["prompt"]).replace("\n", "\n    ")
                lines.append(f"--- example {item['id']} ({item['source']}) ---\n    {prompt}"
                             f"[{item['completion']!r}]")
                if "rejected" in item:
                    lines.append(f"    rejected: [{item['rejected']!r}]")
            lines.append(f"{ev.get('total_steps')} steps ({ev.get('epochs')} epochs) on "
                         f"{ev.get('backend')}" + (" (dry run)" if ev.get("dry_run") else ""))
        elif kind == "progress":
            lines.append(
                f"step {ev['step']}/{ev['total_steps']}  epoch {ev['epoch']:.2f}  "
                f"loss {_num(ev.get('loss'), '.4f')}  lr {_num(ev.get('lr'), '.2e')}  "
                f"{_num(ev.get('tokens_per_s'), '.0f')} tok/s  eta {_duration(ev.get('eta_s'))}"
            )
        elif kind in ("phase", "log", "cancelled"):
            level = ev.get("level")
            prefix = "warning: " if level == "warning" else ""
            lines.append(prefix + str(ev.get("message", kind)))
        elif kind == "done":
            if ev.get("adapter"):
                lines.append(
                    f"adapter {ev['adapter']} installed at {ev.get('path')} "
                    f"(final loss {_num(ev.get('final_loss'), '.4f')}, {ev.get('steps')} steps, "
                    f"{ev.get('seconds')} s, {ev.get('backend')})"
                )
                dpo = ev.get("dpo")
                if dpo:
                    lines.append(
                        f"{ev.get('objective')} on {dpo.get('pairs')} pairs: chosen-over-rejected "
                        f"log-prob margin {_num(dpo.get('margin_before'), '.2f')} -> "
                        f"{_num(dpo.get('margin_after'), '.2f')} nats, chosen more likely in "
                        f"{_num(dpo.get('accuracy_before'), '.0%')} -> "
                        f"{_num(dpo.get('accuracy_after'), '.0%')} of them"
                    )
                eq = ev.get("equivalence")
                if eq:
                    lines.append(f"equivalence check {eq.get('summary')}")
            else:
                lines.append("dry run: nothing trained")
        elif kind == "error":
            lines.append(f"qconsole: error: {ev.get('message')}")
        for line in lines:
            print(line, file=self.stream, flush=True)


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "-"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _save_traceback() -> str:
    """Keep the traceback of an unexpected failure in a file, not on the screen: the person
    reads one clear line, a bug report still has every frame."""
    import time

    from qconsole.paths import cache_dir

    try:
        folder = cache_dir() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"train-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        path.write_text(traceback.format_exc(), encoding="utf-8")
    except OSError:
        return ""
    return f" (traceback in {path})"


def run(args: argparse.Namespace) -> int:
    from qconsole.jobs.events import event, open_event_writer
    from qconsole.training.hardware import passive_openmp

    passive_openmp()  # before torch loads: spinning threads crawl on a shared CPU

    writer = open_event_writer(args.progress_jsonl)
    text = None if args.quiet else TextReport(sys.stderr)

    def emit(kind: str, /, **fields: Unpack[EventFields]) -> None:
        ev = event(kind, **fields)
        writer.write(ev)
        if text is not None:
            text(ev)

    stop = {"requested": False}

    def on_term(signum: int, frame: Any) -> None:
        stop["requested"] = True

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        from qconsole.training.loop import TrainingCancelled
        from qconsole.training.pipeline import run_training

        try:
            request = request_from_args(args)
            outcome = run_training(request, emit=emit, should_stop=lambda: stop["requested"])
        except (TrainingCancelled, KeyboardInterrupt):
            emit("cancelled", message="training cancelled; nothing was kept")
            return 130
        except QConsoleError as exc:
            emit("error", message=str(exc))
            return 2
        except MemoryError:
            emit("error", message="out of memory: lower --batch-size or --max-seq-len")
            return 3
        except Exception as exc:
            line = str(exc).splitlines()[0][:300] if str(exc) else ""
            where = _save_traceback()
            emit("error", message=f"training failed: {type(exc).__name__}: {line}{where}")
            return 1
        emit("done", dry_run=request.dry_run, **outcome.done_fields())
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        writer.close()
