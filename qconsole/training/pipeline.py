"""One training cycle, start to finish, reporting as it goes.

corrections (+ preference choices, + replay) -> training set (the chat's template and tokens)
(``--objective dpo``: preference pairs from rewrites, sighted preferences and blind votes ->
a pair set, same template and tokens) -> a FRESH LoRA on the base -> PEFT adapter in a hidden
temporary directory -> its GGUF LoRA -> the equivalence check (llama.cpp with the GGUF LoRA vs
transformers with the PEFT adapter) -> metadata -> one atomic move into the registry.

Everything before the move happens in ``adapters/.train-<pid>-*``: the registry never lists
hidden directories, so a cancelled, crashed or killed run leaves no half adapter; the next run
removes such leftovers of dead processes.

Reporting goes through ``emit(kind, **fields)`` (an EventWriter's ``emit`` in the subprocess,
anything with that shape in tests), so the same code runs headless and under the console.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.jobs.events import Emit, LogLevel
from qconsole.training.dataset import (
    ChatTokenizer,
    NothingToTrain,
    TrainingSet,
    build_training_set,
    token_rule_from_gguf,
)
from qconsole.training.dpo_data import NO_PAIRS, PairSet, build_pair_set
from qconsole.training.examples import (
    TrainingExample,
    content_hash,
    examples_from_store,
    load_replay,
)
from qconsole.training.loop import StepInfo, TrainingCancelled
from qconsole.training.request import TrainRequest
from qconsole.training.settings import OBJECTIVES, TrainSettings

TMP_PREFIX = ".train-"


@dataclass
class Prepared:
    gguf_path: Path
    model_name: str
    template: Any  # PromptTemplate
    hf_tokenizer: Any
    training_set: TrainingSet | PairSet  # a PairSet for dpo and sft+dpo
    warnings: list[str]


@dataclass
class TrainOutcome:
    prepared: Prepared
    adapter: Any = None  # AdapterEntry
    gguf_lora: Path | None = None
    loop: Any = None  # LoopResult
    backend: str = ""
    equivalence: dict[str, Any] | None = None
    seconds: float = 0.0
    objective: str = "sft"
    dpo: dict[str, Any] | None = None  # before/after scores of the trained pairs

    def done_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "objective": self.objective,
            "adapter": self.adapter.name if self.adapter is not None else None,
            "path": str(self.adapter.path) if self.adapter is not None else None,
            "gguf_lora": str(self.gguf_lora) if self.gguf_lora else None,
            "examples": self.prepared.training_set.summary.examples,
            "backend": self.backend,
            "seconds": round(self.seconds, 1),
        }
        if self.loop is not None:
            out.update(
                final_loss=self.loop.final_loss,
                steps=self.loop.steps,
                tokens_per_s=round(self.loop.tokens_per_s, 1),
            )
        if self.dpo is not None:
            out["dpo"] = {k: v for k, v in self.dpo.items() if k != "per_pair"}
        if self.equivalence is not None:
            out["equivalence"] = {
                k: self.equivalence.get(k) for k in ("passed", "failures", "summary")
            }
        return out


def _noop(kind: str, /, **fields: Any) -> None:
    return None


def _config_defaults(request: TrainRequest) -> tuple[str, str, dict[str, str]]:
    try:
        from qconsole.config import load_config

        config = load_config()
        aliases = dict(config.models)
        model, template = config.model, config.template
    except Exception:  # no readable config: the built-in defaults
        aliases, model, template = {}, "default", "auto"
    return request.model or model, request.template or template, aliases


def _sessions_folder(request: TrainRequest) -> Path:
    from qconsole.paths import sessions_dir

    return request.sessions_dir or sessions_dir()


def collect_examples(request: TrainRequest) -> tuple[list[TrainingExample], list[str]]:
    """The examples of a request: given ones, or the store's corrections; plus replay."""
    warnings: list[str] = []
    if request.examples is not None:
        examples = list(request.examples)
    else:
        folder = _sessions_folder(request)
        examples, warnings = examples_from_store(
            folder,
            session_ids=request.session_ids,
            kind=request.kind,
            include_preferences=request.include_preferences,
            synthetic=request.include_synthetic,
        )
        if not examples:
            raise NothingToTrain(
                f"nothing to train on: no rewritten reply in {folder}; mark a failing reply "
                "and write the correct answer first"
            )
    if request.replay is not None:
        examples.extend(
            load_replay(request.replay, limit=request.replay_max, seed=request.settings.seed)
        )
    return examples, warnings


def collect_pairs(request: TrainRequest) -> tuple[Any, list[str]]:
    """The preference pairs of a request (``PairSelection``) and the store's warnings."""
    from qconsole.training.preference_pairs import pairs_from_store

    folder = _sessions_folder(request)
    selection, warnings = pairs_from_store(
        folder, session_ids=request.session_ids, synthetic=request.include_synthetic
    )
    if not selection.pairs:
        raise NothingToTrain(
            f"{NO_PAIRS} in {folder}; rewrite a failing reply or vote on a blind turn first"
        )
    return selection, warnings


def prepare(request: TrainRequest, emit: Emit = _noop) -> Prepared:
    """Resolve the model and template, read the examples, build and summarise the set.

    Needs only the tokenizer (a few seconds), not the model: the console can show the
    preview before it starts a job.
    """
    from qconsole.hf.gguf_model import load_hf_tokenizer
    from qconsole.models.resolve import resolve_model

    spec, template_choice, aliases = _config_defaults(request)
    resolved = resolve_model(spec, aliases=aliases)
    if request.objective != "sft":
        return _prepare_pairs(request, resolved, template_choice, emit)
    examples, warnings = collect_examples(request)
    emit("log", level="info", message=f"{len(examples)} examples; loading the tokenizer")
    tokenizer = load_hf_tokenizer(resolved.path)
    template = chat_template_for(resolved.path, template_choice, tokenizer)
    recorded = {ex.template for ex in examples if ex.source == "correction"} - {""}
    if recorded and recorded != {template.name}:
        warnings.append(
            f"corrections were made with the {'/'.join(sorted(recorded))} template, training "
            f"uses {template.name}: the adapter learns the format it is trained in"
        )
    chat_tok = ChatTokenizer(tokenizer, token_rule_from_gguf(resolved.path, tokenizer))
    training_set = build_training_set(
        examples, template, chat_tok, max_seq_len=request.settings.max_seq_len
    )
    return Prepared(resolved.path, resolved.name, template, tokenizer, training_set, warnings)


def _prepare_pairs(request: TrainRequest, resolved: Any, template_choice: str,
                   emit: Emit) -> Prepared:
    """``prepare`` for dpo / sft+dpo: pairs instead of examples, the same template and tokens.
    Corrections filters (``kind``) and replay are SFT data and are refused, not ignored."""
    from qconsole.hf.gguf_model import load_hf_tokenizer

    if request.examples is not None or request.replay is not None or request.kind:
        raise QConsoleError(
            f"--objective {request.objective} trains on preference pairs from the sessions; "
            "--kind, --replay and given examples are for sft"
        )
    selection, warnings = collect_pairs(request)
    emit("log", level="info", message=f"{len(selection.pairs)} preference pairs; "
         "loading the tokenizer")
    tokenizer = load_hf_tokenizer(resolved.path)
    template = chat_template_for(resolved.path, template_choice, tokenizer)
    chat_tok = ChatTokenizer(tokenizer, token_rule_from_gguf(resolved.path, tokenizer))
    pair_set = build_pair_set(selection, template, chat_tok,
                              max_seq_len=request.settings.max_seq_len,
                              objective=request.objective)
    return Prepared(resolved.path, resolved.name, template, tokenizer, pair_set, warnings)


def chat_template_for(gguf_path: Path, choice: str, tokenizer: Any = None) -> Any:
    """The prompt template the chat picks for this model: the same ``template_for_model`` call
    on the same ``GGUFInfo`` (``tokenizer`` is unused, kept for callers)."""
    from qconsole.models.gguf_info import read_gguf_info
    from qconsole.prompts import template_for_model

    return template_for_model(read_gguf_info(gguf_path, check_memory=False), choice)


def default_name() -> str:
    return "lora-" + datetime.now().strftime("%Y%m%d-%H%M%S")


def remove_stale_tmp(root: Path) -> None:
    """Remove ``.train-<pid>-*`` (and ``.install-<pid>-*``) directories whose process is gone."""
    from qconsole.adapters.registry import clear_litter

    clear_litter(root)




def source_record(prepared: Prepared, request: TrainRequest) -> dict[str, Any]:
    """What the adapter learned from: ids and hashes of every example, and their hash.

    A DPO adapter lists its pairs the same way; its rewrite pairs are corrections, named by
    the corrections' own ids and hashes, so evaluation finds the turns it was trained on."""
    from qconsole.adapters import hash_records

    ts = prepared.training_set
    if isinstance(ts, PairSet):
        pairs = sorted((t.example for t in ts.pairs), key=lambda e: (e.source, e.id))
        records = [{"id": p.id, "hash": p.hash, "source": p.source} for p in pairs]
        corrections = [
            {"id": p.correction_id, "hash": content_hash(p.context, p.user, p.chosen),
             "source": "correction"}
            for p in pairs if p.correction_id is not None
        ]
        unit = "preference pairs"
    else:
        examples = sorted((t.example for t in ts.examples), key=lambda e: (e.source, e.id))
        records = [{"id": e.id, "hash": e.hash, "source": e.source} for e in examples]
        corrections = [r for r in records if r["source"] == "correction"]
        unit = "examples"
    summary = ts.summary
    return {
        "description": f"{summary.examples} {unit} ("
        + ", ".join(f"{n} {s}" for s, n in sorted(summary.by_source.items())) + ")",
        "objective": request.objective,
        "correction_ids": [r["id"] for r in corrections],
        "correction_hashes": [r["hash"] for r in corrections],
        "corrections_hash": hash_records(corrections),
        "data_hash": hash_records(records),
        "examples": records,
        "n_examples": summary.examples,
        "by_source": summary.by_source,
        "sessions_dir": None if request.examples is not None else str(_sessions_folder(request)),
        "replay": str(request.replay) if request.replay else None,
        "template": {"name": prepared.template.name, "end_of_turn": prepared.template.end_of_turn},
        "tokens": summary.to_dict(),
    }


def run_training(
    request: TrainRequest,
    *,
    emit: Emit = _noop,
    should_stop: Callable[[], bool] | None = None,
) -> TrainOutcome:
    """Run one cycle; report through ``emit``; return what was made.

    Raises NothingToTrain / QConsoleError for problems a person can fix, TrainingCancelled when
    ``should_stop`` turned true. Nothing is left in the registry unless it returns normally.
    """
    from qconsole.paths import adapters_dir
    from qconsole.training.backends import BackendJob, select_backend

    started = time.perf_counter()
    settings = request.settings.validate()
    if request.objective not in OBJECTIVES:
        raise QConsoleError(
            f"unknown objective {request.objective!r}; choose {', '.join(OBJECTIVES)}"
        )
    backend = select_backend(settings.backend, request.objective)
    backend.prepare()
    emit("phase", phase="prepare", message="reading the corrections"
         if request.objective == "sft" else "reading the preference pairs")
    prepared = prepare(request, emit)
    for warning in prepared.warnings:
        emit("log", level="warning", message=warning)
    ts = prepared.training_set
    steps, epochs = settings.total_steps(ts.summary.examples)
    emit(
        "start",
        model=prepared.model_name,
        backend=backend.name,
        summary=ts.summary.to_dict(),
        summary_lines=ts.summary.lines(),
        preview=[p.to_dict() for p in ts.preview(request.preview)],
        skipped=[{"id": i, "reason": r} for i, r in ts.skipped],
        settings=settings.to_dict(),
        total_steps=steps,
        epochs=epochs,
        dry_run=request.dry_run,
        objective=request.objective,
    )
    outcome = TrainOutcome(prepared=prepared, backend=backend.name, objective=request.objective)
    if request.dry_run:
        outcome.seconds = time.perf_counter() - started
        return outcome

    root = request.adapters_root or adapters_dir()
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(root)
    work = Path(tempfile.mkdtemp(dir=root, prefix=f"{TMP_PREFIX}{os.getpid()}-"))
    try:
        def stop() -> bool:
            return bool(should_stop and should_stop())

        def on_step(info: StepInfo) -> None:
            emit("progress", **info.to_event_fields())

        def log(message: str) -> None:
            emit("log", level="info", message=message)

        emit("phase", phase="load", message="loading the base model")
        job = BackendJob(
            gguf_path=prepared.gguf_path,
            examples=[] if isinstance(ts, PairSet) else ts.examples,
            objective=request.objective,
            pairs=ts.pairs if isinstance(ts, PairSet) else None,
            settings=settings,
            out_dir=work / "adapter",
            hf_model_dir=request.hf_model_dir,
            on_step=on_step,
            should_stop=stop,
            log=log,
        )
        result = backend.train(job)
        outcome.loop = result.loop
        outcome.backend = result.backend
        outcome.dpo = result.details.get("dpo")
        if stop():
            raise TrainingCancelled()
        name = request.name or default_name()
        emit("phase", phase="convert", message="writing the GGUF LoRA for llama.cpp")
        from qconsole.adapters.gguf_lora import convert_peft_to_gguf
        from qconsole.adapters.registry import GGUF_LORA_FILE

        conversion = convert_peft_to_gguf(
            job.out_dir, prepared.gguf_path, job.out_dir / GGUF_LORA_FILE, name=name
        )
        if request.verify:
            if stop():
                raise TrainingCancelled()
            emit("phase", phase="verify", message="checking llama.cpp against transformers")
            outcome.equivalence = _verify(job.out_dir, prepared, result.model, conversion.path)
            eq = outcome.equivalence
            level: LogLevel = "info" if eq.get("passed") else "warning"
            emit("log", level=level, message="equivalence check: " + str(eq.get("summary")))
        result.model = None
        if stop():
            raise TrainingCancelled()
        emit("phase", phase="install", message="installing the adapter")
        meta = _metadata(prepared, request, settings, result, name, outcome.equivalence)
        entry = _install(job.out_dir, meta, name, root, prepared.gguf_path)
        outcome.adapter = entry
        outcome.gguf_lora = entry.gguf_lora_path if entry.gguf_lora_path.is_file() else None
    finally:
        # After a successful install only the emptied work directory is left; otherwise this
        # removes the half-made adapter.
        shutil.rmtree(work, ignore_errors=True)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _install(folder: Path, meta: Any, name: str, root: Path, base: Path) -> Any:
    from qconsole.adapters import install_adapter

    return install_adapter(folder, meta, name, root=root, base_gguf=base)


def _verify(folder: Path, prepared: Prepared, model: Any, lora: Path) -> dict[str, Any]:
    """The equivalence check on the not-yet-installed adapter; a failure to run it is recorded,
    not raised (the adapter is still usable, just unchecked)."""
    from qconsole.adapters.registry import load_entry
    from qconsole.adapters.verify import verify_adapter

    try:
        entry = load_entry(folder, prepared.gguf_path)
        hf = None
        if model is not None:
            hf = (model.unload(), prepared.hf_tokenizer)  # the base again, LoRA layers removed
        report = verify_adapter(entry, hf=hf, gguf_lora=lora)
    except QConsoleError as exc:
        return {"passed": False, "failures": [str(exc)], "summary": f"could not run: {exc}"}
    data = report.to_dict()
    passed = bool(report.passed)
    data["passed"] = passed
    data["summary"] = (
        f"{'passed' if passed else 'FAILED'}: next-token agreement "
        f"{report.top1_agreement:.0%}, effect {report.effect_hf:.3f} (transformers) / "
        f"{report.effect_llama:.3f} (llama.cpp) nats"
    )
    data.setdefault("failures", list(report.failures))
    return data


def _metadata(
    prepared: Prepared,
    request: TrainRequest,
    settings: TrainSettings,
    result: Any,
    name: str,
    equivalence: dict[str, Any] | None,
) -> Any:
    from qconsole.adapters import AdapterMeta

    loop = result.loop
    hyper = settings.to_dict()
    hyper.update(steps=loop.steps, epochs_run=loop.epochs, precision=result.precision,
                 device=result.device, objective=request.objective)
    if request.objective == "sft":  # DPO's knobs: recorded only where they acted
        hyper.pop("beta", None)
        hyper.pop("sft_weight", None)
    elif request.objective == "dpo":
        hyper.pop("sft_weight", None)
    meta = AdapterMeta.for_base(
        prepared.gguf_path,
        name=name,
        base_name=prepared.model_name,
        source=source_record(prepared, request),
        hyperparameters=hyper,
        final_loss=loop.final_loss,
        backend=result.backend,
        notes="trained from the base on all accumulated corrections (fresh adapter)"
        if request.objective == "sft" else f"trained with {request.objective} from the base on "
        "all accumulated preference pairs (fresh adapter)",
    )
    meta.extra["training"] = {
        **loop.to_dict(),
        "losses": [round(x, 5) for x in loop.losses],
        "details": result.details,
        "finished": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if equivalence is not None:
        meta.extra["equivalence"] = equivalence
    return meta


__all__ = [
    "Prepared",
    "TrainOutcome",
    "TrainRequest",
    "TrainingCancelled",
    "collect_examples",
    "prepare",
    "run_training",
]
