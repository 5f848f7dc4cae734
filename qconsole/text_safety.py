"""Text from models, files and names is text, never commands to the terminal.

A base model can emit anything, and a session file, an adapter directory name, a probe file's
``suite:`` or a finish reason can hold anything somebody put there: terminal escape sequences
(which move the cursor, clear the screen, retitle the window, or write the clipboard with
OSC 52), bidi overrides that reorder what a reader sees, lone surrogates that break encoders,
and strings that look like Rich/Textual markup. One classification of unsafe characters lives
here, with two renderings:

- :func:`visible_text` for the UI (rendered as ``rich.text.Text``, never parsed as markup):
  ESC becomes "␛", other C0 controls their Unicode control pictures, the rest ``\\x9b`` style.
- :func:`safe_text` for every terminal and report writer (CLI output, Markdown, HTML, tables,
  progress lines): ``\\x1b``-style escapes, any value accepted (``None`` is empty), and with
  ``inline=True`` newlines become spaces so one field stays on one line.

Newlines and tabs are kept otherwise. A CR would rewrite the line: the UI drops it (CRLF
becomes LF), the writers show it as ``\x0d``.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates,
# and lone surrogates.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _picture(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return _escape(code)


def _sub(text: str, render, *, drop_cr: bool) -> str:
    def one(m: re.Match[str]) -> str:
        ch = m.group()
        return "" if drop_cr and ch == "\r" else render(ord(ch))

    return _UNSAFE.sub(one, text.replace("\r\n", "\n") if drop_cr else text)


def visible_text(text: str) -> str:
    """``text`` for the UI: every unsafe character shown as a control picture or escape."""
    return _sub(text, _picture, drop_cr=True)


def safe_text(value: object, *, inline: bool = False) -> str:
    """Any value as text safe to print to a terminal or write into a report: unsafe
    characters shown as ``\\x1b``-style escapes; ``inline`` also folds newlines and tabs to
    spaces (a table cell, a one-line field)."""
    if value is None:
        return ""
    text = _sub(value if isinstance(value, str) else str(value), _escape, drop_cr=False)
    if inline:
        text = text.replace("\n", " ").replace("\t", " ")
    return text
