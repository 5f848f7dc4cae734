"""One side of the comparison: a model (plus maybe an adapter) and its own history.

Each side sees its own earlier replies, so the left pane's conversation is the base model's and
the right pane's is the adapter's. The UI runs :meth:`ChatSide.stream_turn` in a worker thread
and commits the result when it finishes; nothing here touches widgets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from qconsole.inference.backend import GenerationStats, TextBackend
from qconsole.inference.context_budget import FitResult, fit_to_context
from qconsole.prompts import Message, PromptTemplate
from qconsole.sampling import SamplingSettings
from qconsole.sides import Side


@dataclass
class TurnOutcome:
    """A finished (or cancelled, or failed) reply of one side."""

    user: str
    reply: str
    stats: GenerationStats
    context_note: str | None = None
    error: str | None = None


@dataclass
class ChatSide:
    side: Side
    backend: TextBackend | None
    template: PromptTemplate
    model_name: str = ""
    adapter_name: str | None = None
    adapter_fingerprint: str | None = None
    history: list[Message] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.backend is not None

    @property
    def title(self) -> str:
        return f"{self.model_name} + {self.adapter_name}" if self.adapter_name else self.model_name

    def plan(self, user_text: str, settings: SamplingSettings) -> FitResult:
        """The exact prompt for the next reply, trimmed to fit the context window."""
        assert self.backend is not None
        messages = [*self.history, Message("user", user_text)]
        budget = max(16, self.backend.n_ctx - settings.max_tokens)
        return fit_to_context(
            messages,
            lambda ms: self.template.render(ms, add_generation_prompt=True),
            self.backend.count_tokens,
            budget,
        )

    def stream_turn(
        self,
        user_text: str,
        settings: SamplingSettings,
        *,
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
        plan: FitResult | None = None,
    ) -> Iterator[str]:
        """Yield reply pieces; the caller commits with :meth:`commit` afterwards."""
        assert self.backend is not None
        plan = plan or self.plan(user_text, settings)
        yield from self.backend.stream(
            plan.prompt, settings, stop=self.template.stop, cancel=cancel, stats=stats
        )

    def run_turn(
        self, user_text: str, settings: SamplingSettings, cancel: threading.Event | None = None
    ) -> TurnOutcome:
        """Headless: the whole reply at once, committed to history."""
        stats = GenerationStats()
        plan = self.plan(user_text, settings)
        text = "".join(self.stream_turn(user_text, settings, cancel=cancel, stats=stats, plan=plan))
        outcome = TurnOutcome(user_text, text.strip(), stats, plan.note)
        self.commit(outcome)
        return outcome

    def commit(self, outcome: TurnOutcome) -> None:
        self.history.append(Message("user", outcome.user))
        self.history.append(Message("assistant", outcome.reply))

    def drop_last_turn(self) -> tuple[str, str] | None:
        """Remove the last user/assistant pair (for regenerate and edit); return it."""
        if len(self.history) >= 2 and self.history[-1].role == "assistant":
            reply = self.history.pop().content
            user = self.history.pop().content
            return user, reply
        return None

    def clear(self) -> None:
        self.history.clear()
