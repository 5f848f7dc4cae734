"""One side of the comparison on screen: its title, its turns, the selected turn.

Model text is rendered as ``rich.text.Text`` built from :func:`visible_text`, never parsed as
markup, so "[bold]" or an escape sequence in a reply shows up literally.
Styles: styles/widgets.tcss.

A turn shown blind (qconsole/ui/blind.py) is drawn in the pane of its label, not of its side:
A on the left, B on the right, whichever model gave it. So a view knows the side it shows
(``TurnState.side``) and, until the vote, draws nothing that tells the sides apart (no
figures, no names; both replies appear together). After the vote it draws the reveal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group
from rich.text import Text
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from qconsole.sides import Side, other_side
from qconsole.text_safety import visible_text
from qconsole.ui.actions import PANE_ACTIONS, bindings
from qconsole.ui.literal import literal


@dataclass
class TurnState:
    """What a pane shows for one turn of its side."""

    user: str
    turn_no: int = 0  # index into the app's list of turn handles (same on both panes)
    reply: str = ""
    streaming: bool = False
    stats: str = ""
    note: str | None = None
    error: str | None = None
    marks: list[str] = field(default_factory=list)
    rewrite: str | None = None
    preferred: bool = False
    peer_marked: str | None = None  # the other side's reply of this turn is marked: say so here
    side: Side | None = None  # the side whose reply this is (set by the pane when not given)
    blind: str | None = None  # "A" or "B" when the turn is shown blind
    identity: str = ""  # who gave the reply ("base", "adapter fair-1"): shown after the vote
    vote: str | None = None  # the blind vote cast on this turn ("a", "b", "tie", "both_bad")
    revealed: bool = False  # blind: a vote showed the names (an undo does not hide them again)
    reveal: str = ""  # "you voted A better · A was base · B was adapter fair-1"
    held: bool = False  # blind: the reply waits until both sides are done (speed gives it away)

    @property
    def hidden(self) -> bool:
        """Shown blind and the names not revealed yet: nothing may tell the sides apart."""
        return self.blind is not None and not self.revealed

    def who(self) -> str:
        """How dialogs and notices name this reply: its label while hidden, else its side."""
        if self.hidden:
            return self.blind or ""
        return "base" if self.side == "left" else "adapter"


def apply_stored(state: TurnState, turn, side: Side) -> None:
    """Copy a stored turn's marks, rewrite and preference for ``side`` onto ``state``."""
    from qconsole.store.failure_kinds import kind_label

    mark = turn.mark(side)
    state.marks = [kind_label(k) for k in mark.kinds] if mark else []
    if mark and mark.step:
        state.marks.append(f"step: {mark.step}")
    if mark and mark.note:
        state.marks.append(f"“{mark.note}”")
    state.rewrite = turn.rewrite(side)
    state.preferred = turn.preference == side
    blind = turn.blind
    if blind is not None:
        from qconsole.ui.blind import reveal_line

        state.blind = blind.label_of(side)
        state.vote = blind.vote
        state.revealed = blind.revealed_at is not None
        state.reveal = reveal_line(blind, turn)
    other = other_side(side)
    peer = turn.mark(other)
    if peer and blind is not None and not state.revealed:
        state.peer_marked = f"{blind.label_of(other)} reply marked: {kind_label(peer.kind)}"
    else:
        state.peer_marked = (
            f"{'adapter' if other == 'right' else 'base'} reply marked: {kind_label(peer.kind)}"
            if peer else None
        )


def state_from_turn(turn, side: Side, turn_no: int) -> TurnState:
    reply = turn.reply(side)
    state = TurnState(user=turn.user, turn_no=turn_no, reply=reply.text if reply else "",
                      side=side)
    if reply is not None:
        state.identity = f"adapter {reply.adapter}" if reply.adapter else "base"
    if reply is not None:
        if reply.error:
            state.error = reply.error
        if reply.completion_tokens is not None:
            state.stats = f"{reply.completion_tokens} tok · {reply.finish_reason or ''}"
        state.stats = f"{reply.model}{' + ' + reply.adapter if reply.adapter else ''} · " + (
            state.stats
        )
    apply_stored(state, turn, side)
    return state


class TurnView(Widget):

    def __init__(self, state: TurnState) -> None:
        super().__init__()
        self.state = state

    def render(self) -> Group:
        s = self.state
        parts: list[Text] = []
        user = Text.assemble(("you  ", "bold"), visible_text(s.user))
        parts.append(user)
        if s.note:
            parts.append(Text(f"note: {visible_text(s.note)}", style="italic dim"))
        label = f"{s.blind}  " if s.blind else "model  "
        if s.held:
            parts.append(Text.assemble((label, "bold"), ("… both replies appear together when "
                                                         "both are done", "italic dim")))
        else:
            reply = Text.assemble((label, "bold"), visible_text(s.reply))
            if s.streaming:
                reply.append(" ▌", style="blink")
            parts.append(reply)
        if s.error:
            # an error text can name the model or the adapter: its detail waits for the vote
            detail = ("this reply failed (the detail is shown after the vote)" if s.hidden
                      else visible_text(s.error))
            parts.append(Text(f"error: {detail}", style="bold red"))
        if s.rewrite is not None:
            parts.append(Text.assemble(("rewrite  ", "bold green"), visible_text(s.rewrite)))
        badges: list[tuple[str, str]] = []
        if s.marks:
            badges.append(("✗ " + " · ".join(s.marks), "bold red"))
        if s.preferred:
            badges.append(("★ preferred", "bold yellow"))
        if s.peer_marked and not s.marks:
            badges.append(("◂▸ " + s.peer_marked, "red"))
        if s.blind and s.vote is None and not s.held and not s.streaming:
            badges.append(("vote: 1 A better · 2 B better · 3 tie · 4 both bad", "bold cyan"))
        if badges:
            parts.append(Text(" │ ").join(Text(t, style=st) for t, st in badges))
        if s.reveal:
            parts.append(Text(f"◆ {visible_text(s.reveal)}", style="bold cyan"))
        if s.stats and not s.hidden:  # speed, ttft and token counts tell the sides apart
            parts.append(Text(visible_text(s.stats), style="dim"))
        return Group(*parts)

    def on_mount(self) -> None:
        self.refresh_state()

    def refresh_state(self) -> None:
        self.set_class(bool(self.state.marks), "marked")
        self.set_class(bool(self.state.peer_marked) and not self.state.marks, "peer-marked")
        self.refresh(layout=True)


class ChatPane(VerticalScroll, can_focus=True):
    """A scrolling list of turns for one side, with turn selection for marking."""

    BINDINGS = bindings(PANE_ACTIONS)

    selected: reactive[int | None] = reactive(None)

    class Action(TextualMessage):
        """A marking action asked for on this pane (handled by the app)."""

        def __init__(self, pane: ChatPane, action: str) -> None:
            super().__init__()
            self.pane = pane
            self.action = action

    def __init__(self, side: Side, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.side = side
        self.turns: list[TurnView] = []
        self._placeholder: Static | None = None
        self._turns_at_focus = 0  # how many turns there were when the pane last had focus

    def set_title(self, title: str, subtitle: str = "") -> None:
        # literal: model and adapter names are the user's, and a border title is markup
        self.border_title = literal(title)
        self.border_subtitle = literal(subtitle)

    def show_placeholder(self, text: str) -> None:
        self.clear_placeholder()
        self._placeholder = Static(literal(text), classes="placeholder")
        self.mount(self._placeholder)

    def clear_placeholder(self) -> None:
        if self._placeholder is not None:
            self._placeholder.remove()
            self._placeholder = None

    def add_turn(self, state: TurnState) -> TurnView:
        if state.side is None:
            state.side = self.side
        view = TurnView(state)
        self.turns.append(view)
        self.mount(view)
        self.scroll_end(animate=False)
        if state.blind:
            self.refresh_bindings()
        return view

    def clear_turns(self) -> None:
        for view in self.turns:
            view.remove()
        self.turns.clear()
        self.selected = None
        self._turns_at_focus = 0
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The vote keys exist only while this pane holds a turn shown blind."""
        if action.startswith("vote_"):
            return any(v.state.blind for v in self.turns)
        return True

    def append_text(self, index: int, text: str) -> None:
        view = self.turns[index]
        view.state.reply += text
        view.refresh(layout=True)
        if self.selected is None:
            self.scroll_end(animate=False)

    def watch_selected(self, old: int | None, new: int | None) -> None:
        for i, view in enumerate(self.turns):
            view.set_class(i == new, "selected")
        if new is not None and 0 <= new < len(self.turns):
            self.scroll_to_widget(self.turns[new], animate=False)

    def view_for(self, turn_no: int) -> TurnView | None:
        for view in self.turns:
            if view.state.turn_no == turn_no:
                return view
        return None

    def selected_view(self) -> TurnView | None:
        if self.selected is None or not 0 <= self.selected < len(self.turns):
            return None
        return self.turns[self.selected]

    def select_last(self) -> None:
        self.selected = len(self.turns) - 1 if self.turns else None

    def action_prev_turn(self) -> None:
        if self.turns:
            cur = len(self.turns) if self.selected is None else self.selected
            self.selected = max(0, cur - 1)

    def action_next_turn(self) -> None:
        if self.turns:
            cur = -1 if self.selected is None else self.selected
            self.selected = min(len(self.turns) - 1, cur + 1)

    def enter_turns(self) -> None:
        """Focus the pane from the message box (ctrl+t): the newest turn when one arrived since
        the last time (the reply a person comes to mark or vote on); otherwise the selection
        stays where they left it. A selection made otherwise (a click) is not touched."""
        if self.selected is None or len(self.turns) > self._turns_at_focus:
            self.select_last()
        self._turns_at_focus = len(self.turns)
        self.focus()

    def on_focus(self) -> None:
        if self.selected is None:
            self.select_last()

    def on_blur(self) -> None:
        pass

    def _ask(self, action: str) -> None:
        self.post_message(self.Action(self, action))

    def action_other_pane(self) -> None:
        self._ask("other_pane")

    def action_mark(self) -> None:
        self._ask("mark")

    def action_rewrite(self) -> None:
        self._ask("rewrite")

    def action_prefer(self) -> None:
        self._ask("prefer")

    def action_undo(self) -> None:
        self._ask("undo")

    def action_regenerate_side(self) -> None:
        self._ask("regenerate_side")

    def action_vote_a(self) -> None:
        self._ask("vote_a")

    def action_vote_b(self) -> None:
        self._ask("vote_b")

    def action_vote_tie(self) -> None:
        self._ask("vote_tie")

    def action_vote_both_bad(self) -> None:
        self._ask("vote_both_bad")

    # the teacher's keys on a turn (qconsole/ui/teacher_flow.py)
    def action_accept_suggestion(self) -> None:
        self._ask("accept_suggestion")

    def action_edit_suggestion(self) -> None:
        self._ask("edit_suggestion")

    def action_drop_suggestion(self) -> None:
        self._ask("drop_suggestion")

    def action_draft_correction(self) -> None:
        self._ask("draft_correction")

    def action_variants(self) -> None:
        self._ask("variants")
