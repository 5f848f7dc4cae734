"""DPO in the project's own padding-free loop (the SFT loop's rules, a preference loss).

Direct Preference Optimization (Rafailov et al., arXiv 2305.18290): for a pair (x, y_w, y_l),
with log-probabilities summed over each reply's tokens under the policy (base + LoRA) and the
frozen reference (the same model with the adapter disabled, PEFT's ``disable_adapter()``),

    loss = -log sigmoid(beta * ((pi(y_w) - ref(y_w)) - (pi(y_l) - ref(y_l))))

averaged over the pairs of an optimizer step. ``sft+dpo`` adds the SFT loss of the chosen
reply (its tokens' mean negative log-likelihood, weighted by ``sft_weight``), which keeps the
chosen reply likely in absolute terms and not only relative to the rejected one (RPO,
arXiv 2404.19733).

Why this is fast where TRL's DPOTrainer is not (benchmarks/train.py --objective dpo):

- the reference is frozen, so its log-probabilities are computed once, before training, in
  one no-grad pass over the pairs (TRL's ``precompute_ref_log_probs``, here always);
- no padding: a pair's chosen and rejected sequences share a packed row with their position
  ids restarting (transformers makes the mask block-diagonal), and the vocabulary projection
  runs only at the reply positions (``logits_to_keep`` as indices); the prompt, most of every
  sequence, costs no logits.

The same function scores pairs for the before/after figures (:func:`score_pairs`): before is
the reference, after the trained policy, on the very tokens it trained on.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qconsole.training.dpo_data import TokenizedPair
from qconsole.training.loop import LoopResult, StepInfo, make_optimizer, step_info
from qconsole.training.packing import DEFAULT_ROW_TOKENS
from qconsole.training.schedule import StepSchedule
from qconsole.training.settings import TrainSettings


@dataclass
class PairRow:
    """One forward pass over whole pairs: sequence ``2j`` is pair ``j``'s chosen side, ``2j+1``
    its rejected side; ``segment[i]`` says which sequence the logits at ``keep[i]`` belong to."""

    input_ids: Any  # LongTensor [1, n]
    position_ids: Any  # LongTensor [1, n]
    keep: Any  # LongTensor [k]
    targets: Any  # LongTensor [k]
    segment: Any  # LongTensor [k]
    pair_index: list[int]  # index into the pair list, per pair of this row
    n_tokens: int
    n_targets: int
    n_chosen_targets: int


def pack_pairs(
    pairs: Sequence[TokenizedPair], indices: Sequence[int], *,
    row_tokens: int = DEFAULT_ROW_TOKENS,
) -> list[PairRow]:
    """Greedy first-fit of whole pairs (longest first) into rows of at most ``row_tokens``;
    a pair longer than that gets a row of its own."""
    import torch

    rows: list[list[int]] = []
    sizes: list[int] = []
    for i in sorted(indices, key=lambda k: pairs[k].n_tokens, reverse=True):
        n = pairs[i].n_tokens
        for r, size in enumerate(sizes):
            if size + n <= row_tokens:
                rows[r].append(i)
                sizes[r] += n
                break
        else:
            rows.append([i])
            sizes.append(n)
    out = []
    for members in rows:
        ids: list[int] = []
        pos: list[int] = []
        keep: list[int] = []
        targets: list[int] = []
        segment: list[int] = []
        n_chosen = 0
        for j, i in enumerate(members):
            p = pairs[i]
            for s, reply in enumerate((p.chosen_ids, p.rejected_ids)):
                start = len(ids)
                seq = list(p.prompt_ids) + list(reply)
                ids.extend(seq)
                pos.extend(range(len(seq)))
                # logits at position t predict token t + 1: the reply's tokens are predicted
                # from the last prompt token on
                first = start + len(p.prompt_ids) - 1
                keep.extend(range(first, first + len(reply)))
                targets.extend(reply)
                segment.extend([2 * j + s] * len(reply))
                if s == 0:
                    n_chosen += len(reply)
        out.append(PairRow(
            input_ids=torch.tensor([ids], dtype=torch.long),
            position_ids=torch.tensor([pos], dtype=torch.long),
            keep=torch.tensor(keep, dtype=torch.long),
            targets=torch.tensor(targets, dtype=torch.long),
            segment=torch.tensor(segment, dtype=torch.long),
            pair_index=list(members),
            n_tokens=len(ids),
            n_targets=len(keep),
            n_chosen_targets=n_chosen,
        ))
    return out


def row_logps(model: Any, row: PairRow, *, device: str = "cpu", autocast_dtype: Any = None):
    """Summed log-probability of every sequence of ``row``: a tensor [pairs, 2] (chosen,
    rejected), differentiable when grad is on."""
    import torch
    import torch.nn.functional as F

    autocast = (
        torch.autocast(device_type=device.split(":")[0], dtype=autocast_dtype)
        if autocast_dtype is not None else contextlib.nullcontext()
    )
    with autocast:
        out = model(
            input_ids=row.input_ids.to(device),
            position_ids=row.position_ids.to(device),
            logits_to_keep=row.keep.to(device),
            use_cache=False,
        )
    logits = out.logits[0].float()
    token_logps = -F.cross_entropy(logits, row.targets.to(device), reduction="none")
    sums = torch.zeros(2 * len(row.pair_index), device=logits.device, dtype=torch.float32)
    sums = sums.index_add(0, row.segment.to(device), token_logps)
    return sums.view(-1, 2)


def score_pairs(
    model: Any,
    pairs: Sequence[TokenizedPair],
    *,
    adapter: bool = True,
    device: str = "cpu",
    autocast_dtype: Any = None,
    row_tokens: int = DEFAULT_ROW_TOKENS,
):
    """Log-probabilities [n, 2] (chosen, rejected) of every pair, no grad, eval mode;
    ``adapter=False`` scores the reference (the base: PEFT's ``disable_adapter()``)."""
    import torch

    out = torch.zeros(len(pairs), 2, dtype=torch.float64)
    was_training = model.training
    model.eval()
    ctx = model.disable_adapter() if not adapter else contextlib.nullcontext()
    try:
        with torch.no_grad(), ctx:
            for row in pack_pairs(pairs, range(len(pairs)), row_tokens=row_tokens):
                logps = row_logps(model, row, device=device, autocast_dtype=autocast_dtype)
                out[row.pair_index] = logps.double().cpu()
    finally:
        model.train(was_training)
    return out


def dpo_losses(policy: Any, reference: Any, beta: float):
    """Per-pair sigmoid DPO loss and the implicit reward margin (beta times the rise of the
    chosen-over-rejected log-probability margin against the reference)."""
    import torch.nn.functional as F

    rise = (policy[:, 0] - reference[:, 0]) - (policy[:, 1] - reference[:, 1])
    logits = beta * rise
    return -F.logsigmoid(logits), logits


@dataclass
class PairScores:
    """Before (reference) and after (trained policy) log-probabilities of the trained pairs."""

    ids: list[str]
    sources: list[str]
    before: list[tuple[float, float]]  # (chosen, rejected) under the reference
    after: list[tuple[float, float]]  # the same under the trained policy

    def margins(self, which: str) -> list[float]:
        rows = self.before if which == "before" else self.after
        return [c - r for c, r in rows]

    def summary(self) -> dict[str, Any]:
        """Mean margins, how often chosen is the more likely reply, how often the margin rose."""
        n = len(self.ids)
        before, after = self.margins("before"), self.margins("after")
        rose = [a > b for a, b in zip(after, before, strict=True)]
        return {
            "pairs": n,
            "margin_before": _mean(before),
            "margin_after": _mean(after),
            "accuracy_before": sum(m > 0 for m in before) / n if n else None,
            "accuracy_after": sum(m > 0 for m in after) / n if n else None,
            "reward_accuracy": sum(rose) / n if n else None,  # margin rose against reference
            "chosen_logp_change": _mean([a[0] - b[0] for a, b in
                                         zip(self.after, self.before, strict=True)]),
            "rejected_logp_change": _mean([a[1] - b[1] for a, b in
                                           zip(self.after, self.before, strict=True)]),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "per_pair": [
                {"id": i, "source": s, "before": [round(x, 4) for x in b],
                 "after": [round(x, 4) for x in a]}
                for i, s, b, a in zip(self.ids, self.sources, self.before, self.after,
                                      strict=True)
            ],
        }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class DpoResult:
    loop: LoopResult
    scores: PairScores
    reward_accuracies: list[float] = field(default_factory=list)  # per step
    reference_s: float = 0.0  # time of the one reference pass


def dpo_loop(
    model: Any,
    pairs: Sequence[TokenizedPair],
    settings: TrainSettings,
    *,
    objective: str = "dpo",
    device: str = "cpu",
    autocast_dtype: Any = None,
    row_tokens: int = DEFAULT_ROW_TOKENS,
    on_step: Callable[[StepInfo], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    score_after: bool = True,
) -> DpoResult:
    """Train the LoRA of ``model`` (a PEFT model) on ``pairs`` with DPO (``sft+dpo``: plus the
    chosen reply's SFT loss); score the pairs before and after."""
    import torch

    if objective not in ("dpo", "sft+dpo"):
        raise ValueError(f"dpo_loop trains dpo or sft+dpo, not {objective!r}")
    if not pairs:
        raise ValueError("no preference pairs to train on")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (no LoRA attached?)")
    beta, sft_weight = settings.beta, settings.sft_weight if objective == "sft+dpo" else 0.0
    scoring = {"device": device, "autocast_dtype": autocast_dtype, "row_tokens": row_tokens}
    t_ref = time.perf_counter()
    reference = score_pairs(model, pairs, adapter=False, **scoring).float().to(device)
    reference_s = time.perf_counter() - t_ref

    torch.manual_seed(settings.seed)
    optimizer = make_optimizer(params, settings)
    schedule = StepSchedule(len(pairs), settings)
    result = LoopResult(steps=0, epochs=schedule.epochs)
    accuracies: list[float] = []
    model.train()
    start = time.perf_counter()
    for sched in schedule.steps(optimizer, should_stop):
        step, batch_idx = sched.step, sched.batch
        rows = pack_pairs(pairs, batch_idx, row_tokens=row_tokens)
        n_pairs = len(batch_idx)
        n_chosen = sum(r.n_chosen_targets for r in rows)
        loss_sum = 0.0
        wins = 0
        for row in rows:
            policy = row_logps(model, row, device=device, autocast_dtype=autocast_dtype)
            losses, logits = dpo_losses(policy, reference[row.pair_index], beta)
            loss = losses.sum() / n_pairs
            if sft_weight:
                loss = loss - sft_weight * policy[:, 0].sum() / n_chosen
            loss.backward()
            loss_sum += float(loss.detach())
            wins += int((logits.detach() > 0).sum())
            result.tokens += row.n_tokens
            result.trained_tokens += row.n_targets
            del policy, losses, logits, loss
        if settings.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if not math.isfinite(loss_sum):
            raise FloatingPointError(
                f"the loss became {loss_sum} at step {step}: lower the learning rate"
            )
        result.losses.append(loss_sum)
        accuracies.append(wins / n_pairs)
        result.steps = step
        result.elapsed_s = time.perf_counter() - start
        if on_step is not None:
            on_step(step_info(schedule, sched, loss_sum, result))
    result.elapsed_s = time.perf_counter() - start
    model.eval()
    ref_rows = [(float(c), float(r)) for c, r in reference.double().cpu().tolist()]
    after = score_pairs(model, pairs, **scoring) if score_after else None
    scores = PairScores(
        ids=[p.example.id for p in pairs],
        sources=[p.example.source for p in pairs],
        before=ref_rows,
        after=[(float(c), float(r)) for c, r in after.tolist()] if after is not None
        else ref_rows,
    )
    return DpoResult(result, scores, accuracies, reference_s)
