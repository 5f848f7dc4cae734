"""A user's own lm-eval task folder (``--include-path DIR``), as lm-eval's ``--include_path``.

lm-eval indexes the YAML files of the folder and runs their tasks by name; qconsole hands the
folder to lm-eval's TaskManager the same way (qconsole.evaluation.benchmarks.task_manager).
What this module adds is the part lm-eval does not do before a run: it reads the YAML files
without lm-eval (so the F6 dialog and the data check can use it), tells which task names the
folder defines, and where a task reads local files (``dataset_path: json`` with
``dataset_kwargs.data_files``), so a missing file is reported before the run instead of
failing it. Relative data file paths are taken relative to the YAML file's folder when they
exist there (a task folder stays movable), else relative to the working directory, as
``datasets`` would.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOCAL_BUILDERS = ("json", "csv", "parquet", "text", "arrow")


@functools.cache
def _loader() -> type:
    """A YAML SafeLoader that reads lm-eval's ``!function`` tags as plain strings."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def any_tag(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return f"!{suffix} {loader.construct_scalar(node)}"
        return None

    Loader.add_multi_constructor("!", any_tag)
    return Loader


def _read_yaml(path: Path) -> Mapping[str, Any] | None:
    import yaml

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, Mapping) else None


def task_yamls(include_path: str | os.PathLike[str]) -> dict[str, Path]:
    """Task (and group) name -> the YAML file defining it, for every YAML under the folder."""
    root = Path(include_path).expanduser()
    out: dict[str, Path] = {}
    if not root.is_dir():
        return out
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        data = _read_yaml(path)
        if not data:
            continue
        for key in ("task", "group"):
            value = data.get(key)
            if isinstance(value, str) and value not in out:
                out[value] = path
    return out


def _config(path: Path, depth: int = 0) -> dict[str, Any]:
    """The YAML's mapping with its ``include:`` files merged under it (as lm-eval does)."""
    data = dict(_read_yaml(path) or {})
    inc = data.pop("include", None)
    if isinstance(inc, str) and depth < 5:
        base = _config(path.parent / inc, depth + 1) if (path.parent / inc).is_file() else {}
        data = {**base, **data}
    return data


def resolve_data_file(value: str, yaml_dir: Path) -> Path:
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    beside = yaml_dir / p
    return beside if beside.exists() else Path.cwd() / p


def local_task_files(name: str, include_path: str | os.PathLike[str] | None) -> list[Path] | None:
    """The local files task ``name`` of the folder reads, or None when the folder does not
    define it or it reads from the hub."""
    if not include_path:
        return None
    path = task_yamls(include_path).get(name)
    if path is None:
        return None
    cfg = _config(path)
    if cfg.get("dataset_path") not in LOCAL_BUILDERS:
        return None
    files = ((cfg.get("dataset_kwargs") or {}).get("data_files")
             if isinstance(cfg.get("dataset_kwargs"), Mapping) else None)
    values: list[str] = []
    if isinstance(files, str):
        values = [files]
    elif isinstance(files, list):
        values = [str(v) for v in files]
    elif isinstance(files, Mapping):
        for v in files.values():
            values.extend([str(x) for x in v] if isinstance(v, list) else [str(v)])
    if not values:
        return None
    return [resolve_data_file(v, path.parent) for v in values]


def absolute_data_files(cfg: dict[str, Any], yaml_path: Path) -> dict[str, Any]:
    """``cfg`` with relative ``data_files`` resolved (see the module docstring)."""
    kwargs = cfg.get("dataset_kwargs")
    if cfg.get("dataset_path") not in LOCAL_BUILDERS or not isinstance(kwargs, Mapping):
        return cfg
    files = kwargs.get("data_files")

    def fix(v: Any) -> Any:
        if isinstance(v, list):
            return [fix(x) for x in v]
        return str(resolve_data_file(str(v), yaml_path.parent)) if isinstance(v, str) else v

    if isinstance(files, Mapping):
        files = {k: fix(v) for k, v in files.items()}
    elif files is not None:
        files = fix(files)
    return {**cfg, "dataset_kwargs": {**kwargs, "data_files": files}}
