"""``qconsole review``: browse saved sessions offline; marks and rewrites stay editable."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("review", help="review saved sessions (no model needed)")
    p.add_argument("--sessions-dir", type=Path, help="default: ./sessions of the workspace")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qconsole.config import load_config
    from qconsole.paths import sessions_dir
    from qconsole.store.store import SessionStore
    from qconsole.ui.review_app import ReviewApp

    ReviewApp(SessionStore(args.sessions_dir or sessions_dir()), load_config()).run()
    return 0
