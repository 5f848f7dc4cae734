"""Where qconsole keeps things, decided in one place.

The *workspace* holds what a person makes (``sessions/``, ``adapters/``): by default the current
directory, so a clone of the repository is a workspace; ``QCONSOLE_WORKSPACE`` moves it.
The *cache* holds what can be rebuilt (the assembled embedded model, converted tokenizers,
GGUF LoRAs): ``$XDG_CACHE_HOME/qconsole`` or ``~/.cache/qconsole``; ``QCONSOLE_CACHE`` moves it.
The *config* directory holds user settings, keymaps and themes: ``$XDG_CONFIG_HOME/qconsole``.
"""

from __future__ import annotations

import os
from pathlib import Path


def workspace_dir() -> Path:
    return Path(os.environ.get("QCONSOLE_WORKSPACE") or Path.cwd()).expanduser()


def sessions_dir() -> Path:
    return Path(os.environ.get("QCONSOLE_SESSIONS") or workspace_dir() / "sessions").expanduser()


def adapters_dir() -> Path:
    return Path(os.environ.get("QCONSOLE_ADAPTERS") or workspace_dir() / "adapters").expanduser()


def cache_dir() -> Path:
    explicit = os.environ.get("QCONSOLE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "qconsole"


def config_dir() -> Path:
    explicit = os.environ.get("QCONSOLE_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "qconsole"
