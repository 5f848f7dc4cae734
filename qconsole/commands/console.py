"""``qconsole`` / ``qconsole console``: open the side-by-side console."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("console", help="open the console (the default)")
    p.add_argument("--model", "-m", help="model: 'default', a .gguf path, or owner/repo[:file]")
    p.add_argument("--template", choices=["auto", "transcript", "chat"], help="prompt format")
    p.add_argument("--n-ctx", type=int, help="context window in tokens")
    p.add_argument("--threads", type=int, help="CPU threads per side")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qconsole.config import load_config
    from qconsole.ui.app import QConsoleApp

    cfg = load_config()
    if args.model:
        cfg.model = args.model
    if args.template:
        cfg.template = args.template
    if args.n_ctx:
        cfg.n_ctx = args.n_ctx
    if args.threads:
        cfg.threads = args.threads
    from qconsole.native_stderr import native_stderr_to
    from qconsole.paths import cache_dir

    with native_stderr_to(cache_dir() / "logs" / "console.log"):
        QConsoleApp(cfg).run()
    return 0
