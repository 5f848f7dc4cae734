"""Fit a conversation into the model's context window instead of crashing at its limit.

The oldest whole turns go first (user message plus its reply), reported to the user as a
visible note; the newest user message is always kept, and a single message too large on its
own (a 1 MB paste) is cut in the middle with a marker saying how much was cut.
Token counts come from the real tokenizer through a callable, so this stays pure and testable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qconsole.prompts import Message

CUT_MARKER = "\n[... {n} characters cut to fit the context ...]\n"


@dataclass(frozen=True)
class FitResult:
    messages: list[Message]
    prompt: str
    prompt_tokens: int
    dropped_messages: int = 0
    cut_chars: int = 0

    @property
    def note(self) -> str | None:
        parts = []
        if self.dropped_messages:
            parts.append(f"{self.dropped_messages} earlier messages left out to fit the context")
        if self.cut_chars:
            parts.append(f"{self.cut_chars} characters of a long message cut to fit the context")
        return "; ".join(parts) or None


def fit_to_context(
    messages: Sequence[Message],
    render: Callable[[Sequence[Message]], str],
    count_tokens: Callable[[str], int],
    budget: int,
) -> FitResult:
    """Drop the oldest messages (and cut the last one if needed) until the prompt fits."""
    msgs = list(messages)
    prompt = render(msgs)
    n = count_tokens(prompt)
    if n <= budget:
        return FitResult(msgs, prompt, n)
    # Candidate cut points: drop everything before a user message, keep at least the last one.
    starts = [i for i, m in enumerate(msgs) if m.role == "user" and i > 0]
    system = [m for m in msgs if m.role == "system"]
    lo, hi = 0, len(starts)  # binary search for the fewest dropped messages that fit
    best: tuple[list[Message], str, int] | None = None
    while lo < hi:
        mid = (lo + hi) // 2
        cand = system + [m for m in msgs[starts[mid]:] if m.role != "system"]
        p = render(cand)
        c = count_tokens(p)
        if c <= budget:
            best, hi = (cand, p, c), mid
        else:
            lo = mid + 1
    if best is not None:
        kept = best[0]
        return FitResult(kept, best[1], best[2], dropped_messages=len(msgs) - len(kept))
    # Even the newest user message alone is too long: cut its middle.
    last = msgs[-1]
    kept_prefix = system + ([last] if last.role == "user" else msgs[-2:])
    dropped = len(msgs) - len(kept_prefix)
    return _cut_last(kept_prefix, render, count_tokens, budget, dropped=dropped)


def _cut_last(
    msgs: list[Message],
    render: Callable[[Sequence[Message]], str],
    count_tokens: Callable[[str], int],
    budget: int,
    dropped: int,
) -> FitResult:
    target = msgs[-1]
    text = target.content
    lo, hi = 0, len(text)  # binary search on characters kept
    best = None
    while lo < hi:
        keep = (lo + hi + 1) // 2
        cut = len(text) - keep
        head, tail = text[: keep // 2], text[len(text) - (keep - keep // 2):]
        cand = msgs[:-1] + [Message(target.role, head + CUT_MARKER.format(n=cut) + tail)]
        p = render(cand)
        c = count_tokens(p)
        if c <= budget:
            best, lo = (cand, p, c, cut), keep
        else:
            hi = keep - 1
    if best is None:
        cand = msgs[:-1] + [Message(target.role, CUT_MARKER.format(n=len(text)))]
        p = render(cand)
        best = (cand, p, count_tokens(p), len(text))
    return FitResult(best[0], best[1], best[2], dropped_messages=dropped, cut_chars=best[3])
