"""User configuration: one TOML file in the XDG config dir, overridden by ``./qconsole.toml``.

Everything has a default, so qconsole runs with no config at all. Small UI state that should
survive a restart (the chosen theme, the last adapter) lives in ``state.json`` beside the
config, written atomically, never in the config the user edits by hand.

Example ``qconsole.toml``::

    [model]
    spec = "default"          # or a .gguf path, or "owner/repo[:file.gguf]"
    n_ctx = 4096
    threads = 0               # 0: all cores
    template = "auto"         # auto | transcript | chat

    [sampling]
    temperature = 0.7
    max_tokens = 256

    [models]                  # aliases usable wherever a model spec is expected
    qwen = "unsloth/Qwen3-0.6B-Base-GGUF"

    [keys]                    # action id = key(s); see `F1` in the console
    train = "f5"
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from qconsole.errors import QConsoleError
from qconsole.paths import config_dir, workspace_dir
from qconsole.sampling import SamplingSettings


@dataclass
class Config:
    model: str = "default"
    n_ctx: int = 4096
    threads: int = 0
    template: str = "auto"
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    models: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    remote: dict[str, dict] = field(default_factory=dict)
    teacher: dict = field(default_factory=dict)  # checked by qconsole.teacher.config
    sources: list[Path] = field(default_factory=list)


def config_files() -> list[Path]:
    return [config_dir() / "config.toml", workspace_dir() / "qconsole.toml"]


def load_config(files: list[Path] | None = None) -> Config:
    """Merge the config files that exist (later ones win); a broken file is a clear error."""
    cfg = Config()
    sampling: dict = {}
    for path in files if files is not None else config_files():
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise QConsoleError(f"config file {path} is not valid TOML: {exc}") from exc
        cfg.sources.append(path)
        model = data.get("model", {})
        if isinstance(model, str):
            cfg.model = model
        else:
            cfg.model = str(model.get("spec", cfg.model))
            cfg.n_ctx = int(model.get("n_ctx", cfg.n_ctx))
            cfg.threads = int(model.get("threads", cfg.threads))
            cfg.template = str(model.get("template", cfg.template))
        sampling.update(data.get("sampling", {}))
        cfg.models.update({str(k): str(v) for k, v in data.get("models", {}).items()})
        cfg.keys.update({str(k): str(v) for k, v in data.get("keys", {}).items()})
        cfg.remote.update(data.get("remote", {}))
        teacher = data.get("teacher", {})
        if isinstance(teacher, str):  # teacher = "smollm2": a local model spec, shorthand
            teacher = {"spec": teacher}
        cfg.teacher.update(teacher if isinstance(teacher, dict) else {"__not_a_table__": True})
    cfg.sampling = SamplingSettings.from_dict(sampling)
    return cfg


def state_path() -> Path:
    return config_dir() / "state.json"


def load_state() -> dict:
    try:
        return json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_state(**updates: object) -> None:
    """Merge ``updates`` into state.json atomically; failures are not worth a crash."""
    state = load_state()
    state.update(updates)
    path = state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2)
        os.replace(tmp, path)
    except OSError:
        pass
