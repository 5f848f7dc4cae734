"""Model output is text, never commands to the terminal.

A base model can emit anything, including terminal escape sequences (which would move the
cursor, change colours or retitle the window) and strings that look like Rich/Textual markup.
The UI never parses markup in model text (it renders ``rich.text.Text`` objects), and this
module makes control characters *visible* instead of letting them reach the terminal:
ESC becomes "␛", other C0 controls their Unicode control pictures, C1 controls "\\x9b" style.
Newlines and tabs are kept.
"""

from __future__ import annotations

_KEEP = {"\n", "\t"}


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


_TABLE = {
    code: _visible(chr(code))
    for code in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
    if chr(code) not in _KEEP
}
_TABLE[ord("\r")] = ""  # a bare CR would rewrite the line; CRLF becomes LF


def visible_text(text: str) -> str:
    """Return ``text`` with every control character except newline and tab made visible."""
    return text.translate(_TABLE)
