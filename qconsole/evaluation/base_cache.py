"""The base side's answers, remembered between runs: the next cycle evaluates only the adapter.

Why: the base model never changes between cycles, yet every evaluation asked it every item
again, half of the run's time. Each cached answer is stored under a key made of everything that
could change it:

- the model: the GGUF file's sha256 (qconsole.models.fingerprint.file_fingerprint);
- the item: its id and the sha256 of the exact prompt (or, for log-likelihood requests, of the
  context and continuation tokens);
- decoding: greedy, the reply length, the stop strings, the context size, the engine's decode
  grouping (ENGINE_VERSION) and the llama.cpp build;
- the scorer: SCORER_VERSION and the checker's own settings (generated suites store the score).

Any part that differs is a miss; nothing is ever looked up by a partial key. Only the plain base
is cached (an adapter is new each cycle). ``qconsole eval --no-cache`` bypasses the cache,
``qconsole eval --clear-cache`` empties it. The cache is one SQLite file beside the
workspace's evaluations (``evals/.cache/``); a cache that cannot be opened or written is
reported once and then ignored: it only costs time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Raise when a change makes earlier cached answers wrong:
ENGINE_VERSION = 1  # LlamaEngine's decode grouping (BLOCK-aligned prompts, see llama_engine)
SCORER_VERSION = 1  # how generated replies are read and scored (qconsole.evaluation.suites)
CACHE_FILE = "eval-base-cache.sqlite"


def default_cache_path() -> Path:
    """Beside the workspace's evaluations (``evals/.cache/``), never listed as a run."""
    from qconsole.evaluation.store import evals_dir

    return evals_dir() / ".cache" / CACHE_FILE


def digest(value: Any) -> str:
    """sha256 of a JSON-able value (keys sorted), or of a string / token list."""
    if isinstance(value, str):
        data = value.encode("utf-8")
    else:
        data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(data).hexdigest()


def _llama_cpp_version() -> str:
    try:
        from importlib.metadata import version

        return version("llama_cpp_python")
    except Exception:  # pragma: no cover - always installed with the engine
        return "?"


@dataclass(frozen=True)
class Decoding:
    """The decoding settings that shape an answer."""

    max_tokens: int
    stop: tuple[str, ...]
    n_ctx: int
    greedy: bool = True

    def key(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "stop": list(self.stop), "n_ctx": self.n_ctx,
                "greedy": self.greedy, "engine": ENGINE_VERSION,
                "llama_cpp": _llama_cpp_version()}


class BaseCache:
    """Cached base answers for one model (``model_fp``), in one SQLite file."""

    def __init__(self, path: str | Path | None, model_fp: str) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.model_fp = model_fp
        self.hits = 0
        self.misses = 0
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT)")
            db.commit()
            self._db = db
        except (OSError, sqlite3.Error) as exc:
            self.problem = f"evaluation cache unusable ({self.path}): {exc}; running without it"

    # -- keys ------------------------------------------------------------------------------
    def generation_key(self, *, item_id: str, prompt: str, decoding: Decoding,
                       scorer: Mapping[str, Any]) -> str:
        return digest({"kind": "generate", "model": self.model_fp, "item": item_id,
                       "prompt": digest(prompt), "decoding": decoding.key(),
                       "scorer": {"version": SCORER_VERSION, **dict(scorer)}})

    def loglikelihood_key(self, context: Sequence[int], continuation: Sequence[int], *,
                          n_ctx: int) -> str:
        return digest({"kind": "loglikelihood", "model": self.model_fp,
                       "tokens": digest([list(context), list(continuation)]),
                       "decoding": {"n_ctx": n_ctx, "engine": ENGINE_VERSION,
                                    "llama_cpp": _llama_cpp_version()}})

    # -- storage ---------------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(keys)
        found: dict[str, Any] = {}
        if self._db is not None and keys:
            with self._lock:
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    try:
                        rows = self._db.execute(
                            f"SELECT key, value FROM answers WHERE key IN ({marks})", chunk)
                        found.update((k, json.loads(v)) for k, v in rows)
                    except (sqlite3.Error, ValueError) as exc:
                        self._broken(exc)
                        break
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, entries: Mapping[str, Any]) -> None:
        if self._db is None or not entries:
            return
        with self._lock:
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in entries.items()])
                self._db.commit()
            except sqlite3.Error as exc:
                self._broken(exc)

    def _broken(self, exc: Exception) -> None:
        self.problem = f"evaluation cache failed ({self.path}): {exc}; running without it"
        try:
            assert self._db is not None
            self._db.close()
        finally:
            self._db = None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def stats(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses, "path": str(self.path)}


def clear_cache(path: str | Path | None = None) -> int:
    """Delete every cached answer; return how many there were (0 when there is no cache)."""
    target = Path(path) if path is not None else default_cache_path()
    if not target.exists():
        return 0
    db = sqlite3.connect(str(target), timeout=30)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT)")
        (n,) = db.execute("SELECT COUNT(*) FROM answers").fetchone()
        db.execute("DELETE FROM answers")
        db.commit()
        db.execute("VACUUM")
        return int(n)
    finally:
        db.close()
