"""Review, fully offline and with no model loaded: the saved sessions, searchable and
filterable, and each session read with both sides, marks and rewrites (editable: the same keys
as in the live console).

Listing uses the store's summary cache, so it opens fast even with thousands of sessions;
full-text search re-reads files and therefore runs on Enter, not per keystroke. Under the list,
the A/B results of every session (blind votes, and sighted preferences apart:
``evaluation/ab_report.py``), computed in a thread.

A turn shown blind and not yet voted on stays blind here too (A on the left, no names, no
figures), and takes its vote here with the same keys (1-4) as in the console.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from qconsole.sides import SIDES
from qconsole.store.failure_kinds import FAILURE_KINDS
from qconsole.store.recorder import SessionRecorder, TurnHandle
from qconsole.store.store import SessionStore
from qconsole.text_safety import visible_text
from qconsole.ui import blind
from qconsole.ui.chat_pane import ChatPane, state_from_turn
from qconsole.ui.literal import literal
from qconsole.ui.screens.marking import MarkingController

FILTERS: list[tuple[str, str]] = [
    ("all sessions", "all"),
    ("with marks", "marked"),
    ("with rewrites", "rewritten"),
    *[(f"kind: {k.label}", f"kind:{k.key}") for k in FAILURE_KINDS],
]


class ReviewScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("slash", "search", "Search"),
        Binding("e", "evaluations", "Evaluations"),
        Binding("f5", "reload", "Reload", show=False),
    ]

    def __init__(self, store: SessionStore, *, standalone: bool = False) -> None:
        super().__init__()
        self.store = store
        self.standalone = standalone
        self.ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="bar"):
            yield Input(placeholder="search text (Enter)", id="search")
            yield Select(FILTERS, value="all", allow_blank=False, id="filter")
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static("", id="count")
        yield Static("A/B results: computing…", id="ab")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "qconsole · review"
        table = self.query_one(DataTable)
        table.add_columns("date", "title", "models", "adapters", "turns", "marks", "rewrites",
                          "votes")
        self.reload()
        for warning in self.store.take_warnings():
            self.notify(warning, severity="warning", timeout=15)
        table.focus()

    def reload(self) -> None:
        text = self.query_one("#search", Input).value.strip() or None
        flt = str(self.query_one("#filter", Select).value)
        kwargs: dict = {"text": text}
        if flt == "marked":
            kwargs["marked"] = True
        elif flt == "rewritten":
            kwargs["rewritten"] = True
        elif flt.startswith("kind:"):
            kwargs["kind"] = flt.removeprefix("kind:")
        summaries = self.store.list_sessions(**kwargs)
        table = self.query_one(DataTable)
        table.clear()
        self.ids = []
        for s in summaries:
            # every cell literal: a string cell would be parsed as markup, and the date,
            # models and adapters come from the session file
            table.add_row(
                literal(s.date),
                literal(s.title[:60]),
                literal(", ".join(sorted(set(s.models)))),
                literal(", ".join(a for a in s.adapters if a) or "—"),
                literal(s.n_turns),
                literal(s.n_marks),
                literal(s.n_rewrites),
                literal(s.n_votes),
            )
            self.ids.append(s.id)
        self.query_one("#count", Static).update(literal(
            f"{len(summaries)} sessions · Enter opens · / searches · e evaluations · Esc "
            + ("quits" if self.standalone else "back to the chat")
        ))
        self.load_ab()

    @work(thread=True, exclusive=True, group="ab", exit_on_error=False)
    def load_ab(self) -> None:
        """Worker thread: the A/B figures read every session with votes or preferences."""
        from qconsole.errors import describe
        from qconsole.evaluation.ab_report import lines, summarize_store

        try:
            text = "\n".join(lines(summarize_store(self.store)))
        except Exception as exc:  # the list stays usable; say why the figures are missing
            text = f"A/B results could not be computed: {describe(exc)}"
        self.app.call_from_thread(self._show_ab, text)

    def _show_ab(self, text: str) -> None:
        if self.is_attached:
            self.query_one("#ab", Static).update(literal(text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.reload()
        self.query_one(DataTable).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.ids):
            self.app.push_screen(SessionScreen(self.store, self.ids[event.cursor_row]),
                                 lambda _: self.reload())

    def action_evaluations(self) -> None:
        from qconsole.ui.screens.evaluations import EvaluationsScreen

        self.app.push_screen(EvaluationsScreen())

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_reload(self) -> None:
        self.reload()

    def action_close(self) -> None:
        if self.standalone:
            self.app.exit()
        else:
            self.dismiss(None)


class SessionScreen(Screen[None]):
    """One saved session, both sides; m/w/p/u edit marks and rewrites as in the console."""

    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, store: SessionStore, session_id: str) -> None:
        super().__init__()
        self.store = store
        self.session_id = session_id
        self.handles: list[TurnHandle] = []
        self.recorder: SessionRecorder | None = None
        self.marking = MarkingController(
            self.app, lambda: self.recorder, self.handles,
            lambda side: self.query_one(f"#{side}", ChatPane),
        )

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="panes"):
            yield ChatPane("left", id="left")
            yield ChatPane("right", id="right")
        yield Footer()

    def on_mount(self) -> None:
        self.marking.app = self.app
        session = self.store.load_session(self.session_id)
        self.title = f"review · {visible_text(session.title)[:60]}"
        self.sub_title = session.created[:19] + (" · read-only" if session.read_only else "")
        for warning in session.warnings:
            self.notify(warning, severity="warning", timeout=15)
        if not session.read_only:
            self.recorder = SessionRecorder(
                self.store, session_id=self.session_id,
                on_error=lambda m: self.app.call_from_thread(self.notify, m, severity="error"),
            )
        hidden = any(t.blind is not None and t.blind.revealed_at is None for t in session.turns)
        for side in SIDES:
            pane = self.query_one(f"#{side}", ChatPane)
            if hidden:  # a turn still to vote on blind: the titles must not say who is where
                pane.set_title("A" if side == "left" else "B",
                               "blind turns: A and B drawn per turn · " + blind.KEYS_HINT)
                continue
            model = session.models.get(side, "") if isinstance(session.models, dict) else ""
            adapter = session.adapters.get(side) if isinstance(session.adapters, dict) else None
            name = adapter.get("name") if isinstance(adapter, dict) else adapter
            pane.set_title(("base" if side == "left" else "adapter") + f" · {model or 'none'}",
                           name or "")
        for no, turn in enumerate(session.turns):
            self.handles.append(TurnHandle(turn.user, turn_id=turn.turn_id,
                                           session_id=self.session_id, blind=turn.blind))
            for side in SIDES:
                if turn.reply(side) is None:
                    continue
                shown = side if turn.blind is None else blind.pane_for(side,
                                                                         turn.blind.assignment)
                self.query_one(f"#{shown}", ChatPane).add_turn(state_from_turn(turn, side, no))
        left = self.query_one("#left", ChatPane)
        left.focus()
        left.selected = 0 if left.turns else None

    def on_chat_pane_action(self, msg: ChatPane.Action) -> None:
        msg.stop()
        if self.recorder is None:
            self.notify("this session is read-only (saved by a newer qconsole)", severity="warning")
            return
        self.marking.handle(msg)

    def action_close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        self.dismiss(None)
