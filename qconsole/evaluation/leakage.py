"""Leakage measured on content: which eval items repeat a training correction?

Why on content: an eval item that also sits in the training corrections proves nothing, but a
check that compares whole texts flags everything when items share a template. Measured: 200 of
200 held-out chain_sum items flagged against 50 corrections, because every one carries the same
instruction, while 10 were real repeats (the same expression). A check that flags everything is
ignored, so real leaks go unseen. Here:

1. Text shared by a set's items is removed first: a token 3-gram found in at least half of a
   suite's items (or of the corrections, each set on its own, sets of ``MIN_TEMPLATE_ITEMS`` or
   more) is template, not content (the question stem, the instruction). Tokens are words and
   single symbols, so ``4 - 3`` and ``4 + 3`` differ. Both sides lose both sets' templates.
2. Exact identity where the generator says what an item is: a reasoning-gym item with an
   ``expression`` (its metadata) is that expression; other items are their remaining content.
   A correction whose remaining user text is the same token sequence is a repeat.
3. Otherwise n-gram overlap: the share of the item's content ``NGRAM``-grams found in the
   corrections' content (user turns and rewrites). The threshold ``THRESHOLD`` was set from
   the false-positive rate measured on unrelated items (``benchmarks/leakage_fpr.py``: GSM8K,
   ARC, MMLU and HellaSwag items against corrections made of other items of the same and of
   other benchmarks); see ``MEASURED`` for the figures. Items with fewer than ``NGRAM`` content
   tokens are judged by identity only.

Real overlaps are listed, left out of the headline (qconsole.evaluation.rows) and reported on
their own line.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TEMPLATE_GRAM = 3
TEMPLATE_SHARE = 0.5
MIN_TEMPLATE_ITEMS = 4
NGRAM = 8
THRESHOLD = 0.3
# benchmarks/leakage_fpr.py, 4,972 unrelated items (GSM8K, HellaSwag, ARC-Challenge against 200
# other items of the same benchmark in the same template; ARC-Easy against ARC-Challenge; MMLU
# against GSM8K) and 300 planted near-copies (prefix, suffix, one word changed):
#   n=8, 0.2: 5 flagged (0.10%), recall 269/300;  n=8, 0.3: 3 (0.06%), recall 252/300;
#   n=8, 0.5: 2 (0.04%), recall 208/300;          n=5, 0.3: 28 (0.56%), recall 276/300.
# Of the 3 at 0.3, one is a real shared passage (an ARC-Challenge reading text asked twice) and
# two are HellaSwag contexts of the same video; 0.3 keeps false alarms near 1 in 2,000.
MEASURED = "n=8, threshold 0.3: 3 of 4,972 unrelated items flagged (0.06%), recall 84%"

_TOKEN = re.compile(r"\w+|[^\w\s]")
_EDGE = set("=?.:;,!")

Grams = set[tuple[str, ...]]


def tokens(text: str) -> list[str]:
    """Words (case-folded) and single symbols; a unicode minus is a minus."""
    return _TOKEN.findall(text.replace("−", "-").replace("×", "*").replace("÷", "/").casefold())


def _grams(toks: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]


def shared_grams(texts: Sequence[Sequence[str]], *, n: int = TEMPLATE_GRAM,
                 share: float = TEMPLATE_SHARE) -> Grams:
    """Token n-grams in at least ``share`` of ``texts`` (tokenised): the set's template."""
    if len(texts) < MIN_TEMPLATE_ITEMS:
        return set()
    df: Counter[tuple[str, ...]] = Counter()
    for toks in texts:
        df.update(set(_grams(toks, n)))
    need = max(2, math.ceil(share * len(texts)))
    return {g for g, k in df.items() if k >= need}


def strip_shared(toks: Sequence[str], template: Grams, n: int = TEMPLATE_GRAM) -> tuple[str, ...]:
    """``toks`` without every token covered by a template n-gram, and without punctuation at
    either end ("4 - 1 =" and "4 - 1" are the same item)."""
    covered = [False] * len(toks)
    if template:
        for i, g in enumerate(_grams(toks, n)):
            if g in template:
                for j in range(i, i + n):
                    covered[j] = True
    kept = [t for t, c in zip(toks, covered, strict=True) if not c]
    while kept and kept[-1] in _EDGE:
        kept.pop()
    while kept and kept[0] in _EDGE:
        kept.pop(0)
    return tuple(kept)


@dataclass(frozen=True)
class EvalText:
    """What an eval item is, for the check: its text, and the generator's identity if any."""

    item_id: str
    text: str
    identity: str | None = None  # e.g. a reasoning-gym expression


@dataclass(frozen=True)
class Leak:
    item_id: str
    correction: str  # the correction's id
    how: str  # "identity", "content" or "overlap 0.83"

    def to_dict(self) -> dict[str, str]:
        return {"item_id": self.item_id, "correction": self.correction, "how": self.how}


def find_leaks(items: Sequence[EvalText], corrections: Iterable[Any], *,
               ngram: int = NGRAM, threshold: float = THRESHOLD) -> list[Leak]:
    """The items of one suite that repeat a correction (``user``, ``rewrite``, ``id``)."""
    corrections = list(corrections)
    if not items or not corrections:
        return []
    item_toks = [tokens(i.text) for i in items]
    user_toks = [tokens(c.user) for c in corrections]
    rewrite_toks = [tokens(c.rewrite or "") for c in corrections]
    template = (shared_grams(item_toks) | shared_grams(user_toks)
                | shared_grams(rewrite_toks))
    exact: dict[tuple[str, ...], str] = {}
    grams: dict[tuple[str, ...], Counter[str]] = {}
    for c, ut, rt in zip(corrections, user_toks, rewrite_toks, strict=True):
        content = strip_shared(ut, template)
        if content:
            exact.setdefault(content, c.id)
        for toks in (content, strip_shared(rt, template)):
            for g in set(_grams(toks, ngram)):
                grams.setdefault(g, Counter())[c.id] += 1
    leaks = []
    for item, item_tok in zip(items, item_toks, strict=True):
        if item.identity is not None:
            key = strip_shared(tokens(item.identity), set())
            if key in exact:
                leaks.append(Leak(item.item_id, exact[key], "identity"))
                continue
        content = strip_shared(item_tok, template)
        if content and content in exact:
            leaks.append(Leak(item.item_id, exact[content], "content"))
            continue
        own = set(_grams(content, ngram))
        if not own:
            continue
        hits: Counter[str] = Counter()
        found = 0
        for g in own:
            if g in grams:
                found += 1
                hits.update(grams[g].keys())
        share = found / len(own)
        if share >= threshold:
            leaks.append(Leak(item.item_id, hits.most_common(1)[0][0], f"overlap {share:.2f}"))
    return leaks


def eval_texts(records: Iterable[Any]) -> list[EvalText]:
    """The check's view of a suite's per-item records (ItemResult): a generated item's question
    or user text (the chat template is not content), a benchmark item's prompt."""
    out = []
    for r in records:
        meta: Mapping[str, Any] = r.meta or {}
        text = r.prompt or ""
        if meta.get("kind") != "benchmark":
            text = str(meta.get("question") or meta.get("user_text") or text)
        expression = meta.get("expression")
        out.append(EvalText(r.item_id, text, str(expression) if expression else None))
    return out


class LeakageCheck:
    """The training corrections of a run, ready to check each suite's records against."""

    def __init__(self, corrections: Iterable[Any]) -> None:
        self.corrections = list(corrections)

    @classmethod
    def from_corrections(cls, corrections: Iterable[Any]) -> LeakageCheck:
        return cls(corrections)

    def __len__(self) -> int:
        return len(self.corrections)

    def leaks(self, records: Sequence[Any]) -> list[Leak]:
        """The leaks among one suite's per-item records."""
        return find_leaks(eval_texts(records), self.corrections)
