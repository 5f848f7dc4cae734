"""Themes as files: ``themes/*.toml`` in the repository, the workspace and the config dir.

Each file holds the colours of a Textual ``Theme``; a bad file is skipped with a warning rather
than keeping the console from starting.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from textual.theme import Theme

from qconsole.paths import config_dir, workspace_dir

DEFAULT_THEME = "qconsole-dark"
_FIELDS = (
    "primary", "secondary", "accent", "foreground", "background", "surface", "panel",
    "success", "warning", "error", "boost",
)


def theme_dirs() -> list[Path]:
    bundled = Path(__file__).resolve().parents[2] / "themes"
    dirs = [bundled, workspace_dir() / "themes", config_dir() / "themes"]
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def load_theme_file(path: Path) -> Theme:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if "primary" not in data:
        raise ValueError("a theme needs at least 'primary'")
    kwargs: dict[str, Any] = {k: str(data[k]) for k in _FIELDS if k in data}
    return Theme(name=str(data.get("name", path.stem)), dark=bool(data.get("dark", True)), **kwargs)


def load_themes() -> tuple[list[Theme], list[str]]:
    """All theme files found, and one warning line per file that could not be read."""
    themes: dict[str, Theme] = {}
    warnings: list[str] = []
    for d in theme_dirs():
        for path in sorted(d.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
                warnings.append(f"theme {path.name} skipped: {exc}")
                continue
            themes[theme.name] = theme
    return list(themes.values()), warnings
