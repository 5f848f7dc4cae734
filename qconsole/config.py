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


def _schema():
    """The config file's shape (pydantic, built on first use): strict types and sane ranges,
    unknown keys in [model] and [sampling] refused (a typo would otherwise be ignored)."""
    from typing import Annotated, Any, Literal

    from pydantic import BaseModel, ConfigDict, Field

    class _Table(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")

    class ModelTable(_Table):
        spec: Annotated[str, Field(min_length=1)] | None = None
        n_ctx: Annotated[int, Field(ge=128, le=1 << 21)] | None = None
        threads: Annotated[int, Field(ge=0, le=4096)] | None = None
        template: Literal["auto", "transcript", "chat"] | None = None

    class SamplingTable(_Table):
        temperature: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = None
        top_p: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
        top_k: Annotated[int, Field(ge=0, le=1 << 20)] | None = None
        repeat_penalty: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] | None = None
        max_tokens: Annotated[int, Field(ge=1, le=1 << 20)] | None = None
        seed: Annotated[int, Field(ge=0, lt=1 << 32)] | None = None

    class ConfigFile(BaseModel):
        # other top-level tables belong to other parts (and later versions): kept, not checked
        model_config = ConfigDict(strict=True, extra="allow")

        model: ModelTable | None = None  # model = "spec" is read as [model] spec = "spec"
        sampling: SamplingTable | None = None
        models: dict[str, Annotated[str, Field(min_length=1)]] | None = None
        keys: dict[str, str] | None = None
        remote: dict[str, dict[str, Any]] | None = None

    return ConfigFile


def load_config(files: list[Path] | None = None) -> Config:
    """Merge the config files that exist (later ones win); a broken file is one clear line
    naming the file and the key (``validated.check`` over ``_schema()``)."""
    from qconsole.safe_files import read_text_bounded
    from qconsole.validated import check

    cfg = Config()
    sampling: dict = {}
    for path in files if files is not None else config_files():
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(read_text_bounded(path, max_bytes=1 << 20, what="config file"))
        except tomllib.TOMLDecodeError as exc:
            raise QConsoleError(f"config file {path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise QConsoleError(f"cannot read config file {path}: {exc.strerror or exc}") from None
        if isinstance(data.get("model"), str):
            data["model"] = {"spec": data["model"]}
        parsed = check(_schema(), data, f"config file {path}")
        cfg.sources.append(path)
        if parsed.model is not None:
            m = parsed.model
            cfg.model = m.spec if m.spec is not None else cfg.model
            cfg.n_ctx = m.n_ctx if m.n_ctx is not None else cfg.n_ctx
            cfg.threads = m.threads if m.threads is not None else cfg.threads
            cfg.template = m.template if m.template is not None else cfg.template
        if parsed.sampling is not None:
            sampling.update(parsed.sampling.model_dump(exclude_none=True))
        cfg.models.update(parsed.models or {})
        cfg.keys.update(parsed.keys or {})
        cfg.remote.update(parsed.remote or {})
        teacher = data.get("teacher")  # kept unchecked here: qconsole.teacher.config checks it
        if isinstance(teacher, str):  # teacher = "smollm2": a local model spec, shorthand
            teacher = {"spec": teacher}
        if teacher is not None:
            cfg.teacher.update(teacher if isinstance(teacher, dict) else {"__not_a_table__": True})
    cfg.sampling = SamplingSettings.from_dict(sampling)
    return cfg


def state_path() -> Path:
    return config_dir() / "state.json"


def load_state() -> dict:
    from qconsole.safe_files import read_text_bounded

    try:
        state = json.loads(read_text_bounded(state_path(), max_bytes=1 << 20, what="state file"))
    except (QConsoleError, OSError, ValueError, RecursionError):
        return {}
    return state if isinstance(state, dict) else {}


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
