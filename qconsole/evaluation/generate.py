"""Replies of one side to a suite's prompts: from the base cache, else generated, several at once.

The base side first looks every item up in the base cache (qconsole.evaluation.base_cache);
what is missing is generated, ``parallel`` sequences at a time
(qconsole.inference.batch_generate) or one at a time when ``parallel`` is 1, and then stored.
The adapter side is always generated. Scoring stays with the caller: the cache holds the reply
text and how it ended, so a cached reply is read by exactly today's checkers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qconsole.evaluation.suites import GenItem
from qconsole.inference.llama_engine import Generation

if TYPE_CHECKING:
    from qconsole.evaluation.setup import EvalContext

Answer = tuple[Generation, bool]  # the generation, and whether it came from the cache


def scorer_key(item: GenItem) -> dict[str, Any]:
    """The scoring settings of ``item`` that belong in its cache key."""
    return {"scorer": item.scorer, "checker": item.checker.to_dict() if item.checker else None,
            "reference": item.reference}


def generate_items(
    ctx: EvalContext,
    items: Sequence[GenItem],
    side: str,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Answer]:
    """``item_id -> (generation, cached)`` for ``items`` under the adapter set for ``side``."""
    cache = ctx.cache if side == "base" else None
    out: dict[str, Answer] = {}
    keys: dict[str, str] = {}
    if cache is not None:
        decoding = ctx.decoding()
        keys = {i.item_id: cache.generation_key(item_id=i.item_id, prompt=i.prompt,
                                                decoding=decoding, scorer=scorer_key(i))
                for i in items}
        found = cache.get_many(keys.values())
        for item in items:
            hit = found.get(keys[item.item_id])
            if hit is not None:
                out[item.item_id] = (Generation(str(hit["text"]), list(hit.get("tokens") or []),
                                                str(hit.get("finish") or "length")), True)
    todo = [i for i in items if i.item_id not in out]
    if on_progress is not None:
        on_progress(len(out))
    generated = _generate(ctx, todo, lambda n: on_progress(len(out) + n) if on_progress else None)
    for item, gen in zip(todo, generated, strict=True):
        out[item.item_id] = (gen, False)
    if cache is not None and todo:
        cache.put_many({keys[i.item_id]: {"text": g.text, "tokens": g.tokens,
                                          "finish": g.finish_reason}
                        for i, g in zip(todo, generated, strict=True)})
    return out


def _generate(ctx: EvalContext, items: Sequence[GenItem],
              on_done: Callable[[int], object]) -> list[Generation]:
    if not items:
        return []
    stop = ctx.template.stop
    if ctx.parallel <= 1:
        order = sorted(range(len(items)), key=lambda n: items[n].prompt)  # shared prefixes
        results: list[Generation | None] = [None] * len(items)
        for done, n in enumerate(order, start=1):
            results[n] = ctx.engine.generate_text(items[n].prompt, until=stop,
                                                  max_tokens=ctx.max_tokens, cancel=ctx.cancel)
            on_done(done)
        return [r for r in results if r is not None]
    prompts = [ctx.engine.tokenize(i.prompt) for i in items]
    return ctx.batch_generator().generate(prompts, until=stop, max_tokens=ctx.max_tokens,
                                          cancel=ctx.cancel, on_done=on_done)
