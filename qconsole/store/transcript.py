"""A plain Markdown transcript of a session: both sides, marks, rewrites, preferences.

For people, not for training (the JSONL exports keep text verbatim). Replies go in fenced
blocks longer than any backtick run inside them, so Markdown in a reply cannot break the page;
control characters and escape sequences are shown as ``\\x1b``-style escapes, so printing a
transcript to a terminal (``qconsole sessions show``) cannot recolour or rewrite the screen.
"""

from __future__ import annotations

import re

from qconsole.store.failure_kinds import STEP_BY_KEY, kind_label
from qconsole.store.ids import SIDES
from qconsole.store.model import Reply, Session, Turn
from qconsole.text_safety import safe_text


def visible(text: str) -> str:
    """Text with control characters (but newline and tab) shown as escapes."""
    return safe_text(text)


def fenced(text: str) -> str:
    text = visible(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _inline(text: object) -> str:
    return safe_text(text, inline=True)


def _adapter_text(value: object) -> str:
    if isinstance(value, dict):
        name = value.get("name") or "?"
        fp = value.get("fingerprint")
        return f"{name} ({fp})" if fp else str(name)
    return str(value) if value else "none"


def _reply_stats(reply: Reply) -> str:
    bits = []
    if reply.finish_reason:
        bits.append(f"finish: {_inline(reply.finish_reason)}")
    if reply.completion_tokens is not None:
        bits.append(f"{reply.completion_tokens} tokens")
    if reply.tokens_per_s is not None:
        bits.append(f"{reply.tokens_per_s:.1f} tok/s")
    if reply.ttft_s is not None:
        bits.append(f"first token {reply.ttft_s:.2f} s")
    if reply.elapsed_s is not None:
        bits.append(f"{reply.elapsed_s:.2f} s")
    return " · ".join(bits)


def _side_section(turn: Turn, side: str) -> list[str]:
    reply = turn.reply(side)
    mark = turn.mark(side)
    rewrite = turn.rewrite(side)
    if reply is None and mark is None and rewrite is None:
        return []
    who = side.capitalize()
    if reply is not None and reply.model:
        who += f" · {_inline(reply.model)}"
        if reply.adapter:
            fp = f" ({_inline(reply.adapter_fingerprint)})" if reply.adapter_fingerprint else ""
            who += f" + {_inline(reply.adapter)}{fp}"
    lines = [f"### {who}", ""]
    if reply is not None:
        lines += [fenced(reply.text), ""]
        if reply.error:
            lines += [f"_error: {_inline(reply.error)}_", ""]
        stats = _reply_stats(reply)
        if stats:
            lines += [f"_{stats}_", ""]
    if mark is not None:
        kinds = ", ".join(kind_label(k) for k in mark.kinds)
        step = ""
        if mark.step:
            step_obj = STEP_BY_KEY.get(mark.step)
            step = f" — failed step: {step_obj.label if step_obj else _inline(mark.step)}"
        lines += [f"> **Marked failing:** {_inline(kinds)}{step}"]
        if mark.note:
            lines += [">", f"> Note: {_inline(mark.note)}"]
        lines += [""]
    if rewrite is not None:
        versions = len(turn.rewrite_history(side))
        more = f" (version {versions})" if versions > 1 else ""
        lines += [f"**Rewrite{more}:**", "", fenced(rewrite), ""]
    return lines


def session_markdown(session: Session) -> str:
    head = [
        f"# Session {_inline(session.id)}",
        "",
        f"- Title: {_inline(session.title) or '(untitled)'}",
        f"- Created: {_inline(session.created)}",
    ]
    for side in SIDES:
        if side in session.models or side in session.adapters:
            head.append(
                f"- {side.capitalize()}: {_inline(session.models.get(side, '?'))}, adapter "
                f"{_inline(_adapter_text(session.adapters.get(side)))}"
            )
    if session.template:
        head.append(f"- Template: {_inline(session.template)}")
    if session.settings:
        settings = ", ".join(f"{k}={v}" for k, v in session.settings.items())
        head.append(f"- Settings: {_inline(settings)}")
    if session.read_only:
        head.append(f"- Read-only: saved by a newer qconsole (schema {session.schema_version})")
    lines = [*head, ""]
    if session.system:
        lines += ["**System:**", "", fenced(session.system), ""]
    for turn in session.turns:
        heading = f"## Turn {turn.index} ({_inline(turn.turn_id)}) · {_inline(turn.created)}"
        lines += [heading, "", "**User:**", ""]
        lines += [fenced(turn.user), ""]
        for side in SIDES:
            lines += _side_section(turn, side)
        if turn.preference:
            lines += [f"**Preferred:** {turn.preference}", ""]
    return "\n".join(lines).rstrip() + "\n"
