"""Format bleed: how often replies to unrelated prompts take the shape of the trained
corrections, adapter against base.

Why: forgetting that log-likelihood cannot see. After 50 arithmetic corrections the adapter's
log-likelihood panel stayed level (ARC-C + WinoGrande 41.4 -> 43.2), yet asked an ordinary
yes/no question it answered in the trained arithmetic shape ("2 = 2. The number of ... is 2.").
Scoring such replies only says "wrong"; this line says *why*: the corrections' shape leaked.

The shape is a few named surface features (``SHAPES``). The corrections' *signature* is the set
of features found in at least half of their rewrites (for worked chain sums: an equation, an
arithmetic step, the answer cue and a numeric answer). A reply shows the trained shape when it
has a feature of the signature that its prompt does not show itself (a prompt that asks to end
with "The answer is X." asks for the cue; it does not ask for a number). The line gives that
share for both sides and per feature, on the generated items of the forgetting panel (prompts
unrelated to the training); :func:`bleed_by_suite` gives it for every other generated suite too
(on the trained family itself the shape is what was taught, not bleed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from qconsole.evaluation.results import ItemResult

SHAPES: dict[str, re.Pattern[str]] = {
    "equation": re.compile(r"(?:\d|\))\s*=\s*-?\d"),
    "arithmetic": re.compile(r"\d\s*[-+*/×÷]\s*\(?\d"),
    "answer cue": re.compile(r"\bthe answer is\b", re.IGNORECASE),
    "numeric answer": re.compile(r"\bthe answer is\s*\**\s*-?\$?\d", re.IGNORECASE),
    "numbered steps": re.compile(r"(?m)^\s*(?:step\s*\d+|\d+[.)])\s", re.IGNORECASE),
    "bullet list": re.compile(r"(?m)^\s*[-*•]\s"),
    "yes/no opening": re.compile(r"^\s*\**(?:yes|no)\b", re.IGNORECASE),
    "letter opening": re.compile(r"^\s*\**\(?[A-E][).:]"),
}
SIGNATURE_SHARE = 0.5


def shapes_of(text: str) -> set[str]:
    return {name for name, rx in SHAPES.items() if rx.search(text or "")}


def shape_signature(rewrites: Iterable[str]) -> tuple[str, ...]:
    """Features present in at least half of the rewrites, in ``SHAPES`` order."""
    rewrites = [r for r in rewrites if r]
    if not rewrites:
        return ()
    found = [shapes_of(r) for r in rewrites]
    return tuple(name for name in SHAPES
                 if sum(name in f for f in found) >= SIGNATURE_SHARE * len(rewrites))


@dataclass(frozen=True)
class FormatBleed:
    n: int
    signature: tuple[str, ...]
    base: float  # share of base replies with any signature feature
    adapter: float
    per_feature: dict[str, tuple[float, float]] = field(default_factory=dict)  # base, adapter

    def to_dict(self) -> dict:
        d = asdict(self)
        d["per_feature"] = {k: list(v) for k, v in self.per_feature.items()}
        return d

    def describe(self, what: str = "unrelated prompts") -> str:
        parts = ", ".join(f"{k} {100 * a:.0f}% (base {100 * b:.0f}%)"
                          for k, (b, a) in self.per_feature.items())
        return (f"format bleed: {100 * self.adapter:.0f}% of the adapter's replies to {self.n} "
                f"{what} take the trained shape, base {100 * self.base:.0f}% [{parts}]")

    def short(self) -> str:
        return f"{100 * self.adapter:.0f}% (base {100 * self.base:.0f}%)"


def unrelated_records(items: Iterable[ItemResult]) -> list[ItemResult]:
    """The generated items of the forgetting panel."""
    return [r for r in items if r.meta.get("panel") and r.meta.get("kind") != "benchmark"]


def format_bleed(records: Sequence[ItemResult], signature: Sequence[str]) -> FormatBleed | None:
    """The bleed over ``records`` (replies to unrelated prompts); None without a signature."""
    signature = tuple(s for s in signature if s in SHAPES)
    records = list(records)
    if not signature or not records:
        return None
    n = len(records)
    asked = [shapes_of(str(r.meta.get("user_text") or r.meta.get("question") or r.prompt or ""))
             for r in records]
    base = [shapes_of(r.base_reply or "") - a for r, a in zip(records, asked, strict=True)]
    adapter = [shapes_of(r.adapter_reply or "") - a for r, a in zip(records, asked, strict=True)]

    def share(found: list[set[str]], names: Sequence[str]) -> float:
        return sum(bool(f & set(names)) for f in found) / n

    return FormatBleed(
        n=n, signature=signature, base=share(base, signature), adapter=share(adapter, signature),
        per_feature={s: (share(base, [s]), share(adapter, [s])) for s in signature})


def bleed_by_suite(items: Iterable[ItemResult], signature: Sequence[str]
                   ) -> dict[str, FormatBleed]:
    """The bleed of every generated suite except in-domain, by suite name."""
    groups: dict[str, list[ItemResult]] = {}
    for r in items:
        if r.meta.get("kind") in ("gym", "probes"):
            groups.setdefault(r.suite, []).append(r)
    out = {}
    for suite, rs in groups.items():
        b = format_bleed(rs, signature)
        if b is not None:
            out[suite] = b
    return out
