"""One process of a data-parallel training run (started by ddp_backend.py through torchrun).

Every process loads the base, attaches the same fresh LoRA (same seed; rank 0's weights are
broadcast to be sure), trains on its share of the examples with the global batch split between
the processes, and averages the LoRA gradients with one all-reduce per optimizer step. Rank 0
writes the progress lines, the PEFT adapter and the result; every process writes a digest of
its final LoRA weights, which must all be equal (the test checks it).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from qconsole.training.ddp_backend import JOB_FILE, PROGRESS_FILE, RESULT_FILE


def shard(examples: list, rank: int, world: int) -> list:
    """Rank ``rank``'s examples: every world-th one, wrapped round so all shards are the same
    length (every process must run the same number of steps, or the all-reduce waits)."""
    per = math.ceil(len(examples) / world)
    return [examples[(rank + world * k) % len(examples)] for k in range(per)]


def main(work: Path) -> int:
    import torch
    import torch.distributed as dist
    from peft import get_peft_model

    from qconsole.training.backend_api import (
        BackendJob,
        check_targets,
        load_base_for_training,
        lora_config,
    )
    from qconsole.training.hardware import use_bf16
    from qconsole.training.loop import train_loop

    spec: dict[str, Any] = pickle.loads((work / JOB_FILE).read_bytes())
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    cuda = spec["device"] == "cuda"
    if cuda:
        torch.cuda.set_device(local)
    device = f"cuda:{local}" if cuda else "cpu"
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        s = spec["settings"]
        s = replace(s, batch_size=max(1, math.ceil(s.batch_size / world)))
        examples = shard(list(spec["examples"]), rank, world)
        job = BackendJob(gguf_path=spec["gguf_path"], examples=examples, settings=s,
                         out_dir=spec["out_dir"], hf_model_dir=spec["hf_model_dir"])
        model = load_base_for_training(job, torch.float32)
        check_targets(model, s)
        torch.manual_seed(s.seed)
        model = get_peft_model(model, lora_config(s)).to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        for p in params:
            dist.broadcast(p.data, src=0)
        bf16 = use_bf16(s.bf16, device)

        def sync_grads(trainable: list[Any]) -> None:
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in trainable]
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= world
            pos = 0
            for p, g in zip(trainable, grads, strict=True):
                p.grad = flat[pos:pos + g.numel()].view_as(p).to(p.dtype)
                pos += g.numel()

        progress = (work / PROGRESS_FILE).open("a") if rank == 0 else None

        def on_step(info: Any) -> None:
            if progress is not None:  # rank 0's own figures, tokens scaled to all processes
                row = dict(vars(info))
                row["tokens"] *= world
                row["tokens_per_s"] *= world
                progress.write(json.dumps(row) + "\n")
                progress.flush()

        loop = train_loop(model, examples, s, device=device,
                          autocast_dtype=torch.bfloat16 if bf16 else None,
                          on_step=on_step, sync_grads=sync_grads)
        totals = torch.tensor([float(loop.tokens), float(loop.trained_tokens)], device=device)
        dist.all_reduce(totals)
        digest = hashlib.sha256(
            b"".join(p.detach().float().cpu().numpy().tobytes() for p in params)
        ).hexdigest()[:16]
        digests: list[Any] = [None] * world
        dist.all_gather_object(digests, digest)
        if rank == 0:
            spec["out_dir"].mkdir(parents=True, exist_ok=True)
            model.save_pretrained(str(spec["out_dir"]))
            out = loop.to_dict()
            loop_fields = {"steps": loop.steps, "epochs": loop.epochs, "losses": loop.losses,
                           "tokens": int(totals[0]), "trained_tokens": int(totals[1]),
                           "elapsed_s": loop.elapsed_s}
            (work / RESULT_FILE).write_text(json.dumps({
                "loop": loop_fields, "summary": out, "digests": digests,
                "precision": "bf16-autocast" if bf16 else "fp32",
                "per_process_batch": s.batch_size,
            }))
        if progress is not None:
            progress.close()
        return 0
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    try:
        sys.exit(main(Path(sys.argv[1])))
    except Exception as exc:  # one line the parent can show, then the traceback for the log
        print(f"qconsole: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        raise
