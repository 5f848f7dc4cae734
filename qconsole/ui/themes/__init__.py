"""Themes as files: the built-in ``*.toml`` next to this module, then ``themes/`` of the
workspace and of the config dir (the user-facing folders: a file dropped there appears in the
command palette; a user file with a built-in's name replaces it).

The built-ins are package data found with :mod:`importlib.resources`, so a plain wheel install
(``pip install .``, not editable) has them too. Each file holds the colours of a Textual
``Theme``; a bad file is skipped with one warning line rather than keeping the app from starting.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from textual.theme import Theme

from qconsole.paths import config_dir, workspace_dir

DEFAULT_THEME = "qconsole-dark"
_FIELDS = (
    "primary", "secondary", "accent", "foreground", "background", "surface", "panel",
    "success", "warning", "error", "boost",
)


def builtin_themes() -> Traversable:
    """The folder of the built-in theme files, wherever the package is installed."""
    return files(__name__)


def theme_dirs() -> list[Traversable]:
    """Where themes are read from, built-ins first (later files win on a name clash)."""
    dirs: list[Traversable] = [builtin_themes()]
    seen: list[Path] = []
    for d in (workspace_dir() / "themes", config_dir() / "themes"):
        if d.is_dir() and d.resolve() not in seen:
            seen.append(d.resolve())
            dirs.append(d)
    return dirs


def load_theme_file(path: Traversable) -> Theme:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if "primary" not in data:
        raise ValueError("a theme needs at least 'primary'")
    kwargs: dict[str, Any] = {k: str(data[k]) for k in _FIELDS if k in data}
    name = str(data.get("name", path.name.removesuffix(".toml")))
    return Theme(name=name, dark=bool(data.get("dark", True)), **kwargs)


def load_themes() -> tuple[list[Theme], list[str]]:
    """All theme files found, and one warning line per file that could not be read."""
    themes: dict[str, Theme] = {}
    warnings: list[str] = []
    for d in theme_dirs():
        for path in sorted((p for p in d.iterdir() if p.name.endswith(".toml")),
                           key=lambda p: p.name):
            try:
                theme = load_theme_file(path)
            except (OSError, UnicodeDecodeError, ValueError, tomllib.TOMLDecodeError) as exc:
                warnings.append(f"theme {path.name} skipped: {exc}")
                continue
            themes[theme.name] = theme
    return list(themes.values()), warnings
