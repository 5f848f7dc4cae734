"""Near-duplicates among new variants, and overlap with evaluation items (leakage).

Why word shingles: variants that only rename a person are still the same item, and an
evaluation item that sits in the training set proves nothing (field guide, section 3).
Why shingles shared by many evaluation items are ignored, and the shared instruction cut: every
reasoning-gym prompt ends with the same "End your reply with ..." line and every chain_sum
question starts "State the final answer to the following arithmetic problem"; with a common
template every item looks like every other (measured there: 200 of 200 flagged, 10 real
repeats). Only content that is rare in the evaluation set counts as overlap.

This is the small stand-in the evaluation's own leakage check can replace: ``EvalIndex.match``
is the one call the teacher makes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qconsole.evaluation.suites import normalise, words

SHINGLE = 3
NEAR_DUPLICATE = 0.6  # Jaccard of word 3-shingles at or above this: the same item
LEAK_NGRAM = 8
LEAK_SHARE = 0.5  # this share of a text's rare 8-grams found in one evaluation item: leaked
COMMON_DF = 3  # an 8-gram in more evaluation items than this is template, not content


def strip_instruction(text: str) -> str:
    from qconsole.evaluation.gym_suites import DEFAULT_INSTRUCTION

    return text.replace(DEFAULT_INSTRUCTION, " ").strip()


def _shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    ws = words(strip_instruction(text))
    if len(ws) < n:
        return {tuple(ws)} if ws else set()
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def similarity(a: str, b: str, ignore: frozenset = frozenset()) -> float:
    """Jaccard of word 3-shingles, leaving out ``ignore`` (a batch's shared template); texts
    that are all template are the same only when their words are."""
    sa, sb = _shingles(a) - ignore, _shingles(b) - ignore
    if not sa or not sb:
        return 1.0 if words(strip_instruction(a)) == words(strip_instruction(b)) else 0.0
    return len(sa & sb) / len(sa | sb)


def is_near_duplicate(a: str, b: str, threshold: float = NEAR_DUPLICATE,
                      ignore: frozenset = frozenset()) -> bool:
    return similarity(a, b, ignore) >= threshold


def template_shingles(texts: Iterable[str], share: float = 0.5) -> frozenset:
    """Shingles found in more than ``share`` of ``texts`` (at least 3): their common template,
    e.g. "state the final answer to the following arithmetic problem" in every chain_sum
    question. Without this every generated item would be a near-duplicate of every other."""
    texts = list(texts)
    if len(texts) < 3:
        return frozenset()
    counts: dict[tuple[str, ...], int] = {}
    for t in texts:
        for g in _shingles(t):
            counts[g] = counts.get(g, 0) + 1
    return frozenset(g for g, c in counts.items() if c > share * len(texts))


@dataclass
class EvalIndex:
    """Evaluation item texts to check new training prompts against."""

    sources: list[str]
    exact: dict[str, str] = field(default_factory=dict)  # normalised text -> item id
    grams: dict[tuple[str, ...], list[str]] = field(default_factory=dict)  # -> item ids

    def __len__(self) -> int:
        return len(self.exact)

    def match(self, text: str) -> str | None:
        """The id of an evaluation item ``text`` overlaps, or None."""
        norm = normalise(strip_instruction(text))
        if not norm:
            return None
        if norm in self.exact:
            return self.exact[norm]
        rare = [g for g in _shingles(norm, LEAK_NGRAM)
                if len(self.grams.get(g, ())) <= COMMON_DF]
        if not rare:
            return None
        hits: dict[str, int] = {}
        for g in rare:
            for item in set(self.grams.get(g, ())):
                hits[item] = hits.get(item, 0) + 1
        if not hits:
            return None
        best = max(hits, key=lambda k: hits[k])
        return best if hits[best] >= LEAK_SHARE * len(rare) else None


def eval_index(items: Iterable[tuple[str, str]], sources: list[str]) -> EvalIndex:
    """``items``: (item id, prompt text) pairs."""
    index = EvalIndex(sources)
    for item_id, prompt in items:
        norm = normalise(strip_instruction(prompt or ""))
        if not norm:
            continue
        index.exact.setdefault(norm, item_id)
        for g in _shingles(norm, LEAK_NGRAM):
            ids = index.grams.setdefault(g, [])
            if len(ids) <= COMMON_DF:  # beyond that it is template; no need to keep counting
                ids.append(item_id)
    return index


def workspace_eval_items(*, data_dir=None, probe_files=()) -> tuple[list[tuple[str, str]],
                                                                     list[str]]:
    """Every evaluation item this workspace knows: the prompts of every stored evaluation run,
    plus given probe files, plus benchmark JSONL files in ``data_dir`` (question fields)."""
    import json
    from pathlib import Path

    from qconsole.evaluation.store import RunStore

    items: list[tuple[str, str]] = []
    sources: list[str] = []
    try:
        runs = RunStore().runs()
    except Exception:  # an unreadable evals folder must not stop variants: it is reported
        runs = []
        sources.append("stored evaluations: unreadable")
    for run in runs:
        try:
            run_items = run.items()
        except Exception:
            continue
        items.extend((f"{run.run_id}/{r.item_id}", r.prompt or "") for r in run_items)
    if runs:
        sources.append(f"{len(runs)} stored evaluation run(s)")
    for path in probe_files:
        from qconsole.evaluation.probes import load_probe_file

        ps = load_probe_file(path)
        items.extend((f"{ps.suite}/{it.id}", it.prompt) for it in ps.items)
        sources.append(f"probes {Path(path).name}")
    if data_dir is not None:
        for f in sorted(Path(data_dir).expanduser().glob("*.jsonl")):
            n = 0
            with f.open(encoding="utf-8") as fh:
                for k, line in enumerate(fh):
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    text = next((row[key] for key in ("question", "query", "ctx", "sentence",
                                                      "goal", "text") if isinstance(
                                                          row.get(key), str)), None)
                    if text:
                        items.append((f"{f.stem}:{k}", text))
                        n += 1
            sources.append(f"{f.stem} ({n})")
    return items, sources
