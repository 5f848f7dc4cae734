"""Evaluation runs on disk, so the console's review and ``qconsole report`` can show them again.

Layout: one folder per run under ``<workspace>/evals/`` (``QCONSOLE_EVALS`` moves it)::

    evals/20250101-120000-my-adapter-3f2a/
        manifest.json         what was run, on what, and its status
        items.jsonl           per-item records (qconsole.evaluation.results), base and adapter
        results.json          per-suite comparisons, forgetting panel, in lm-eval-like shape
        lm_eval_base.json     lm-eval's own results dicts (benchmarks only), per side
        lm_eval_adapter.json

Why per-item records are the source of truth: every statistic is recomputed from them, so a
stored run can be re-analysed (new clustering, the cycle matrix) without running it again.

Status, and why it is explicit: ``running`` while the job works, then exactly one of
``complete``, ``cancelled``, ``failed``. A run whose manifest still says ``running`` but whose
process is gone (killed, out of memory) reads as ``crashed``. Only ``complete`` runs are final;
the others keep the suites they finished, and everything that shows them says "partial".
Files are replaced atomically, so a reader never sees half a file.

Cycles: each training plus its evaluation is a cycle. A complete run with an adapter is that
adapter's evaluation; the cycles are those adapters in the order they were made (the adapter's
``created`` time, else the run's), the latest complete run of each. The topics a cycle trained
are the adapter's (its metadata ``source.topics`` when present, else the topics of its
in-domain items: the failure kinds of the corrections it learned).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.evaluation.results import ItemResult, read_jsonl, write_jsonl
from qconsole.jobs.runner import pid_alive
from qconsole.paths import workspace_dir

MANIFEST = "manifest.json"
ITEMS = "items.jsonl"
# judge-only probe items (a rubric, no rule): both sides' replies, kept out of every rule row
JUDGE_ITEMS = "judge_items.jsonl"
RESULTS = "results.json"
FINAL_STATUSES = ("complete", "cancelled", "failed")
STATUSES = ("running", *FINAL_STATUSES, "crashed")


def evals_dir() -> Path:
    return Path(os.environ.get("QCONSOLE_EVALS") or workspace_dir() / "evals").expanduser()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json(path: Path, data: Any) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # the pid in the name: a writer killed mid-write leaves a file the next listing removes
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.p{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False, default=str)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path




def _slug(text: str) -> str:
    out = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)
    return "-".join(p for p in out.split("-") if p)[:40] or "run"


@dataclass
class StoredRun:
    """One run folder; ``manifest`` is read eagerly, items and results on demand."""

    path: Path
    manifest: dict[str, Any]
    _items: list[ItemResult] | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.path.name)

    @property
    def status(self) -> str:
        status = str(self.manifest.get("status") or "running")
        if status == "running" and not pid_alive(self.manifest.get("pid")):
            return "crashed"
        return status

    @property
    def is_final(self) -> bool:
        """True only for a complete run: anything else is partial and must be shown so."""
        return self.status == "complete"

    @property
    def adapter_name(self) -> str | None:
        adapter = self.manifest.get("adapter") or {}
        return adapter.get("name")

    @property
    def created(self) -> str:
        return str(self.manifest.get("created") or "")

    def items(self) -> list[ItemResult]:
        if self._items is None:
            path = self.path / ITEMS
            self._items = read_jsonl(path) if path.exists() else []
        return self._items

    def judge_items(self) -> list[ItemResult]:
        """Judge-only probe items with both replies (no rule scores them; ``eval --judge``)."""
        path = self.path / JUDGE_ITEMS
        return read_jsonl(path) if path.exists() else []

    def results(self) -> dict[str, Any]:
        path = self.path / RESULTS
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise QConsoleError(f"cannot read {path}: {exc}") from exc

    def label(self) -> str:
        who = self.adapter_name or "base vs base"
        suffix = "" if self.is_final else f" [{self.status}, partial]"
        return f"{self.run_id} ({who}){suffix}"


class RunStore:
    """The evals folder: create runs, list and load them."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else evals_dir()

    def new_run_id(self, adapter: str | None) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{_slug(adapter or 'base')}-{secrets.token_hex(2)}"

    def create(self, manifest: dict[str, Any]) -> StoredRun:
        run_id = manifest.get("run_id") or self.new_run_id(
            (manifest.get("adapter") or {}).get("name"))
        path = self.root / run_id
        path.mkdir(parents=True, exist_ok=False)
        manifest = {"run_id": run_id, "created": now_iso(), "status": "running",
                    "pid": os.getpid(), **manifest}
        manifest["run_id"] = run_id
        try:
            write_json(path / MANIFEST, manifest)
        except OSError as exc:  # a full disk: one line, and no empty run folder left behind
            with contextlib.suppress(OSError):
                path.rmdir()
            raise QConsoleError(
                f"cannot start the evaluation run in {path}: {exc.strerror or exc}; nothing ran"
            ) from None
        return StoredRun(path, manifest)

    def runs(self) -> list[StoredRun]:
        """Every readable run, oldest first (unreadable folders are skipped)."""
        if not self.root.is_dir():
            return []
        from qconsole.jobs.litter import remove_litter
        from qconsole.store.storage import TEMP_FILE

        out = []
        for p in self.root.iterdir():
            if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists():
                remove_litter(p, TEMP_FILE)
                try:
                    out.append(load_run(p))
                except QConsoleError:
                    continue
        return sorted(out, key=lambda r: (r.created, r.run_id))

    def get(self, run_id: str) -> StoredRun:
        path = self.root / run_id
        if not (path / MANIFEST).exists():
            known = ", ".join(r.run_id for r in self.runs()[-5:]) or "none"
            raise QConsoleError(f"no evaluation run {run_id!r} in {self.root} (latest: {known})")
        return load_run(path)

    def latest(self, *, final_only: bool = False, adapter: str | None = None
               ) -> StoredRun | None:
        """The newest run (only complete ones with ``final_only``; only that adapter's with
        ``adapter``): what the console's review shows again, and where it reads the
        forgetting-panel flag of an adapter (qconsole.evaluation.report.summarize)."""
        runs = [r for r in self.runs() if (r.is_final or not final_only)
                and (adapter is None or r.adapter_name == adapter)]
        return runs[-1] if runs else None


def load_run(path: str | os.PathLike[str]) -> StoredRun:
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QConsoleError(f"cannot read evaluation run {path}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise QConsoleError(f"{path / MANIFEST}: not a JSON object")
    return StoredRun(path, manifest)


def update_manifest(run: StoredRun, **fields: Any) -> None:
    run.manifest.update(fields)
    write_json(run.path / MANIFEST, run.manifest)


def save_items(run: StoredRun, items: Iterable[ItemResult]) -> None:
    run._items = list(items)
    write_jsonl(run.path / ITEMS, run._items)


def save_judge_items(run: StoredRun, items: Iterable[ItemResult]) -> None:
    write_jsonl(run.path / JUDGE_ITEMS, list(items))


# -- cycles -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleInfo:
    cycle: int
    adapter: str
    adapter_created: str
    run_id: str


def trained_topics(run: StoredRun) -> tuple[str, ...]:
    adapter = run.manifest.get("adapter") or {}
    topics = adapter.get("trained_topics")
    if topics:
        return tuple(topics)
    seen: dict[str, None] = {}
    for r in run.items():
        if r.distance == "in-domain" and r.topic:
            seen.setdefault(r.topic, None)
    return tuple(seen)


def stored_cycles(runs: Iterable[StoredRun]) -> tuple[list[Any], list[CycleInfo]]:
    """(CycleResults for qconsole.evaluation.cycles, what each cycle is) from stored runs."""
    from qconsole.evaluation.cycles import CycleResults

    latest: dict[str, StoredRun] = {}
    for run in runs:
        if run.is_final and run.adapter_name:
            prev = latest.get(run.adapter_name)
            if prev is None or (run.created, run.run_id) > (prev.created, prev.run_id):
                latest[run.adapter_name] = run

    def made(run: StoredRun) -> str:
        return str((run.manifest.get("adapter") or {}).get("created") or run.created)

    ordered = sorted(latest.values(), key=lambda r: (made(r), r.created))
    cycles, infos = [], []
    for k, run in enumerate(ordered, start=1):
        cycles.append(CycleResults.of(k, trained_topics(run), run.items()))
        infos.append(CycleInfo(k, run.adapter_name or "", made(run), run.run_id))
    return cycles, infos
