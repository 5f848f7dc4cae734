"""qconsole's own text on screen, literally: the same path as model output.

A Textual string is parsed as markup, so "[keys]" in a sentence vanished from the help screen;
a ``rich.text.Text`` is not parsed, and :func:`visible_text` makes control characters visible.
Every label, title and message that can contain brackets or user text goes through here.
"""

from __future__ import annotations

from rich.text import Text

from qconsole.text_safety import visible_text


def literal(text: object, style: str = "") -> Text:
    return Text(visible_text(str(text)), style=style)
