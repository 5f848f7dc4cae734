"""The failure kinds a person can name with one key, kept as data.

Why data and not an Enum scattered through the UI: the picker, the review filters, the CLI
``--kind`` option and the exported training records all read this one table, so adding a kind is
one line here. Keys are what the store writes to disk: never rename one (add a new kind and
keep the old key readable instead). Hotkeys are suggestions for the picker, unique among kinds.

The list follows what a base model shows when talked to (see the field guide, section 1):
broken reasoning steps, no transfer, sophistry instead of judgement, inconsistency, forgetting
within a dialogue, losing the intent, token patterns such as echo and loops.
"""

from __future__ import annotations

from dataclasses import dataclass

from qconsole.errors import QConsoleError


@dataclass(frozen=True)
class FailureKind:
    key: str
    label: str
    description: str
    hotkey: str


@dataclass(frozen=True)
class RouteStep:
    """One step of the three-step route: generalise, then analogy, then judgement."""

    key: str
    label: str
    description: str
    hotkey: str


FAILURE_KINDS: tuple[FailureKind, ...] = (
    FailureKind(
        "reasoning_step", "Wrong reasoning step",
        "A step of the reasoning is wrong or does not follow from the previous one.", "r",
    ),
    FailureKind(
        "generalisation", "Failed generalisation",
        "Could not abstract the general rule or transfer it to a new case.", "g",
    ),
    FailureKind(
        "analogy", "Bad analogy",
        "The analogy drawn is missing, shallow or maps the wrong structure.", "a",
    ),
    FailureKind(
        "judgement", "Empty or missing judgement",
        "Asked to judge, it gave no verdict or only an empty one.", "j",
    ),
    FailureKind(
        "sophistry", "Sophistry or quotation",
        "Quotes, paraphrases or argues around the question instead of answering it.", "s",
    ),
    FailureKind(
        "inconsistency", "Inconsistency or self-contradiction",
        "Contradicts itself within the reply, across turns or across paraphrases.", "i",
    ),
    FailureKind(
        "forgot_context", "Forgot earlier context",
        "Ignores or loses something established earlier in the dialogue.", "c",
    ),
    FailureKind(
        "lost_intent", "Lost the user's intent",
        "Drifts away from what the user asked for.", "l",
    ),
    FailureKind(
        "format", "Format or token pattern",
        "Echoes the prompt, loops, continues as the user or breaks the format.", "p",
    ),
    FailureKind(
        "factual", "Factual error",
        "States something false about the world.", "f",
    ),
    FailureKind(
        "other", "Other",
        "Another failure: say what in the note.", "o",
    ),
)

ROUTE_STEPS: tuple[RouteStep, ...] = (
    RouteStep("generalise", "Generalise", "Step 1: state the general rule or idea.", "1"),
    RouteStep("analogy", "Analogy", "Step 2: carry it over to an analogous case.", "2"),
    RouteStep("judgement", "Judgement", "Step 3: pass a judgement on the case.", "3"),
)

KIND_BY_KEY: dict[str, FailureKind] = {k.key: k for k in FAILURE_KINDS}
STEP_BY_KEY: dict[str, RouteStep] = {s.key: s for s in ROUTE_STEPS}


def failure_kind(key: str) -> FailureKind:
    """The kind for ``key``, or a QConsoleError that lists the valid keys."""
    try:
        return KIND_BY_KEY[key]
    except KeyError:
        raise QConsoleError(
            f"unknown failure kind {key!r}; choose one of: {', '.join(KIND_BY_KEY)}"
        ) from None


def route_step(key: str) -> RouteStep:
    try:
        return STEP_BY_KEY[key]
    except KeyError:
        raise QConsoleError(
            f"unknown route step {key!r}; choose one of: {', '.join(STEP_BY_KEY)}"
        ) from None


def kind_label(key: str) -> str:
    """A label for display; keys from a newer qconsole show as themselves."""
    kind = KIND_BY_KEY.get(key)
    return kind.label if kind else key
