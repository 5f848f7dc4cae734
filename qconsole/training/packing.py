"""Padding-free batches: examples concatenated into rows, logits only where there is a label.

Why this is faster than a padded batch (the usual ``DataCollatorForLanguageModeling`` path):

- no pad tokens are computed;
- the vocabulary projection, most of the cost of a small model with a 262k vocabulary
  (GUIDE section 4: "memory dominated by the vocabulary's logits"), runs only at the positions
  whose next token is trained on (``logits_to_keep`` given as indices): the reply, not the
  prompt, which is most of every example.

Several short examples share a row with ``position_ids`` restarting at 0 for each; transformers
then builds a block-diagonal causal mask (no attention across examples; this needs
``attention_mask=None`` and no KV cache). The attention of a shared row is computed over the
whole row and mostly masked away, so rows are capped (``row_tokens``): short examples are packed,
long ones run alone on the fast causal path.

Shared prefixes (``share_prefixes``): the examples of a row mostly begin alike (the transcript
template's preamble, the same question stem: 27% of the growth proof's cycle-3 tokens at a batch
of 4), so a row holds each distinct prompt prefix once, as a tree, and every token attends to its
own path only (:func:`attention_for` gives that mask). A prompt token's hidden states depend only
on the tokens before it, so the loss and its gradients are those of the examples computed apart;
only prompt tokens whose logits are not trained on are shared.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qconsole.training.dataset import TokenizedExample

DEFAULT_ROW_TOKENS = 512


@dataclass
class PackedRow:
    """One forward pass: tensors for ``model(input_ids=..., position_ids=...,
    logits_to_keep=keep)``; ``targets[i]`` is the label of the logits at ``keep[i]``."""

    input_ids: Any  # LongTensor [1, n]
    position_ids: Any  # LongTensor [1, n]
    keep: Any  # LongTensor [k]
    targets: Any  # LongTensor [k]
    labels: Any  # LongTensor [1, n]: -100 on prompts, for models that compute their own loss
    n_tokens: int
    n_targets: int
    n_examples: int
    # shared-prefix rows only: each token's predecessor on its path (-1 for a first token);
    # None when nothing is shared, and the row is plain consecutive examples
    parents: tuple[int, ...] | None = None
    shared_tokens: int = 0  # tokens the examples have that the row holds only once


def pack_rows(
    examples: Sequence[TokenizedExample], *, row_tokens: int = DEFAULT_ROW_TOKENS,
    share_prefixes: bool = False,
) -> list[PackedRow]:
    """Greedy first-fit of ``examples`` (longest first) into rows of at most ``row_tokens``
    tokens (counted before sharing); an example longer than that gets a row of its own
    (``row_tokens=0``: every example alone). ``share_prefixes``: see the module docstring."""
    rows: list[list[TokenizedExample]] = []
    sizes: list[int] = []
    for ex in sorted(examples, key=lambda e: e.n_tokens, reverse=True):
        for i, size in enumerate(sizes):
            if size + ex.n_tokens <= row_tokens:
                rows[i].append(ex)
                sizes[i] += ex.n_tokens
                break
        else:
            rows.append([ex])
            sizes.append(ex.n_tokens)
    return [_lay_out(row, share_prefixes) for row in rows]


def _lay_out(row: Sequence[TokenizedExample], share: bool) -> PackedRow:
    """One row's tensors. Each example's tokens are appended in order, except that a prompt
    token already in the row on the same path (same predecessor, same token) is reused; the
    last prompt token never is, because its logits predict the reply's first token."""
    import torch

    ids: list[int] = []
    pos: list[int] = []
    labels: list[int] = []
    parents: list[int] = []
    keep: list[int] = []
    targets: list[int] = []
    tree: dict[tuple[int, int], int] = {}  # (predecessor's row index, token) -> row index
    shared = 0
    for ex in row:
        shareable = ex.prompt_len - 1 if share else 0
        ex_labels = ex.labels
        at: list[int] = []  # the row index of each of the example's tokens
        prev = -1
        for k, tok in enumerate(ex.input_ids):
            found = tree.get((prev, tok)) if k < shareable else None
            if found is None:
                found = len(ids)
                ids.append(tok)
                pos.append(k)
                labels.append(ex_labels[k])
                parents.append(prev)
                if k < shareable:
                    tree[(prev, tok)] = found
            else:
                shared += 1
            at.append(found)
            prev = found
        # the logits at a token predict the example's next token: kept where that one is trained
        for k in range(ex.prompt_len - 1, ex.n_tokens - 1):
            keep.append(at[k])
            targets.append(ex.input_ids[k + 1])
    return PackedRow(
        input_ids=torch.tensor([ids], dtype=torch.long),
        position_ids=torch.tensor([pos], dtype=torch.long),
        keep=torch.tensor(keep, dtype=torch.long),
        targets=torch.tensor(targets, dtype=torch.long),
        labels=torch.tensor([labels], dtype=torch.long),
        n_tokens=len(ids),
        n_targets=len(keep),
        n_examples=len(row),
        parents=tuple(parents) if shared else None,
        shared_tokens=shared,
    )


TREE_MASK_ATTENTION = ("sdpa", "eager")  # attention code that reads an explicit mask as given


def can_share_prefixes(model: Any) -> bool:
    """Whether ``model``'s attention takes the explicit mask shared-prefix rows need (not
    flash attention, which reads only sequence boundaries; not a patched model's own path)."""
    config = getattr(model, "config", None)
    kinds = set(getattr(config, "layer_types", None) or ())
    return (getattr(config, "_attn_implementation", None) in TREE_MASK_ATTENTION
            and kinds <= {"full_attention", "sliding_attention"})


def attention_for(row: PackedRow, model: Any) -> Any:
    """The ``attention_mask`` argument for ``row``: None for plain rows (transformers builds the
    block-diagonal mask from ``position_ids``); for a shared-prefix row, each token attends to
    the tokens of its own path, as a mapping per layer type (sliding layers also by distance)
    where the model has layer types, else one 4D mask (transformers uses a 4D mask as given)."""
    import torch

    if row.parents is None:
        return None
    n = len(row.parents)
    allowed = torch.zeros(n, n, dtype=torch.bool)
    for i, parent in enumerate(row.parents):  # a token sees what its predecessor sees, and itself
        if parent >= 0:
            allowed[i] = allowed[parent]
        allowed[i, i] = True
    config = model.config
    eager = getattr(config, "_attn_implementation", None) == "eager"

    def as_mask(m: Any) -> Any:
        m = m[None, None]
        if not eager:
            return m
        return torch.zeros(m.shape, dtype=model.dtype).masked_fill(~m, torch.finfo(model.dtype).min)

    layer_types = getattr(config, "layer_types", None)
    if not layer_types:
        return as_mask(allowed)
    masks = {"full_attention": as_mask(allowed)}
    window = getattr(config, "sliding_window", None)
    if window:
        p = row.position_ids[0]
        near = (p[:, None] - p[None, :]) < window  # along a path, positions are the distance
        masks["sliding_attention"] = as_mask(allowed & near)
    return {kind: masks.get(kind, masks["full_attention"]) for kind in set(layer_types)}


def epoch_order(n: int, batch: int, seed: int, epoch: int) -> list[list[int]]:
    """Indices of one epoch, shuffled with (seed, epoch), cut into batches (last may be short)."""
    order = list(range(n))
    random.Random(seed * 100_003 + epoch).shuffle(order)
    return [order[i:i + batch] for i in range(0, n, batch)]
