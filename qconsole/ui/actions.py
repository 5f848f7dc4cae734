"""Every console action in one registry: it feeds the key bindings, the footer, the help
screen and the command palette, so a key is defined once and shown the same everywhere.

Users remap keys by action id in the ``[keys]`` table of the config (see qconsole/config.py);
Textual's keymap does the remapping, by binding id.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class ActionSpec:
    id: str
    key: str
    description: str
    help: str
    group: str = "Chat"
    show: bool = True  # in the footer
    priority: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("cancel", "escape", "Cancel", "Stop both replies mid-stream"),
    ActionSpec("help", "f1", "Help", "Show every key and what it does"),
    ActionSpec("settings", "f2", "Settings", "Sampling settings and prompt template (both sides)"),
    ActionSpec("pick_adapter", "f3", "Adapter", "Choose the adapter of the right pane"),
    ActionSpec("review", "f4", "Review", "Browse saved sessions offline", group="Sessions"),
    ActionSpec("train", "f5", "Train", "Train a LoRA on all corrections", group="Loop"),
    ActionSpec("evaluate", "f6", "Evaluate", "Evaluate base against adapter", group="Loop"),
    ActionSpec("jobs", "f7", "Jobs", "Show or hide the training/evaluation pane", group="Loop"),
    ActionSpec("cancel_job", "f8", "Stop job", "Cancel the running training or evaluation",
               group="Loop"),
    ActionSpec("cycles", "f12", "Cycles",
               "The cycle ledger: growth per cycle; Enter puts a cycle's adapter on the right",
               group="Loop"),
    ActionSpec("regenerate", "ctrl+r", "Regenerate",
               "Regenerate the last reply of both sides (g in the turns: one side)"),
    ActionSpec("edit_last", "ctrl+e", "Edit last", "Edit and resend your last message"),
    ActionSpec("new_session", "ctrl+n", "New", "Start a new session", group="Sessions"),
    ActionSpec("focus_turns", "ctrl+t", "Turns",
               "Move to the turns to mark them (again: back to the message box)", group="Mark"),
    # off the footer (it is full); in help and the command palette
    ActionSpec("blind", "ctrl+b", "Blind A/B",
               "Blind mode: hide which pane is the adapter, drawn per turn; 1-4 vote",
               group="Mark", show=False),
    ActionSpec("teacher_pane", "f9", "Teacher", "Show or hide the teacher pane (its suggestions)",
               group="Teacher"),
    ActionSpec("play_script", "ctrl+y", "Play script",
               "Play a diagnostic script into both panes; failing checks suggest marks",
               group="Teacher", show=False),
    ActionSpec("next_question", "ctrl+o", "Next question",
               "Ask the teacher for the next probe; it lands in the message box",
               group="Teacher", show=False),
    ActionSpec("quit", "ctrl+q,ctrl+c", "Quit", "Quit (everything is already saved)",
               priority=True),
)

# Keys inside a chat pane (turn navigation and marking); listed in help, bound on the pane.
PANE_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("prev_turn", "up,k", "Prev turn", "Select the previous turn", group="Mark"),
    ActionSpec("next_turn", "down,j", "Next turn", "Select the next turn", group="Mark"),
    ActionSpec("other_pane", "left,right,h,l", "Other side", "Switch between base and adapter",
               group="Mark"),
    ActionSpec("mark", "m", "Mark", "Mark this reply as failing and name the failure",
               group="Mark"),
    ActionSpec("rewrite", "w", "Rewrite", "Rewrite this reply (the training target)",
               group="Mark"),
    ActionSpec("prefer", "p", "Prefer", "Prefer this side's reply (a preference pair)",
               group="Mark"),
    ActionSpec("undo", "u", "Undo", "Undo the last mark, rewrite, preference or vote",
               group="Mark"),
    ActionSpec("regenerate_side", "g", "Regen side",
               "Regenerate only this side's last reply", group="Mark"),
    # in the footer only while the pane holds a turn shown blind (ChatPane.check_action)
    ActionSpec("vote_a", "1", "A better", "Blind vote: A's reply is better", group="Blind"),
    ActionSpec("vote_b", "2", "B better", "Blind vote: B's reply is better", group="Blind"),
    ActionSpec("vote_tie", "3", "Tie", "Blind vote: as good as each other", group="Blind"),
    ActionSpec("vote_both_bad", "4", "Both bad", "Blind vote: neither reply is acceptable",
               group="Blind"),
    # teacher keys stay out of the footer (it is full); the teacher pane and F1 list them
    ActionSpec("accept_suggestion", "a", "Accept", "Accept the teacher's suggested mark",
               group="Teacher", show=False),
    ActionSpec("edit_suggestion", "e", "Edit sugg.",
               "Edit the teacher's suggested mark in the mark dialog", group="Teacher", show=False),
    ActionSpec("drop_suggestion", "x", "Drop sugg.", "Drop the teacher's suggested mark",
               group="Teacher", show=False),
    ActionSpec("draft_correction", "d", "Draft",
               "The teacher drafts a correction, opened in the rewrite editor",
               group="Teacher", show=False),
    ActionSpec("variants", "v", "Variants",
               "More like this: variants of this failure to review and keep",
               group="Teacher", show=False),
)


def bindings(specs: tuple[ActionSpec, ...] = ACTIONS) -> list[BindingType]:
    return [
        Binding(s.key, s.id, s.description, show=s.show, priority=s.priority, id=s.id)
        for s in specs
    ]


def known_ids() -> set[str]:
    return {s.id for s in (*ACTIONS, *PANE_ACTIONS)}


def effective_key(spec: ActionSpec, keymap: dict[str, str]) -> str:
    return keymap.get(spec.id, spec.key)
