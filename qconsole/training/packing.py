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
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qconsole.training.dataset import IGNORE_INDEX, TokenizedExample

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


def pack_rows(
    examples: Sequence[TokenizedExample], *, row_tokens: int = DEFAULT_ROW_TOKENS
) -> list[PackedRow]:
    """Greedy first-fit of ``examples`` (longest first) into rows of at most ``row_tokens``
    tokens; an example longer than that gets a row of its own (``row_tokens=0``: every
    example alone)."""
    import torch

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
    out = []
    for row in rows:
        ids: list[int] = []
        pos: list[int] = []
        labels: list[int] = []
        for ex in row:
            ids.extend(ex.input_ids)
            pos.extend(range(ex.n_tokens))
            labels.extend(ex.labels)
        # Logits at position i predict token i + 1. Row boundaries need no care: the first
        # token of every example is prompt (label -100).
        nxt = labels[1:] + [IGNORE_INDEX]
        keep = [i for i, t in enumerate(nxt) if t != IGNORE_INDEX]
        out.append(PackedRow(
            input_ids=torch.tensor([ids], dtype=torch.long),
            position_ids=torch.tensor([pos], dtype=torch.long),
            keep=torch.tensor(keep, dtype=torch.long),
            targets=torch.tensor([nxt[i] for i in keep], dtype=torch.long),
            labels=torch.tensor([labels], dtype=torch.long),
            n_tokens=len(ids),
            n_targets=len(keep),
            n_examples=len(row),
        ))
    return out


def epoch_order(n: int, batch: int, seed: int, epoch: int) -> list[list[int]]:
    """Indices of one epoch, shuffled with (seed, epoch), cut into batches (last may be short)."""
    order = list(range(n))
    random.Random(seed * 100_003 + epoch).shuffle(order)
    return [order[i:i + batch] for i in range(0, n, batch)]
