"""``qconsole sessions list|show|export``: the saved sessions for scripts, no model loaded.

Headless twin of the review screen: the same store, filters and exports, so a script (or CI)
can turn a week of marked chats into a training set without opening the console. Output meant
for a terminal goes through ``visible()`` so escape sequences stored in a chat cannot repaint
the screen; JSON and the export files keep the text exactly.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from qconsole.errors import QConsoleError

FORMATS = ("sft", "dataset", "dpo", "markdown")


def register(sub: argparse._SubParsersAction) -> None:
    from qconsole.store.failure_kinds import KIND_BY_KEY

    parser = sub.add_parser(
        "sessions",
        help="list, show and export saved sessions (no model needed)",
        description="Saved chat sessions: list and search them, show one, export corrections.",
    )
    parser.set_defaults(func=lambda _args: _help(parser))
    actions = parser.add_subparsers(dest="sessions_action", metavar="ACTION")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--sessions-dir", type=Path, default=None, metavar="DIR",
        help="the sessions directory (default: $QCONSOLE_SESSIONS or <workspace>/sessions)",
    )
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--text", help="only sessions whose text contains this (any case)")
    filters.add_argument("--kind", choices=sorted(KIND_BY_KEY), help="only this failure kind")
    marked = filters.add_mutually_exclusive_group()
    marked.add_argument("--marked", dest="marked", action="store_true", default=None,
                        help="only sessions with marks")
    marked.add_argument("--unmarked", dest="marked", action="store_false",
                        help="only sessions without marks")
    rewritten = filters.add_mutually_exclusive_group()
    rewritten.add_argument("--rewritten", dest="rewritten", action="store_true", default=None,
                           help="only sessions with rewrites")
    rewritten.add_argument("--not-rewritten", dest="rewritten", action="store_false",
                           help="only sessions without rewrites")
    filters.add_argument("--adapter", help="only sessions that used an adapter matching this")
    filters.add_argument("--all", dest="include_empty", action="store_true",
                         help="include sessions without turns")

    p_list = actions.add_parser("list", parents=[common, filters], help="list sessions")
    p_list.add_argument("--json", action="store_true", help="one JSON object per line")
    p_list.set_defaults(func=run_list)

    p_show = actions.add_parser("show", parents=[common], help="show one session")
    p_show.add_argument("session_id", metavar="ID", help="a session id or a unique prefix of one")
    p_show.add_argument("--json", action="store_true", help="the whole session as JSON")
    p_show.set_defaults(func=run_show)

    p_export = actions.add_parser(
        "export", parents=[common, filters],
        help="export corrections (sft, dataset), preference pairs (dpo) or transcripts",
        description=(
            "sft: corrections as JSONL in the conversational 'messages' format; dataset: the "
            "same saved with datasets.save_to_disk; dpo: preference pairs (prompt, chosen, "
            "rejected) as JSONL; markdown: plain transcripts."
        ),
    )
    p_export.add_argument("--format", "-f", choices=FORMATS, required=True)
    p_export.add_argument("--output", "-o", required=True,
                          help="output file ('-' for standard output); a directory for dataset")
    p_export.add_argument("--session", "-s", action="append", dest="sessions", metavar="ID",
                          help="only this session (repeatable; an id or a unique prefix)")
    p_export.add_argument("--no-rewrite-pairs", action="store_true",
                          help="dpo: only left/right preferences, not rewrite-vs-original pairs")
    p_export.set_defaults(func=run_export)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _store(args: argparse.Namespace):
    from qconsole.paths import sessions_dir
    from qconsole.store import SessionStore

    root = args.sessions_dir if args.sessions_dir is not None else sessions_dir()
    return SessionStore(root)


def _flush_warnings(store) -> None:
    for message in store.take_warnings():
        print(f"qconsole: warning: {message}", file=sys.stderr)


def resolve_session_id(store, given: str) -> str:
    """An exact id, or the one session whose id starts with ``given``."""
    from qconsole.store.ids import check_session_id

    check_session_id(given)
    ids = store.session_ids()
    if given in ids:
        return given
    matches = [i for i in ids if i.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise QConsoleError(f"no session {given!r} in {store.root}; see `qconsole sessions list`")
    shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
    raise QConsoleError(f"{given!r} matches {len(matches)} sessions ({shown}); give more of it")


def _filters(args: argparse.Namespace) -> dict:
    return {
        "text": args.text, "kind": args.kind, "marked": args.marked,
        "rewritten": args.rewritten, "adapter": args.adapter,
        "include_empty": args.include_empty,
    }


def _any_filter(args: argparse.Namespace) -> bool:
    f = _filters(args)
    f.pop("include_empty")
    return any(v is not None for v in f.values())


def run_list(args: argparse.Namespace) -> int:
    from qconsole.text_safety import safe_text

    store = _store(args)
    rows = store.list_sessions(**_filters(args))
    _flush_warnings(store)
    if args.json:
        for row in rows:
            print(json.dumps(row.to_dict(), ensure_ascii=True))
        return 0
    if not rows:
        print(f"no sessions found in {store.root}", file=sys.stderr)
        return 0
    header = f"{'ID':<23} {'DATE':<16} {'TURNS':>5} {'MARKS':>5} {'REWR':>4}"
    print(f"{header}  MODELS / ADAPTERS / TITLE")
    for r in rows:
        date = r.created[:16].replace("T", " ")
        models = ",".join(r.models) or "-"
        adapters = ",".join(r.adapters) or "no adapter"
        flag = " [read-only]" if r.read_only else ""
        line = (
            f"{r.id:<23} {date:<16} {r.n_turns:>5} {r.n_marks:>5} {r.n_rewrites:>4}  "
            f"{models} / {adapters} / {r.title}{flag}"
        )
        print(safe_text(line, inline=True))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from qconsole.store.transcript import session_markdown

    store = _store(args)
    session = store.load_session(resolve_session_id(store, args.session_id))
    _flush_warnings(store)
    if args.json:
        data = dataclasses.asdict(session)
        # ASCII JSON: exact text once decoded, and no byte of it can drive a terminal
        sys.stdout.write(json.dumps(data, ensure_ascii=True, separators=(",", ":")) + "\n")
    else:
        sys.stdout.write(session_markdown(session))
    return 0


def _write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except AttributeError:  # a text-only stdout (captured in tests)
        sys.stdout.write(data.decode("utf-8", "surrogatepass"))


def run_export(args: argparse.Namespace) -> int:
    from qconsole.store import export

    store = _store(args)
    if args.sessions:
        ids: list[str] | None = [resolve_session_id(store, s) for s in args.sessions]
    elif _any_filter(args) or args.format == "markdown":
        ids = [r.id for r in store.list_sessions(**_filters(args))]
        ids.reverse()  # oldest first
    else:
        ids = None
    to_stdout = args.output == "-"
    if to_stdout and args.format == "dataset":
        raise QConsoleError("a dataset is saved as a directory: give --output DIR")
    out = Path(args.output)

    if args.format in ("sft", "dataset"):
        items = store.corrections(ids, kind=args.kind)
        what = "corrections"
        if args.format == "dataset":
            n = export.save_sft_dataset(items, out)
        elif to_stdout:
            _write_stdout(export.jsonl_bytes(export.sft_record(c) for c in items))
            n = len(items)
        else:
            n = export.write_sft_jsonl(items, out)
    elif args.format == "dpo":
        pairs = store.preference_pairs(ids, include_rewrites=not args.no_rewrite_pairs)
        what = "preference pairs"
        if to_stdout:
            _write_stdout(export.jsonl_bytes(export.preference_record(p) for p in pairs))
            n = len(pairs)
        else:
            n = export.write_preference_jsonl(pairs, out)
    else:
        sessions = [store.load_session(i) for i in (ids or [])]
        what = "sessions"
        if to_stdout:
            _write_stdout("\n---\n\n".join(export.session_markdown(s) for s in sessions).encode(
                "utf-8", "surrogatepass"))
            n = len(sessions)
        else:
            n = export.write_markdown(sessions, out)
    _flush_warnings(store)
    where = "standard output" if to_stdout else str(out)
    print(f"exported {n} {what} to {where}", file=sys.stderr)
    if n == 0 and what != "sessions":
        hint = "rewrite a marked reply first" if what == "corrections" else "prefer or rewrite"
        print(f"qconsole: note: nothing to export ({hint})", file=sys.stderr)
    return 0
