"""The cycle ledger: what each cycle of a plan did, on disk, so a killed run resumes.

Why a ledger of its own and not "the latest evaluation of each adapter": an unrelated later run
(a probe file, a re-run with other suites) replaced a cycle's own evaluation, and growth came
out "n/a". The ledger names, per cycle, exactly the runs that belong to it.

One JSON file per plan, ``<workspace>/cycles/<plan name>/ledger.json``, rewritten atomically
(temporary file, fsync, rename) after every step, so a kill at any moment leaves either the
ledger before the step or after it, never half of it. Shape::

    {"version": 1, "plan": {"name", "hash", "path"}, "created", "updated",
     "cycles": [{"cycle": 1, "plan_hash", "topics": [...], "steps": {
         "probe": {"done_at", ...}, "check": {...}, "corrections": {...},
         "train": {...}, "evaluate": {...}, "record": {...}}}]}

A step is finished when its entry has ``done_at``; anything else under ``steps`` is a step
that started (``started_at``) and did not finish: it is run again, and each step is written so
that running it again repeats no finished work (see qconsole.cycles.steps).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError

LEDGER_VERSION = 1
STEP_NAMES = ("probe", "check", "corrections", "train", "evaluate", "record")


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def write_atomic(path: Path, data: Any) -> None:
    """JSON to ``path`` through a fsynced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ledger_path(workspace: Path, plan_name: str) -> Path:
    return workspace / "cycles" / plan_name / "ledger.json"


class Ledger:
    """The ledger of one plan in one workspace."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    # -- opening --------------------------------------------------------------------------------

    @classmethod
    def read(cls, path: Path) -> Ledger:
        from qconsole.safe_files import read_text_bounded

        try:
            data = json.loads(read_text_bounded(path, max_bytes=64 << 20, what="cycle ledger"))
        except json.JSONDecodeError as exc:
            raise QConsoleError(f"cycle ledger {path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("cycles"), list):
            raise QConsoleError(f"cycle ledger {path} has no 'cycles' list")
        if data.get("version") != LEDGER_VERSION:
            raise QConsoleError(f"cycle ledger {path}: unknown version {data.get('version')!r}")
        return cls(path, data)

    @classmethod
    def open(cls, path: Path, *, plan_name: str, plan_hash: str, plan_path: str,
             topics: dict[str, str] | None = None) -> Ledger:
        """The plan's ledger, new or resumed; a ledger of a different plan is refused."""
        if path.is_file():
            ledger = cls.read(path)
            old = ledger.data.get("plan", {}).get("hash")
            if old != plan_hash:
                raise QConsoleError(
                    f"the ledger {path} was made by a different version of plan "
                    f"{plan_name!r} (hash {str(old)[:12]}, now {plan_hash[:12]}); resuming "
                    "would mix two plans: rename the plan or move the ledger away")
            return ledger
        data = {"version": LEDGER_VERSION,
                "plan": {"name": plan_name, "hash": plan_hash, "path": plan_path,
                         "topics": dict(topics or {})},
                "created": _now(), "updated": _now(), "cycles": []}
        ledger = cls(path, data)
        ledger.save()
        return ledger

    def save(self) -> None:
        self.data["updated"] = _now()
        write_atomic(self.path, self.data)

    # -- cycles and steps -------------------------------------------------------------------

    @property
    def cycles(self) -> list[dict[str, Any]]:
        return list(self.data["cycles"])

    @property
    def folder(self) -> Path:
        return self.path.parent

    def cycle(self, k: int, *, topics: list[str] | None = None) -> dict[str, Any]:
        """Cycle ``k``'s entry (made, and saved, on first use)."""
        for c in self.data["cycles"]:
            if c.get("cycle") == k:
                return dict(c)
        if topics is None:
            raise KeyError(k)
        entry = {"cycle": k, "plan_hash": self.data["plan"]["hash"], "topics": list(topics),
                 "started_at": _now(), "steps": {}}
        self.data["cycles"].append(entry)
        self.data["cycles"].sort(key=lambda c: c["cycle"])
        self.save()
        return dict(entry)

    def _entry(self, k: int) -> dict[str, Any]:
        for c in self.data["cycles"]:
            if c.get("cycle") == k:
                return c
        raise KeyError(k)

    def step(self, k: int, name: str) -> dict[str, Any] | None:
        """The finished result of step ``name`` of cycle ``k``, or None."""
        try:
            got = self._entry(k)["steps"].get(name)
        except KeyError:
            return None
        return dict(got) if isinstance(got, dict) and got.get("done_at") else None

    def start_step(self, k: int, name: str) -> None:
        entry = self._entry(k)["steps"]
        prior = {key: v for key, v in (entry.get(name) or {}).items()
                 if key not in ("done_at", "waiting", "pending", "ready")}
        attempts = int(prior.get("attempts", 0)) + 1
        entry[name] = {**prior, "started_at": _now(), "attempts": attempts}
        self.save()

    def finish_step(self, k: int, name: str, result: dict[str, Any]) -> None:
        entry = self._entry(k)["steps"]
        prior = entry.get(name) or {}
        entry[name] = {**result, "started_at": prior.get("started_at", _now()),
                       "attempts": prior.get("attempts", 1), "done_at": _now()}
        if name == STEP_NAMES[-1]:
            self._entry(k)["done_at"] = _now()
        self.save()

    def state(self, k: int, name: str) -> dict[str, Any]:
        """Step ``name`` of cycle ``k`` as recorded so far, finished or not ({} if never)."""
        try:
            return dict(self._entry(k)["steps"].get(name) or {})
        except KeyError:
            return {}

    def attempts(self, k: int, name: str) -> int:
        """How many times step ``name`` of cycle ``k`` has been started (1 on the first)."""
        try:
            return int((self._entry(k)["steps"].get(name) or {}).get("attempts", 1))
        except KeyError:
            return 1

    def set_step_state(self, k: int, name: str, **fields: Any) -> None:
        """Progress of an unfinished step (e.g. a human queue waiting for review)."""
        entry = self._entry(k)["steps"]
        entry[name] = {**(entry.get(name) or {}), **fields}
        self.save()

    def cycle_done(self, k: int) -> bool:
        try:
            return bool(self._entry(k).get("done_at"))
        except KeyError:
            return False

    def done_cycles(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self.data["cycles"] if c.get("done_at")]


def find_ledgers(workspace: Path) -> list[Path]:
    """Every plan's ledger in the workspace, oldest first."""
    root = workspace / "cycles"
    if not root.is_dir():
        return []
    return sorted((p for p in root.glob("*/ledger.json") if p.is_file()),
                  key=lambda p: p.stat().st_mtime)
