"""More like this (v): the review list of generated variants of one marked failure.

Every candidate is shown, the filtered-out ones too (dimmed, with why: a near-duplicate, an
overlap with an evaluation item), so the person sees what the leakage check removed. Keys:
``a`` accepts the highlighted variant, ``r`` (or ``x``) rejects it, ``e`` edits it, ``A`` accepts
every kept one, Ctrl+S stores the accepted ones as synthetic corrections, Esc stores nothing.
Nothing is pre-accepted: a variant reaches the store only by the person's key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, TextArea
from textual.widgets.option_list import Option

from qconsole.teacher.variants import Variant
from qconsole.text_safety import visible_text
from qconsole.ui.literal import literal
from qconsole.ui.screens.dialog import DialogScreen, FieldError

MARKS = {True: ("✓ ", "bold green"), False: ("✗ ", "red"), None: ("· ", "dim")}


def variant_label(v: Variant, decision: bool | None) -> Text:
    if not v.kept:
        return Text.assemble(("dropped ", "dim"), (f"({visible_text(v.dropped or '')}) ", "dim"),
                             (visible_text(v.prompt)[:200], "dim"))
    mark, style = MARKS[decision]
    return Text.assemble((mark, style), ("Q: ", "bold"), visible_text(v.prompt),
                         ("\n   A: ", "bold"), (visible_text(v.reply), "green"),
                         (f"  [{v.source}{', edited' if v.edited else ''}]", "dim"))


class VariantsScreen(DialogScreen[list[Variant] | None]):
    BINDINGS = [
        Binding("a", "accept", "Accept"),
        Binding("r,x", "reject", "Reject"),
        Binding("e", "edit", "Edit"),
        Binding("A", "accept_all", "Accept all"),
    ]
    SUBMIT_LABEL = "Store accepted"

    def __init__(self, title: str, variants: Sequence[Variant]) -> None:
        super().__init__()
        self.title_text = title
        self.variants = list(variants)
        # None: undecided; only kept variants can be decided
        self.decisions: list[bool | None] = [None] * len(self.variants)

    def compose_body(self) -> Iterator[Widget]:
        kept = sum(v.kept for v in self.variants)
        yield Label(literal(f"{self.title_text}: {kept} variant(s) to review, "
                            f"{len(self.variants) - kept} removed by the filters. a accepts, r "
                            "rejects, e edits, A accepts all, Ctrl+S stores the accepted ones."))
        yield OptionList(*[Option(variant_label(v, None), id=str(i), disabled=not v.kept)
                           for i, v in enumerate(self.variants)], id="variants")
        yield Label("", id="tally")

    def on_mount(self) -> None:
        self.query_one("#variants", OptionList).focus()
        self._tally()

    # -- state -----------------------------------------------------------------------------
    @property
    def accepted(self) -> list[Variant]:
        return [v for v, d in zip(self.variants, self.decisions, strict=True) if d]

    def _tally(self) -> None:
        n = len(self.accepted)
        rejected = sum(d is False for d in self.decisions)
        self.query_one("#tally", Label).update(literal(f"accepted {n} · rejected {rejected}"))

    def _highlighted(self) -> int | None:
        index = self.query_one("#variants", OptionList).highlighted
        if index is None or not self.variants[index].kept:
            return None
        return index

    def _redraw(self, index: int) -> None:
        self.query_one("#variants", OptionList).replace_option_prompt_at_index(
            index, variant_label(self.variants[index], self.decisions[index]))
        self._tally()

    def decide(self, index: int, decision: bool | None) -> None:
        if self.variants[index].kept:
            self.decisions[index] = decision
            self._redraw(index)

    # -- keys ------------------------------------------------------------------------------
    def action_accept(self) -> None:
        index = self._highlighted()
        if index is not None:
            self.decide(index, True)
            self.query_one("#variants", OptionList).action_cursor_down()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_accept()

    def action_reject(self) -> None:
        index = self._highlighted()
        if index is not None:
            self.decide(index, False)
            self.query_one("#variants", OptionList).action_cursor_down()

    def action_accept_all(self) -> None:
        for i, v in enumerate(self.variants):
            if v.kept:
                self.decide(i, True)

    def action_edit(self) -> None:
        index = self._highlighted()
        if index is None:
            return

        def done(result: Variant | None) -> None:
            if result is not None:
                self.variants[index] = result
                self.decide(index, True)  # an edited variant is one the person wants

        self.app.push_screen(VariantEditScreen(self.variants[index]), done)

    def collect(self) -> list[Variant]:
        if not self.accepted:
            raise FieldError("nothing accepted yet: a accepts one, A accepts all (Esc: none)")
        return self.accepted


class VariantEditScreen(DialogScreen[Variant | None]):
    """One variant's question and answer, editable; Ctrl+S keeps the edit."""

    SUBMIT_LABEL = "Keep"

    def __init__(self, variant: Variant) -> None:
        super().__init__()
        self.variant = variant

    def compose_body(self) -> Iterator[Widget]:
        yield Label(literal("Edit the variant: the question, then the corrected answer. "
                            "Ctrl+S keeps it, Esc leaves it as it was."))
        yield Input(self.variant.prompt, id="f-prompt")
        yield TextArea(self.variant.reply, id="f-reply", soft_wrap=True)

    def on_mount(self) -> None:
        self.query_one("#f-reply", TextArea).focus()

    def collect(self) -> Variant | None:
        prompt = self.raw("prompt")
        reply = self.query_one("#f-reply", TextArea).text.strip()
        if not prompt or not reply:
            raise FieldError("a variant needs both a question and an answer")
        if prompt == self.variant.prompt and reply == self.variant.reply:
            return self.variant
        return replace(self.variant, prompt=prompt, reply=reply, edited=True)
