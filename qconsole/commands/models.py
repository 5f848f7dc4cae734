"""``qconsole models``: the embedded default, cached hub models and configured aliases."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the default, cached and configured models")
    p.add_argument("--check", metavar="SPEC", help="resolve and validate one model spec")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qconsole.config import load_config
    from qconsole.models.gguf_info import read_gguf_info
    from qconsole.models.resolve import cached_hub_models, resolve_model
    from qconsole.paths import cache_dir

    cfg = load_config()
    if args.check:
        resolved = resolve_model(args.check, aliases=cfg.models)
        info = read_gguf_info(resolved.path)
        size = f"{info.size_bytes / 2**20:.0f} MiB"
        print(f"{resolved.name}\t{info.architecture}\t{size}\t{resolved.path}")
        return 0
    print("default (embedded, offline):")
    default = resolve_model("default")
    info = read_gguf_info(default.path, check_memory=False)
    print(f"  default\t{info.name} ({info.architecture}, base)\t{default.path}")
    cached = cached_hub_models()
    local = sorted((cache_dir() / "models").glob("*.gguf"))
    print("cached:")
    for path in [*cached, *(p for p in local if p != default.path)]:
        print(f"  {path}")
    if not cached and len(local) <= 1:
        print("  (none)")
    print("configured aliases:")
    for alias, spec in sorted(cfg.models.items()):
        print(f"  {alias}\t{spec}")
    if not cfg.models:
        print("  (none; add a [models] table to qconsole.toml)")
    return 0
