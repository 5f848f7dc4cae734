"""Near-duplicates among new variants, and their overlap with evaluation items (leakage).

Both compare content, not template, with the evaluation's own tools (evaluation/leakage.py):
text shared by most texts of a set (the question stem of every chain_sum item, the "End your
reply with ..." instruction) is removed first, or every generated item would look like every
other (field guide, section 3: 200 of 200 flagged, 10 real repeats).

- near-duplicate: Jaccard of the content token 3-grams at or above ``NEAR_DUPLICATE``, or the
  same content tokens (a variant that only renames a person is still the same item);
- leakage: ``evaluation.leakage.find_leaks`` with the variants as the corrections and each
  evaluation suite's items as the items, exactly as an evaluation checks its own corrections.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

from qconsole.evaluation.leakage import (
    EvalText,
    Grams,
    find_leaks,
    shared_grams,
    strip_shared,
    tokens,
)

SHINGLE = 3
NEAR_DUPLICATE = 0.6


def _content(text: str, template: Grams) -> tuple[str, ...]:
    return strip_shared(tokens(text), template)


def similarity(a: str, b: str, template: Grams | frozenset = frozenset()) -> float:
    """Jaccard of content 3-grams; 1.0 for the same content, 0.0 when either has none."""
    ca, cb = _content(a, set(template)), _content(b, set(template))
    if ca and ca == cb:
        return 1.0
    ga = {ca[i:i + SHINGLE] for i in range(len(ca) - SHINGLE + 1)}
    gb = {cb[i:i + SHINGLE] for i in range(len(cb) - SHINGLE + 1)}
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def is_near_duplicate(a: str, b: str, threshold: float = NEAR_DUPLICATE,
                      ignore: Grams | frozenset = frozenset()) -> bool:
    return similarity(a, b, ignore) >= threshold


def template_shingles(texts: Iterable[str]) -> frozenset:
    """The template of a batch of texts (the evaluation's rule: 3-grams in half of them)."""
    return frozenset(shared_grams([tokens(t) for t in texts]))


@dataclass
class EvalIndex:
    """Evaluation items, per suite, to check new training pairs against."""

    suites: dict[str, list[EvalText]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(v) for v in self.suites.values())

    def leaks(self, pairs: Sequence[tuple[str, str]]) -> dict[int, str]:
        """{index of a (prompt, reply) pair: the evaluation item it repeats}.

        ``find_leaks`` names one correction per leaked item; a pair found is set aside and the
        rest checked again, so two variants that both copy one item are both caught."""
        remaining = {i: SimpleNamespace(id=str(i), user=p, rewrite=r)
                     for i, (p, r) in enumerate(pairs)}
        found: dict[int, str] = {}
        for items in self.suites.values():
            while remaining:
                new = {int(leak.correction): leak.item_id
                       for leak in find_leaks(items, list(remaining.values()))}
                if not new:
                    break
                for i, item_id in new.items():
                    found.setdefault(i, item_id)
                    remaining.pop(i, None)
        return found


def eval_index(items: Iterable[tuple[str, str]], sources: list[str]) -> EvalIndex:
    """``items``: (item id, prompt text) pairs; the suite is the id up to its last ``/`` or
    ``:`` (a run's suite, a benchmark file)."""
    index = EvalIndex(sources=list(sources))
    for item_id, prompt in items:
        if not prompt:
            continue
        cut = max(item_id.rfind("/"), item_id.rfind(":"))
        suite = item_id[:cut] if cut > 0 else ""
        index.suites.setdefault(suite, []).append(EvalText(item_id, prompt))
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
