"""The teacher's two small dialogs: the script picker (Ctrl+Y) and the draft editor (d).

The draft editor is the rewrite editor (qconsole/ui/screens/rewrite.py) with the teacher's
diagnosis above it: LEMA's first wrong step and why it is wrong, so the person can judge the
draft before keeping it. What is saved is the corrected reply as the person leaves it; the
flow stores it with the draft's provenance (teacher, prompt hash, unchanged or edited).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from qconsole.text_safety import visible_text
from qconsole.ui.literal import literal
from qconsole.ui.screens.dialog import DialogScreen
from qconsole.ui.screens.rewrite import RewriteScreen


@dataclass(frozen=True)
class ScriptEntry:
    name: str
    title: str  # or why the file cannot be read
    turns: int
    where: str  # shipped | workspace
    broken: bool = False


def script_entries() -> list[ScriptEntry]:
    """Every shipped and workspace script, a broken file listed with its one-line error."""
    from qconsole.errors import QConsoleError
    from qconsole.teacher.scripts import SHIPPED_DIR, load_script_file, script_files

    out = []
    for name, path in sorted(script_files().items()):
        where = "shipped" if path.parent == SHIPPED_DIR else "workspace"
        try:
            s = load_script_file(path)
            out.append(ScriptEntry(name, s.title, len(s.turns), where))
        except QConsoleError as exc:
            out.append(ScriptEntry(name, str(exc), 0, where, broken=True))
    return out


class ScriptPickScreen(DialogScreen[str | None]):
    """Pick a diagnostic script; Enter plays it into both panes, Esc cancels."""

    def __init__(self, entries: Sequence[ScriptEntry]) -> None:
        super().__init__()
        self.entries = list(entries)

    def compose_body(self) -> Iterator[Widget]:
        yield Label(literal("Play a diagnostic script into both panes, turn by turn; every "
                            "failing check suggests a mark. Enter plays, Esc cancels."))
        options = []
        for e in self.entries:
            if e.broken:
                label = Text.assemble((e.name, "bold"), "  ", (visible_text(e.title), "red"))
            else:
                label = Text.assemble((e.name, "bold"), f"  {visible_text(e.title)}",
                                      (f"  {e.turns} turns · {e.where}", "dim"))
            options.append(Option(label, id=e.name, disabled=e.broken))
        yield OptionList(*options, id="scripts")

    def on_mount(self) -> None:
        self.query_one("#scripts", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class DraftScreen(RewriteScreen):
    """The rewrite editor, prefilled with the teacher's corrected reply."""

    def __init__(self, user: str, original: str, corrected: str, *, first_wrong_step: str,
                 why: str, teacher: str, parsed: bool) -> None:
        super().__init__(user, original, corrected)
        self.first_wrong_step = first_wrong_step
        self.why = why
        self.teacher = teacher
        self.parsed = parsed

    def compose_body(self) -> Iterator[Widget]:
        yield Label(literal(f"Draft correction by {self.teacher}: edit it or keep it; "
                            "Ctrl+S saves it as the correction, Esc leaves it."),
                    classes="teacher-draft")
        if self.parsed:
            yield Label(literal("first wrong step: " + (self.first_wrong_step or "(not given)")),
                        classes="original")
            yield Label(literal("why: " + (self.why or "(not given)")), classes="original")
        else:
            yield Label(literal("(the teacher did not follow the format: its whole answer is "
                                "the draft)"), classes="original")
        yield from super().compose_body()
