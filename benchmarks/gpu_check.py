"""GPU training check: the Unsloth backend against transformers + PEFT on one CUDA GPU, and
data-parallel PEFT (torchrun, one process per GPU) where there are several; all three are the
product's own backends (qconsole/training/), on a Qwen3-architecture model.

The model is ``--model DIR`` (HF weights, e.g. Qwen3-0.6B-Base) or, with no weights at hand, a
random-initialised Qwen3 of the 0.6B shape built offline from a Qwen3Config with a small
word-level tokenizer (Unsloth loads a tokenizer; the training data are token ids, so its
vocabulary does not matter). Speed does not depend on the weights' values, only on the shape.

Every path trains the same fresh LoRA (r 16, all linear layers) on the same synthetic examples
for the same steps, each in its own child process (Unsloth patches transformers on import).
Tokens/s counts every token trained on, over the steps after the first two (warm-up, kernel
compilation); the ratio is against PEFT on one GPU, measured in the same run.

    scripts/gpu_check.sh                   # installs with constraints/gpu.txt, then this
    python benchmarks/gpu_check.py --model ~/models/Qwen3-0.6B-Base --steps 30
    python benchmarks/gpu_check.py --cpu   # the harness itself on a CPU, tiny model, PEFT only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULT = "RESULT "
QWEN3_06B = dict(vocab_size=151936, hidden_size=1024, intermediate_size=3072,
                 num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                 head_dim=128, max_position_embeddings=4096, tie_word_embeddings=True,
                 rope_theta=1000000.0)
TINY = dict(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16,
            max_position_embeddings=1024, tie_word_embeddings=True)


def random_qwen3(folder: Path, shape: dict) -> Path:
    """A random Qwen3 saved with a word-level tokenizer, fully offline."""
    import torch
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(**shape, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    Qwen3ForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({f"w{i}": i for i in range(4, 1000)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                            pad_token="<pad>", unk_token="<unk>").save_pretrained(folder)
    return folder


def examples(n: int, seq: int, vocab: int):
    from qconsole.training.dataset import TokenizedExample
    from qconsole.training.examples import TrainingExample

    rng = random.Random(0)
    out = []
    for i in range(n):
        ids = [1] + [rng.randrange(4, min(vocab, 1000)) for _ in range(seq - 1)]
        ex = TrainingExample((), f"u{i}", f"t{i}")
        out.append(TokenizedExample(ex, "p", "c", tuple(ids), seq // 2))
    return out


def child(args) -> dict:
    """One path, in this process: train, return tokens/s after warm-up."""
    from qconsole.training.backend_api import BackendJob
    from qconsole.training.settings import TrainSettings

    if args.child == "unsloth":
        from qconsole.training.unsloth_backend import UnslothBackend

        backend = UnslothBackend()
        reason = backend.check()
        if reason:
            return {"path": "unsloth", "skipped": reason}
        backend.prepare()
    elif args.child == "ddp":
        from qconsole.training.ddp_backend import DdpPeftBackend

        backend = DdpPeftBackend(device="cpu" if args.cpu else "cuda",
                                 nproc=2 if args.cpu else None)
        reason = backend.check()
        if reason:
            return {"path": "ddp", "skipped": reason}
    else:
        from qconsole.training.peft_backend import CpuPeftBackend

        backend = CpuPeftBackend("cpu" if args.cpu else "cuda")
    shape = TINY if args.cpu else QWEN3_06B
    batch = args.batch_size
    settings = TrainSettings(batch_size=batch, epochs=1, min_steps=0, max_steps=args.steps,
                             max_seq_len=args.seq + 8, warmup_ratio=0.0, bf16="auto",
                             threads=None)
    data = examples(args.steps * batch, args.seq, shape["vocab_size"])
    marks: list[tuple[int, int, float]] = []

    def on_step(info) -> None:
        marks.append((info.step, info.tokens, info.elapsed_s))

    with tempfile.TemporaryDirectory() as tmp:
        job = BackendJob(gguf_path=Path(tmp) / "unused.gguf", examples=data, settings=settings,
                         out_dir=Path(tmp) / "work" / "adapter", hf_model_dir=Path(args.model),
                         on_step=on_step)
        t0 = time.perf_counter()
        result = backend.train(job)
        wall = time.perf_counter() - t0
    warm = [m for m in marks if m[0] > 2]
    if len(warm) >= 2:
        tokens = warm[-1][1] - warm[0][1]
        rate = tokens / max(1e-9, warm[-1][2] - warm[0][2])
    else:
        rate = result.loop.tokens_per_s
    return {"path": args.child, "backend": result.backend, "device": result.device,
            "precision": result.precision, "steps": result.loop.steps,
            "tokens_per_s": round(rate, 1), "final_loss": round(result.loop.final_loss, 4),
            "wall_s_with_load": round(wall, 1)}


def run_child(path: str, args, model: str) -> dict:
    argv = [sys.executable, __file__, "--child", path, "--model", model, "--steps",
            str(args.steps), "--seq", str(args.seq), "--batch-size", str(args.batch_size)]
    if args.cpu:
        argv.append("--cpu")
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=args.timeout)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT):])
    tail = " | ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])
    return {"path": path, "skipped": f"failed (exit {proc.returncode}): {tail[-400:]}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="HF folder of a Qwen3 model (default: random 0.6B shape)")
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--seq", type=int, default=512, help="tokens per example")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--timeout", type=int, default=240, help="seconds per path")
    ap.add_argument("--cpu", action="store_true", help="check the harness on a CPU")
    ap.add_argument("--child", choices=("peft", "unsloth", "ddp"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(RESULT + json.dumps(child(args)), flush=True)
        return 0
    if not args.cpu:
        import torch

        if not torch.cuda.is_available():
            print("gpu_check: no CUDA GPU on this machine; nothing to measure "
                  "(--cpu checks the harness)")
            return 2
        gpus = torch.cuda.device_count()
        print(f"gpu_check: {gpus} x {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(random_qwen3(Path(tmp) / "qwen3",
                                               TINY if args.cpu else QWEN3_06B))
        shape = "tiny" if args.cpu else "0.6B shape"
        print(f"gpu_check: model {args.model or f'random Qwen3 ({shape})'}, "
              f"{args.steps} steps of {args.batch_size} x {args.seq} tokens")
        paths = ["peft", "ddp"] if args.cpu else ["peft", "unsloth", "ddp"]
        rows = [run_child(p, args, model) for p in paths]
    ref = next((r["tokens_per_s"] for r in rows if r["path"] == "peft" and "tokens_per_s" in r),
               None)
    for r in rows:
        if "skipped" in r:
            print(f"  {r['path']:8s} skipped: {r['skipped']}")
            continue
        ratio = f"{r['tokens_per_s'] / ref:.2f}x peft" if ref else "-"
        print(f"  {r['path']:8s} {r['tokens_per_s']:>10.1f} tokens/s  {ratio:>11s}  "
              f"({r['backend']}, {r['device']}, {r['precision']}, loss {r['final_loss']})")
    if args.cpu:
        print("  (--cpu checks that the harness runs; CPU figures of a tiny model say nothing "
              "about GPUs)")
    print("RESULTS " + json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
