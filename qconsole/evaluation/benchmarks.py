"""External benchmarks: lm-eval's own task definitions, with only the data source swapped.

Why reuse instead of rewriting: a GSM8K or HellaSwag number means something only when it is the
standard prompt, few-shot examples, answer extraction and metric. So every task here is the
stock lm-eval YAML (``include`` and ``!function`` resolved by lm-eval's own loader); for offline
machines only ``dataset_path``/``dataset_kwargs`` change to local JSON-lines files with the hub's
field names. Without a data directory the stock task runs as is and lm-eval (through
``datasets``) fetches the data from the Hugging Face hub.

A data directory holds ``<stem>_<split>.jsonl`` files, the split names being the stock task's
(``test``, ``validation``, ``train``, ``dev``)::

    gsm8k_test.jsonl  arc_challenge_test.jsonl  arc_easy_test.jsonl  hellaswag_validation.jsonl
    winogrande_xl_validation.jsonl  piqa_validation.jsonl  mmlu_test.jsonl
    lambada_openai_test.jsonl

Splits without a file are dropped from the task; lm-eval then draws few-shot examples from the
next split it has (for arc/mmlu with only a test file and ``num_fewshot > 0`` that is the test
split itself, which lm-eval warns about: add ``<stem>_train.jsonl`` / ``mmlu_dev.jsonl`` to
avoid it). gsm8k_cot carries its eight exemplars in the YAML and needs no extra file.
MMLU's one file holds every subject; each ``mmlu_<subject>`` task keeps its rows by ``subject``.

``--limit`` is lm-eval's: the first N documents of each leaf task (so ``mmlu`` with limit 2 is
2 items from each of its 57 subjects).

The score read per item (``primary_metric``): ``acc_norm`` where the task reports it (ARC,
HellaSwag, PIQA: the usual headline), else ``acc`` (WinoGrande, MMLU, LAMBADA), and for
generation tasks ``exact_match`` under the first filter (gsm8k_cot: "strict-match", the
"The answer is N." extraction).

Both readings of a generated benchmark (qconsole.evaluation.readings): a task whose filters
include lm-eval's ``strict-match`` and ``flexible-extract`` (gsm8k_cot) is read under both, per
item (:func:`reading_outcomes`). *Strict* is strict-match; *flexible* is strict-match or else
flexible-extract (the last number of the reply), so that flexible >= strict on every item as
for qconsole's own suites. The headline is flexible.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.benchmark_data import (  # the names live there: the UI imports them
    DATA_DIR_ENV,
    DEFAULT_BENCHMARKS,
    FORGETTING_PANEL,
    default_data_dir,
    local_stem,
)

__all__ = ["DATA_DIR_ENV", "DEFAULT_BENCHMARKS", "FORGETTING_PANEL", "default_data_dir"]

# stem -> the field that tells which leaf task a row belongs to (value: the stock dataset_name)
ROW_FILTERS: dict[str, str] = {"mmlu": "subject"}
# lm-eval task folders to index for known names (indexing all of lm-eval's tasks takes seconds)
_TASK_DIRS: tuple[tuple[str, str], ...] = (
    ("gsm8k", "gsm8k"), ("arc_", "arc"), ("hellaswag", "hellaswag"),
    ("winogrande", "winogrande"), ("mmlu", "mmlu"), ("piqa", "piqa"), ("lambada", "lambada"),
)
_SPLIT_KEYS = ("training_split", "validation_split", "test_split", "fewshot_split")
# reading -> the lm-eval filter read for it (see the module docstring)
READING_FILTERS: dict[str, str] = {"strict": "strict-match", "flexible": "flexible-extract"}


@dataclass(frozen=True)
class BenchmarkTask:
    """One lm-eval leaf task and how qconsole reads it.

    ``suite`` is the name asked for (``mmlu``), ``task`` the leaf (``mmlu_anatomy``).
    ``config`` is the full task config for local data, None for the stock (hub) task.
    """

    suite: str
    task: str
    output_type: str
    metric: str
    filter: str
    num_fewshot: int | None = None
    config: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    filters: tuple[str, ...] = ()  # every filter the task defines, in order

    @property
    def has_readings(self) -> bool:
        """Whether both readings come from lm-eval's own filters (see the module docstring)."""
        return set(READING_FILTERS.values()) <= set(self.filters)

    @property
    def source(self) -> str:
        return "local" if self.config is not None else "hub"


def _lm_eval_tasks_dir() -> Path:
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


@functools.lru_cache(maxsize=8)
def task_manager(names: tuple[str, ...] = (), include_path: str | None = None) -> Any:
    """A TaskManager indexing only the folders ``names`` need (all of lm-eval for unknowns),
    plus the user's own task folder ``include_path`` (lm-eval's ``--include_path``)."""
    from lm_eval.tasks import TaskManager

    from qconsole.evaluation.user_tasks import task_yamls

    root = _lm_eval_tasks_dir()
    own = task_yamls(include_path) if include_path else {}
    dirs: list[Path] = [Path(include_path).expanduser()] if include_path else []
    for name in names:
        if name in own:
            continue
        found = next((d for prefix, d in _TASK_DIRS if name.startswith(prefix)), None)
        if found is None:
            return TaskManager(include_path=[str(d) for d in dirs] or None)
        if root / found not in dirs:
            dirs.append(root / found)
    if not dirs:
        return TaskManager()
    return TaskManager(include_defaults=False, include_path=[str(d) for d in dirs])


def _leaf_tasks(tm: Any, name: str, seen: set[str] | None = None) -> list[str]:
    """Leaf task names of a task, group or tag, in index order."""
    from lm_eval.tasks._index import Kind

    seen = set() if seen is None else seen
    entry = tm.task_index.get(name)
    if entry is None:
        raise QConsoleError(
            f"unknown lm-eval task {name!r} (lm-eval {_lm_eval_version()}); "
            "see `lm-eval ls tasks` for the names"
        )
    if name in seen:
        return []
    seen.add(name)
    if entry.kind in (Kind.TASK, Kind.PY_TASK):
        return [name]
    if entry.kind == Kind.TAG:
        return [leaf for t in sorted(entry.tags) for leaf in _leaf_tasks(tm, t, seen)]
    members = (entry.cfg or {}).get("task") or []
    out: list[str] = []
    for m in members if isinstance(members, list) else [members]:
        if not isinstance(m, str):
            raise QConsoleError(f"lm-eval group {name!r} defines inline tasks; run its tasks "
                                "by name instead")
        out.extend(_leaf_tasks(tm, m, seen))
    return out


def _lm_eval_version() -> str:
    try:
        from importlib.metadata import version

        return version("lm_eval")
    except Exception:  # pragma: no cover
        return "?"


def _stock_config(tm: Any, task: str) -> dict[str, Any]:
    from lm_eval.tasks._yaml_loader import load_yaml

    entry = tm.task_index[task]
    if entry.yaml_path is None:
        raise QConsoleError(f"lm-eval task {task!r} has no YAML definition to run offline")
    return copy.deepcopy(load_yaml(entry.yaml_path, resolve_func=True))


def filter_names(cfg: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the task's filters (lm-eval's ``filter_list``), in order."""
    return tuple(str(f["name"]) for f in cfg.get("filter_list") or []
                 if isinstance(f, Mapping) and f.get("name") is not None)


def primary_metric(cfg: Mapping[str, Any]) -> tuple[str, str]:
    """(metric, filter) read per item; see the module docstring."""
    metrics = [m.get("metric") for m in cfg.get("metric_list") or [] if isinstance(m, Mapping)]
    filters = filter_names(cfg)
    filt = filters[0] if filters else "none"
    for name in ("acc_norm", "acc", "exact_match"):
        if name in metrics:
            return name, filt
    if cfg.get("output_type") == "multiple_choice":
        return "acc", filt
    if metrics and isinstance(metrics[0], str):
        return metrics[0], filt
    raise QConsoleError(f"cannot tell how to score lm-eval task {cfg.get('task')!r}")


def _filter_rows(dataset: Any, *, column: str, value: str, then: Any = None) -> Any:
    kept = dataset.filter(lambda row: row[column] == value)
    return then(kept) if then is not None else kept


def local_config(cfg: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """The stock ``cfg`` reading its splits from ``data_dir`` (see the module docstring)."""
    task = cfg["task"]
    stem = local_stem(task)
    data_files: dict[str, str] = {}
    out = dict(cfg)
    for key in _SPLIT_KEYS:
        split = cfg.get(key)
        if not split:
            continue
        path = data_dir / f"{stem}_{split}.jsonl"
        if path.is_file():
            data_files[split] = str(path.resolve())
        else:
            out[key] = None
    if not (out.get("test_split") or out.get("validation_split")):
        wanted = [f"{stem}_{cfg[k]}.jsonl" for k in ("test_split", "validation_split")
                  if cfg.get(k)]
        raise QConsoleError(
            f"no data for {task} in {data_dir}: expected {' or '.join(wanted) or stem}"
        )
    column = ROW_FILTERS.get(stem)
    if column and cfg.get("dataset_name"):
        out["process_docs"] = functools.partial(
            _filter_rows, column=column, value=cfg["dataset_name"], then=cfg.get("process_docs")
        )
    out.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": data_files})
    out.setdefault("metadata", {})
    out["metadata"] = {**(out["metadata"] or {}), "qconsole_data_dir": str(data_dir)}
    return out


def resolve_benchmarks(
    names: Iterable[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    num_fewshot: Mapping[str, int] | None = None,
    include_path: str | os.PathLike[str] | None = None,
) -> list[BenchmarkTask]:
    """Expand task/group names into leaf tasks, local or stock; validates everything up front.

    ``num_fewshot`` maps a name (as asked, or a leaf) to its shot count, e.g.
    ``{"gsm8k_cot": 4}`` (the first four of its eight exemplars). ``include_path``: a folder of
    the user's own task YAMLs (qconsole.evaluation.user_tasks); its tasks that read local
    files run from them as they are, never from ``data_dir``.
    """
    from qconsole.evaluation.user_tasks import absolute_data_files, task_yamls

    names = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not names:
        return []
    shots = dict(num_fewshot or {})
    unknown = [k for k in shots if k not in names]
    include = str(Path(include_path).expanduser().resolve()) if include_path else None
    own = task_yamls(include) if include else {}
    tm = task_manager(names, include)
    directory = Path(data_dir).expanduser() if data_dir else None
    if directory is not None and not directory.is_dir():
        raise QConsoleError(f"benchmark data directory not found: {directory}")
    out: list[BenchmarkTask] = []
    for name in names:
        for leaf in _leaf_tasks(tm, name):
            cfg = _stock_config(tm, leaf)
            metric, filt = primary_metric(cfg)
            k = shots.get(leaf, shots.get(name))
            if leaf in unknown:
                unknown.remove(leaf)
            if leaf in own:
                config: dict[str, Any] | None = absolute_data_files(cfg, own[leaf])
            else:
                config = local_config(cfg, directory) if directory is not None else None
            out.append(BenchmarkTask(
                suite=name,
                task=leaf,
                output_type=str(cfg.get("output_type")),
                metric=metric,
                filter=filt,
                num_fewshot=k,
                config=config,
                filters=filter_names(cfg),
            ))
    if unknown:
        raise QConsoleError(f"--fewshot names a task not being run: {', '.join(unknown)}")
    return out


def build_tasks(tasks: Iterable[BenchmarkTask]) -> dict[str, Any]:
    """Fresh lm-eval Task objects by leaf name (a Task holds per-run state: build per pass).

    Tasks with a full config (local data, the user's folder, a multiple-choice file) are
    built from it; only stock hub tasks need the TaskManager's index."""
    tasks = list(tasks)
    if not tasks:
        return {}
    hub = tuple(dict.fromkeys(t.suite for t in tasks if t.config is None))
    tm = task_manager(hub) if hub else task_manager(("arc_challenge",))
    specs = [dict(t.config) if t.config is not None else t.task for t in tasks]
    try:
        loaded = tm.load(specs)["tasks"]
    except QConsoleError:
        raise
    except Exception as exc:
        line = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        hint = "" if all(t.config is not None for t in tasks) else (
            " (offline? give --data-dir with the benchmark JSONL files)"
        )
        raise QConsoleError(f"lm-eval could not load the tasks: {line}{hint}") from exc
    for t in tasks:
        if t.num_fewshot is not None:
            loaded[t.task].set_config(key="num_fewshot", value=t.num_fewshot)
    return loaded


# -- running and reading ------------------------------------------------------------------------


def llama_lm(engine: Any, *, max_gen_toks: int | None = None, progress: Any = None,
             cancel: Any = None, cache: Any = None, pool: Any = None) -> Any:
    """An lm-eval ``LM`` evaluating whatever adapter ``engine`` (a LlamaEngine) has set;
    ``cache`` (a BaseCache, base side only) and ``pool`` (makes an EnginePool) as in
    qconsole.evaluation.lm_eval_model.

    The one place that imports qconsole's lm-eval model class (and so lm-eval itself), lazily.
    """
    from qconsole.evaluation.lm_eval_model import LlamaCppLM
    from qconsole.inference.llama_engine import DEFAULT_MAX_GEN_TOKS

    return LlamaCppLM(engine, max_gen_toks=max_gen_toks or DEFAULT_MAX_GEN_TOKS,
                      progress=progress, cancel=cancel, cache=cache, pool=pool)


def count_items(built: Mapping[str, Any], limit: int | None) -> dict[str, int]:
    """Documents each built task will evaluate under ``limit`` (lm-eval's first-N rule)."""
    out = {}
    for name, task in built.items():
        n = len(task.eval_docs)
        out[name] = min(n, int(limit)) if limit else n
    return out


def evaluate(lm: Any, tasks: list[BenchmarkTask], *, limit: int | None,
             built: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One lm-eval pass of ``lm`` over ``tasks`` (fresh Task objects unless ``built`` given).

    This is ``lm_eval.simple_evaluate`` minus what does not belong in a background job: it
    seeds and configures the tasks the same way, then calls lm-eval's ``evaluate``, but skips
    the environment report (which imports torch and shells out to git and pip on every call).
    No bootstrap: qconsole computes its own intervals from the per-item records.
    """
    import random

    import numpy as np
    from lm_eval.defaults import DEFAULT_OTHER_SEED, DEFAULT_RANDOM_SEED
    from lm_eval.evaluator import evaluate as lm_eval_evaluate

    built = dict(built) if built is not None else build_tasks(tasks)
    random.seed(DEFAULT_RANDOM_SEED)
    np.random.seed(DEFAULT_OTHER_SEED)
    selected = {t.task: built[t.task] for t in tasks}
    for task in selected.values():
        if task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=DEFAULT_OTHER_SEED)
    results = lm_eval_evaluate(
        lm=lm,
        task_dict={"tasks": selected, "groups": {}, "group_map": {}},
        limit=limit,
        bootstrap_iters=0,
        log_samples=True,
    )
    info = lm.get_model_info() if hasattr(lm, "get_model_info") else {}
    results["config"] = {"model": type(lm).__name__, **info, "limit": limit,
                         "bootstrap_iters": 0, "random_seed": DEFAULT_RANDOM_SEED,
                         "fewshot_seed": DEFAULT_OTHER_SEED}
    results["lm_eval_version"] = _lm_eval_version()
    return results


@dataclass(frozen=True)
class Outcome:
    """One document's result under one model."""

    doc_id: int
    correct: bool
    reply: str  # the picked choice (log-likelihood tasks) or the generated text
    prompt: str  # the document's own text (no few-shot examples), for tables and leakage
    reference: str
    extra: Mapping[str, Any] = field(default_factory=dict)


_DOC_TEXT_KEYS = ("question", "query", "ctx", "sentence", "goal", "text", "problem")


def doc_text(doc: Mapping[str, Any]) -> str:
    parts = [str(doc[k]) for k in _DOC_TEXT_KEYS if isinstance(doc.get(k), str)]
    if not parts:
        parts = [v for v in doc.values() if isinstance(v, str)]
    return "\n".join(parts)


def _pick(sample: Mapping[str, Any], metric: str) -> int | None:
    resps = sample.get("filtered_resps") or []
    if not resps or not isinstance(resps[0], list | tuple) or len(resps[0]) != 2:
        return None
    scores = [float(r[0]) for r in resps]
    if metric == "acc_norm":  # lm-eval divides by the choice's length without the delimiter
        conts = [str(a[1]) for a in sample.get("arguments") or []]
        if len(conts) == len(scores):
            lens = [max(1, len(c[1:] if c.startswith(" ") else c)) for c in conts]
            scores = [s / n for s, n in zip(scores, lens, strict=True)]
    return max(range(len(scores)), key=scores.__getitem__)


def outcomes(results: Mapping[str, Any], task: BenchmarkTask) -> dict[int, Outcome]:
    """Per-document outcomes of ``task`` from an lm-eval results dict (``log_samples``)."""
    samples = (results.get("samples") or {}).get(task.task)
    if samples is None:
        raise QConsoleError(f"lm-eval returned no samples for {task.task}")
    out: dict[int, Outcome] = {}
    for s in samples:
        if s.get("filter", "none") != task.filter:
            continue
        value = s.get(task.metric)
        if value is None:
            raise QConsoleError(f"lm-eval sample of {task.task} has no {task.metric!r}")
        doc = s.get("doc") or {}
        pick = _pick(s, task.metric)
        if pick is not None:
            args = s.get("arguments") or []
            choice = str(args[pick][1]).strip() if pick < len(args) else ""
            reply = f"({pick}) {choice}"
            extra: dict[str, Any] = {"pick": pick,
                                     "loglikelihoods": [round(float(r[0]), 4)
                                                        for r in s.get("filtered_resps") or []]}
        else:
            filtered = s.get("filtered_resps") or [""]
            raw = s.get("resps") or [[""]]
            reply = str(raw[0][0] if raw and raw[0] else "")[:4000]
            extra = {"extracted": str(filtered[0])[:200]}
        out[int(s["doc_id"])] = Outcome(
            doc_id=int(s["doc_id"]),
            correct=float(value) >= 0.5,
            reply=reply,
            prompt=doc_text(doc)[:4000],
            reference=str(s.get("target", "")),
            extra=extra,
        )
    return out


def reading_outcomes(results: Mapping[str, Any], task: BenchmarkTask
                     ) -> dict[int, dict[str, Any]] | None:
    """Both readings per document of a task with strict-match and flexible-extract filters,
    as qconsole.evaluation.readings keeps them (``strict``, ``flexible``, ``strict_answer``,
    ``answer``); None for a task without them."""
    if not task.has_readings:
        return None
    from dataclasses import replace

    strict = outcomes(results, replace(task, filter=READING_FILTERS["strict"]))
    loose = outcomes(results, replace(task, filter=READING_FILTERS["flexible"]))

    def answer(o: Outcome | None) -> str | None:
        text = str(o.extra.get("extracted", "")) if o is not None else ""
        return None if not text or text == "[invalid]" else text

    out: dict[int, dict[str, Any]] = {}
    for doc_id, s in strict.items():
        f = loose.get(doc_id)
        flexible = s.correct or (f is not None and f.correct)
        out[doc_id] = {"strict": s.correct, "flexible": flexible,
                       "strict_answer": answer(s),
                       "answer": answer(s) if s.correct else answer(f)}
    return out


def lm_eval_summary(results: Mapping[str, Any]) -> dict[str, Any]:
    """lm-eval's results dict without the per-sample logs (what its CLI writes as JSON)."""
    keep = ("results", "groups", "group_subtasks", "configs", "versions", "n-shot",
            "higher_is_better", "n-samples", "config", "lm_eval_version")
    return {k: results[k] for k in keep if k in results}
