"""``qconsole adapters``: list the registry, convert an adapter for llama.cpp, verify it.

``verify`` is the trust check for the compare view: it proves that what the right pane shows
(llama.cpp with the GGUF LoRA) is what PEFT trained, and exits 1 when it is not.
"""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapters", help="list, convert and verify LoRA adapters")
    p.set_defaults(func=lambda args: p.print_help() or 0)
    acts = p.add_subparsers(dest="adapters_command", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--model", metavar="SPEC", help="base model (default: the configured model)"
        )
        q.add_argument("--json", action="store_true", help="print JSON instead of a table")

    q = acts.add_parser("list", help="adapters in the registry, usable or not with the base")
    common(q)
    q.set_defaults(func=run_list)

    q = acts.add_parser("convert", help="write (or refresh) the GGUF LoRA of one adapter")
    q.add_argument("name")
    q.add_argument("--force", action="store_true", help="convert even if the cache is current")
    common(q)
    q.set_defaults(func=run_convert)

    q = acts.add_parser(
        "verify", help="check that llama.cpp with the GGUF LoRA matches transformers + PEFT"
    )
    q.add_argument("name")
    q.add_argument("--tokens", type=int, default=None, help="greedy tokens per prompt (16)")
    q.add_argument(
        "--prompt", action="append", default=None, metavar="TEXT",
        help="a prompt to check (repeatable; replaces the built-in set)",
    )
    q.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    common(q)
    q.set_defaults(func=run_verify)


def _base(args: argparse.Namespace):
    from qconsole.config import load_config
    from qconsole.models.resolve import resolve_model

    cfg = load_config()
    return resolve_model(args.model or cfg.model, aliases=cfg.models)


def run_list(args: argparse.Namespace) -> int:
    from qconsole.adapters.registry import list_adapters
    from qconsole.paths import adapters_dir
    from qconsole.text_safety import safe_text

    base = _base(args)
    entries = list_adapters(base.path)
    if args.json:
        print(json.dumps([_entry_dict(e) for e in entries], indent=2))
        return 0
    lines = [f"adapters in {adapters_dir()} for base {base.name}:"]
    if not entries:
        lines.append("  (none: train one in the console, or drop a PEFT adapter directory here)")
    for e in entries:
        mark = "ok " if e.usable else "-- "
        lines.append(f"  {mark}{e.summary()}")
        lines.extend(f"       warning: {w}" for w in e.warnings)
    print("\n".join(safe_text(line, inline=True) for line in lines))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from qconsole.adapters.gguf_lora import convert_peft_to_gguf, ensure_gguf_lora
    from qconsole.adapters.registry import get_adapter
    from qconsole.errors import QConsoleError

    base = _base(args)
    entry = get_adapter(args.name, base.path)
    if not entry.usable:
        raise QConsoleError(f"adapter {entry.name} cannot be used: {entry.reason}")
    if args.force:
        result = convert_peft_to_gguf(entry.path, base.path, entry.gguf_lora_path, name=entry.name)
        path, detail = result.path, f"{result.tensors} tensors in {result.seconds:.2f} s"
    else:
        path, detail = ensure_gguf_lora(entry), "up to date"
    if args.json:
        print(json.dumps({"adapter": entry.name, "gguf_lora": str(path), "detail": detail}))
    else:
        from qconsole.text_safety import safe_text

        print(safe_text(f"{entry.name}: {path} ({detail})", inline=True))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from qconsole.adapters.registry import get_adapter
    from qconsole.adapters.verify import DEFAULT_PROMPTS, DEFAULT_TOKENS, verify_adapter
    from qconsole.errors import QConsoleError
    from qconsole.inference.llama_backend import LlamaBackend

    base = _base(args)
    entry = get_adapter(args.name, base.path)
    if not entry.usable:  # say so before loading two engines
        raise QConsoleError(f"adapter {entry.name} cannot be used: {entry.reason}")
    backend = LlamaBackend(base.path, n_ctx=1024, n_threads=args.threads)
    try:
        report = verify_adapter(
            entry,
            backend=backend,
            prompts=tuple(args.prompt) if args.prompt else DEFAULT_PROMPTS,
            n_tokens=args.tokens or DEFAULT_TOKENS,
        )
    finally:
        backend.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(report.table())
    return 0 if report.passed else 1


def _entry_dict(e) -> dict:
    return {
        "name": e.name,
        "path": str(e.path),
        "usable": e.usable,
        "reason": e.reason,
        "warnings": e.warnings,
        "rank": e.rank,
        "alpha": e.alpha,
        "targets": list(e.targets),
        "base_model_name_or_path": e.base_model_name_or_path,
        "metadata": e.meta.to_dict() if e.meta else None,
    }
