"""Training throughput: qconsole's CPU path against TRL's SFTTrainer, same everything else.

Both sides get the same base (the embedded Gemma 3 270M, dequantised from its GGUF), the same
tokenised examples (corrections in the chat's transcript template, loss on the reply only), the
same LoRA (r 16, alpha 32, dropout 0.05, all linear layers), batch size, learning rate, epochs,
bf16 autocast and thread count. Each runs in its own child process, so peak memory
(``ru_maxrss``) is its own; both children get ``OMP_WAIT_POLICY=PASSIVE`` (see
qconsole/training/hardware.py). Tokens/s counts every real (non-pad) token of the data once
per epoch, over the wall time of training alone (model loading excluded); CPU time is printed
too, because on a shared machine wall time is noisy.

    .venv/bin/python benchmarks/train.py                 # CPU: qconsole vs TRL, then GPU if any
    .venv/bin/python benchmarks/train.py --examples 64 --repeats 2
    .venv/bin/python benchmarks/train.py --objective dpo # DPO: dpo_loop.py vs TRL's DPOTrainer
    .venv/bin/python benchmarks/train.py --sharing       # shared-prefix rows vs plain rows

``--objective dpo`` measures preference training the same way: the same chain-sum questions as
pairs (chosen: the worked answer; rejected: the same steps ending in a wrong total), the same
LoRA, beta 0.1, batch of pairs, epochs; qconsole's dpo_loop (reference log-probabilities
precomputed once, padding-free rows, logits only at reply positions) against TRL's DPOTrainer
(reference = the model with the adapter disabled, as here). Tokens/s counts every real token of
a pass (prompt twice, chosen and rejected once each) per epoch over the whole training wall
time, the reference pass included.

The GPU section runs only where CUDA exists: the same loop with transformers + PEFT on CUDA
against the Unsloth backend (when the ``gpu`` extra is installed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULT = "RESULT "


def make_examples(n: int, seed: int = 0):
    """Worked chain-sum corrections (GUIDE section 4), with 0-3 earlier turns of context."""
    from qconsole.prompts import Message
    from qconsole.training.examples import TrainingExample

    rng = random.Random(seed)

    def item() -> tuple[str, str]:
        nums = [rng.randint(1, 9) for _ in range(rng.randint(3, 5))]
        ops = [rng.choice("+-") for _ in nums[1:]]
        question = "What is " + " ".join(
            [str(nums[0])] + [f"{o} {x}" for o, x in zip(ops, nums[1:], strict=True)]
        ) + "?"
        steps, total = [], nums[0]
        for o, x in zip(ops, nums[1:], strict=True):
            new = total + x if o == "+" else total - x
            steps.append(f"{total} {o} {x} = {new}")
            total = new
        return question, ", ".join(steps) + f". The answer is {total}."

    out = []
    for _ in range(n):
        context: list[Message] = []
        for _ in range(rng.randint(0, 3)):
            q, a = item()
            context += [Message("user", q), Message("assistant", a)]
        q, a = item()
        out.append(TrainingExample(tuple(context), q, a))
    return out


def make_pairs(n: int, seed: int = 0):
    """The chain-sum corrections as preference pairs: the worked answer over the same working
    with a wrong total (the reasoning-step failure the console's corrections fix)."""
    from qconsole.training.preference_pairs import PreferenceExample

    rng = random.Random(seed + 1)
    out = []
    for ex in make_examples(n, seed):
        head, _, total = ex.target.rpartition("The answer is ")
        wrong = int(total.rstrip(".")) + rng.choice([-3, -2, -1, 1, 2, 3])
        out.append(PreferenceExample(ex.context, ex.user, ex.target,
                                     f"{head}The answer is {wrong}.", "rewrite"))
    return out


def tokenized_pairs(n: int, max_seq_len: int, seed: int = 0):
    from qconsole.hf.gguf_model import load_hf_tokenizer
    from qconsole.models.resolve import resolve_model
    from qconsole.training.dataset import ChatTokenizer, token_rule_from_gguf
    from qconsole.training.dpo_data import build_pair_set
    from qconsole.training.pipeline import chat_template_for
    from qconsole.training.preference_pairs import select_pairs

    path = resolve_model("default").path
    tok = load_hf_tokenizer(path)
    template = chat_template_for(path, "auto", tok)
    chat_tok = ChatTokenizer(tok, token_rule_from_gguf(path, tok))
    pair_set = build_pair_set(select_pairs(make_pairs(n, seed)), template, chat_tok,
                              max_seq_len=max_seq_len)
    return path, pair_set


def tokenized(n: int, max_seq_len: int):
    from qconsole.hf.gguf_model import load_hf_tokenizer
    from qconsole.models.resolve import resolve_model
    from qconsole.training.dataset import ChatTokenizer, build_training_set, token_rule_from_gguf
    from qconsole.training.pipeline import chat_template_for

    path = resolve_model("default").path
    tok = load_hf_tokenizer(path)
    template = chat_template_for(path, "auto", tok)
    chat_tok = ChatTokenizer(tok, token_rule_from_gguf(path, tok))
    return path, build_training_set(make_examples(n), template, chat_tok, max_seq_len=max_seq_len)


def from_sessions(args):
    """A workspace's corrections (``--sessions``, plus ``--replay``) as training builds them:
    e.g. the growth proof's, to measure on the set a cycle really trains on."""
    from qconsole.training.pipeline import prepare
    from qconsole.training.request import TrainRequest
    from qconsole.training.settings import TrainSettings

    prepared = prepare(TrainRequest(
        settings=TrainSettings(max_seq_len=args.max_seq_len), sessions_dir=Path(args.sessions),
        replay=Path(args.replay) if args.replay else None, replay_max=args.replay_max))
    return prepared.gguf_path, prepared.training_set


def settings(args):
    from qconsole.training.settings import settings_for

    return settings_for(
        batch_size=args.batch_size, epochs=args.epochs, min_steps=0, bf16=args.bf16,
        threads=args.threads,
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def start_child(args, tokenize):
    """What every child does first: its settings and threads, its data (``tokenize``:
    ``tokenized`` or ``tokenized_pairs``), the base in transformers, whether bf16 runs."""
    import torch

    from qconsole.hf.gguf_model import load_hf_model
    from qconsole.training.hardware import use_bf16

    s = settings(args)
    torch.set_num_threads(s.threads or torch.get_num_threads())
    if getattr(args, "sessions", None) and tokenize is tokenized:
        path, data = from_sessions(args)
    else:
        path, data = tokenize(args.examples, args.max_seq_len)
    model, tokenizer = load_hf_model(path)
    return s, data, model, tokenizer, use_bf16(s.bf16)


def with_lora(model, s):
    """A fresh LoRA on ``model`` for qconsole's own loops (TRL's trainers attach theirs)."""
    import torch
    from peft import get_peft_model

    from qconsole.training.backends import lora_config

    torch.manual_seed(0)
    return get_peft_model(model, lora_config(s))


def child_qconsole(args, share_prefixes: bool = True) -> dict:
    import torch

    from qconsole.training.loop import train_loop

    s, ts, model, _, bf16 = start_child(args, tokenized)
    model = with_lora(model, s)
    cpu0, t0 = time.process_time(), time.perf_counter()
    loop = train_loop(model, ts.examples, s, autocast_dtype=torch.bfloat16 if bf16 else None,
                      share_prefixes=share_prefixes)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    tokens = ts.summary.total_tokens * args.epochs
    return {"name": "qconsole" if share_prefixes else "qconsole-plain", "tokens": tokens,
            "wall_s": wall, "cpu_s": cpu, "steps": loop.steps, "final_loss": loop.final_loss,
            "bf16": bf16, "threads": torch.get_num_threads(), "peak_rss_mib": peak_rss_mib(),
            "shared_tokens": loop.shared_tokens}


def child_trl(args) -> dict:
    try:
        import trl
    except ImportError:
        return {"name": "trl", "skipped": "trl is not installed (pip install trl)"}
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from qconsole.training.backends import lora_config

    s, ts, model, tokenizer, bf16 = start_child(args, tokenized)
    rows = [{"input_ids": list(e.input_ids),
             "completion_mask": [0] * e.prompt_len + [1] * e.n_completion} for e in ts.examples]
    with tempfile.TemporaryDirectory() as out:
        config = SFTConfig(
            output_dir=out, per_device_train_batch_size=s.batch_size, num_train_epochs=s.epochs,
            learning_rate=s.learning_rate, lr_scheduler_type="linear",
            warmup_steps=math.ceil(s.warmup_ratio * s.total_steps(len(rows))[0]),
            weight_decay=s.weight_decay,
            max_grad_norm=s.max_grad_norm, bf16=bf16, use_cpu=True, seed=s.seed,
            logging_steps=1, save_strategy="no", report_to=[], max_length=s.max_seq_len,
            completion_only_loss=True, dataloader_num_workers=0, gradient_checkpointing=False,
        )
        torch.manual_seed(0)
        trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer, peft_config=lora_config(s))
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = trainer.train()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    tokens = ts.summary.total_tokens * args.epochs
    return {"name": "trl", "version": trl.__version__, "tokens": tokens, "wall_s": wall,
            "cpu_s": cpu, "steps": result.global_step, "final_loss": result.training_loss,
            "bf16": bf16, "threads": torch.get_num_threads(), "peak_rss_mib": peak_rss_mib()}


def child_dpo_qconsole(args) -> dict:
    import torch

    from qconsole.training.dpo_loop import dpo_loop

    s, pair_set, model, _, bf16 = start_child(args, tokenized_pairs)
    model = with_lora(model, s)
    cpu0, t0 = time.process_time(), time.perf_counter()
    autocast = torch.bfloat16 if bf16 else None
    result = dpo_loop(model, pair_set.pairs, s, objective=args.dpo_objective,
                      autocast_dtype=autocast, score_after=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    tokens = pair_set.summary.total_tokens * args.epochs
    # after the clock: margins on the trained pairs and on held-out pairs (other questions)
    _, held_out = tokenized_pairs(args.held_out, args.max_seq_len, seed=1000)
    margins = {name: margin_figures(model, pairs, autocast)
               for name, pairs in (("trained", pair_set.pairs), ("held_out", held_out.pairs))}
    return {"name": f"qconsole-{args.dpo_objective}", "tokens": tokens, "wall_s": wall,
            "cpu_s": cpu,
            "steps": result.loop.steps, "final_loss": result.loop.final_loss, "bf16": bf16,
            "reference_s": result.reference_s, "threads": torch.get_num_threads(),
            "peak_rss_mib": peak_rss_mib(), "margins": margins}


def margin_figures(model, pairs, autocast) -> dict:
    """Mean chosen-minus-rejected log-probability and how often chosen is the likelier reply,
    under the base (adapter disabled) and the trained adapter."""
    from qconsole.training.dpo_loop import PairScores, score_pairs

    before = score_pairs(model, pairs, adapter=False, autocast_dtype=autocast).tolist()
    after = score_pairs(model, pairs, autocast_dtype=autocast).tolist()
    scores = PairScores([p.example.id for p in pairs], [p.example.source for p in pairs],
                        [tuple(r) for r in before], [tuple(r) for r in after])
    return scores.summary()


def child_dpo_trl(args, precompute: bool) -> dict:
    name = "trl-dpo-precomp" if precompute else "trl-dpo"
    try:
        import trl
    except ImportError:
        return {"name": name, "skipped": "trl is not installed (pip install trl)"}
    import torch
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from qconsole.training.backends import lora_config

    s, pair_set, model, tokenizer, bf16 = start_child(args, tokenized_pairs)
    # The very token ids qconsole trains on, in the columns TRL's own tokenisation writes
    # (TRL 1.x has no pre-tokenised input for DPO: only that step is skipped; its collator,
    # forward passes and loss run as they are).
    rows = [{"prompt_ids": list(p.prompt_ids), "chosen_ids": list(p.chosen_ids),
             "rejected_ids": list(p.rejected_ids)} for p in pair_set.pairs]

    class PreTokenized(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset

    with tempfile.TemporaryDirectory() as out:
        config = DPOConfig(
            output_dir=out, per_device_train_batch_size=s.batch_size, num_train_epochs=s.epochs,
            learning_rate=s.learning_rate, lr_scheduler_type="linear", beta=s.beta,
            warmup_steps=math.ceil(s.warmup_ratio * s.total_steps(len(rows))[0]),
            weight_decay=s.weight_decay, max_grad_norm=s.max_grad_norm, bf16=bf16, use_cpu=True,
            seed=s.seed, logging_steps=1, save_strategy="no", report_to=[],
            max_length=s.max_seq_len, dataloader_num_workers=0, gradient_checkpointing=False,
            precompute_ref_log_probs=precompute,
        )
        torch.manual_seed(0)
        # with precompute_ref_log_probs TRL runs the reference pass while it is constructed:
        # the clock starts before that, as qconsole's includes its own reference pass
        cpu0, t0 = time.process_time(), time.perf_counter()
        trainer = PreTokenized(model=model, args=config, train_dataset=Dataset.from_list(rows),
                               processing_class=tokenizer, peft_config=lora_config(s))
        if not precompute:
            cpu0, t0 = time.process_time(), time.perf_counter()
        result = trainer.train()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    tokens = pair_set.summary.total_tokens * args.epochs
    return {"name": name, "version": trl.__version__, "tokens": tokens, "wall_s": wall,
            "cpu_s": cpu, "steps": result.global_step, "final_loss": result.training_loss,
            "bf16": bf16, "threads": torch.get_num_threads(), "peak_rss_mib": peak_rss_mib()}


def child_gpu(args, which: str) -> dict:
    import torch

    from qconsole.training.backends import BackendJob, CpuPeftBackend
    from qconsole.training.unsloth_backend import UnslothBackend

    backend = UnslothBackend() if which == "unsloth" else CpuPeftBackend("cuda")
    if which == "unsloth":
        reason = backend.check()
        if reason:
            return {"name": which, "skipped": reason}
        backend.prepare()
    s = settings(args)
    path, ts = tokenized(args.examples, args.max_seq_len)
    with tempfile.TemporaryDirectory() as out:
        job = BackendJob(Path(path), ts.examples, s, Path(out) / "adapter")
        result = backend.train(job)
    loop = result.loop
    return {"name": f"{which}-cuda", "tokens": ts.summary.total_tokens * loop.epochs,
            "wall_s": loop.elapsed_s, "cpu_s": float("nan"), "steps": loop.steps,
            "final_loss": loop.final_loss, "peak_cuda_mib":
            torch.cuda.max_memory_allocated() / 2**20, "peak_rss_mib": peak_rss_mib()}


def run_child(name: str, args) -> dict:
    argv = [sys.executable, __file__, "--child", name, "--examples", str(args.examples),
            "--batch-size", str(args.batch_size), "--epochs", str(args.epochs),
            "--max-seq-len", str(args.max_seq_len), "--bf16", args.bf16,
            "--objective", args.objective, "--held-out", str(args.held_out),
            "--dpo-objective", args.dpo_objective]
    if args.sessions:
        argv += ["--sessions", args.sessions, "--replay-max", str(args.replay_max)]
        argv += ["--replay", args.replay] if args.replay else []
    if args.threads:
        argv += ["--threads", str(args.threads)]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT):])
    tail = "\n".join((proc.stderr or "").splitlines()[-15:])
    return {"name": name, "skipped": f"child failed (exit {proc.returncode}):\n{tail}"}


def show(r: dict) -> str:
    if "skipped" in r:
        return f"{r['name']:<14} SKIPPED: {r['skipped']}"
    tps = r["tokens"] / r["wall_s"]
    cpu = r["tokens"] / r["cpu_s"] if r.get("cpu_s") == r.get("cpu_s") and r.get("cpu_s") else 0
    mem = f"peak RSS {r['peak_rss_mib']:.0f} MiB"
    if "peak_cuda_mib" in r:
        mem += f", peak CUDA {r['peak_cuda_mib']:.0f} MiB"
    return (f"{r['name']:<14} {tps:7.1f} tokens/s wall ({cpu:6.1f} per CPU-second), "
            f"{r['steps']} steps in {r['wall_s']:.1f} s, loss {r['final_loss']:.3f}, {mem}")


def best(results: list[dict]) -> dict:
    ok = [r for r in results if "skipped" not in r]
    return min(ok, key=lambda r: r["wall_s"]) if ok else results[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-seq-len", type=int, default=1024)
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeats", type=int, default=1, help="alternate the runs, keep the best")
    p.add_argument("--cpu-only", action="store_true")
    p.add_argument("--objective", choices=("sft", "dpo"), default="sft",
                   help="dpo: preference training, qconsole's dpo_loop vs TRL's DPOTrainer")
    p.add_argument("--dpo-objective", choices=("dpo", "sft+dpo"), default="dpo",
                   help="dpo: what qconsole's side trains (sft+dpo adds the chosen reply's SFT "
                        "loss; TRL's side stays plain DPO)")
    p.add_argument("--held-out", type=int, default=32,
                   help="dpo: pairs on other questions, scored before/after (not trained on)")
    p.add_argument("--sharing", action="store_true",
                   help="shared-prefix rows against the same loop with every example whole")
    p.add_argument("--sessions", default=None,
                   help="train on this workspace's corrections (its sessions folder)")
    p.add_argument("--replay", default=None, help="with --sessions: a replay JSONL file")
    p.add_argument("--replay-max", type=int, default=25)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        if args.child in ("qconsole", "qconsole-plain"):
            result = child_qconsole(args, share_prefixes=args.child == "qconsole")
        elif args.child == "trl":
            result = child_trl(args)
        elif args.child == "qconsole-dpo":
            result = child_dpo_qconsole(args)
        elif args.child in ("trl-dpo", "trl-dpo-precomp"):
            result = child_dpo_trl(args, precompute=args.child == "trl-dpo-precomp")
        else:
            result = child_gpu(args, args.child)
        print(RESULT + json.dumps(result), flush=True)
        return 0

    if args.objective == "dpo":
        return main_dpo(args)
    if args.sharing:
        return main_sharing(args)
    print(f"data: {args.examples} chain-sum corrections with 0-3 turns of context, batch "
          f"{args.batch_size}, {args.epochs} epoch(s), LoRA r16 alpha 32 all linear, "
          f"bf16 {args.bf16}")
    runs: dict[str, list[dict]] = {"qconsole": [], "trl": []}
    for _ in range(args.repeats):
        for name in runs:
            runs[name].append(run_child(name, args))
    q, t = best(runs["qconsole"]), best(runs["trl"])
    print("CPU section")
    print("  " + show(q))
    print("  " + show(t))
    if "skipped" in t or "skipped" in q:
        print("  ratio: skipped (see above)")
    else:
        wall = (q["tokens"] / q["wall_s"]) / (t["tokens"] / t["wall_s"])
        cpu = (q["tokens"] / q["cpu_s"]) / (t["tokens"] / t["cpu_s"])
        verdict = "meets" if wall >= 1.2 else "BELOW"
        print(f"  ratio qconsole/TRL: {wall:.2f}x tokens/s wall ({verdict} the 1.2 target), "
              f"{cpu:.2f}x per CPU-second; peak RSS {q['peak_rss_mib']:.0f} vs "
              f"{t['peak_rss_mib']:.0f} MiB")

    import torch

    if args.cpu_only or not torch.cuda.is_available():
        print("GPU section skipped: no CUDA device" if not args.cpu_only else
              "GPU section skipped (--cpu-only)")
        return 0
    print("GPU section")
    peft_gpu, unsloth = run_child("peft", args), run_child("unsloth", args)
    print("  " + show(peft_gpu))
    print("  " + show(unsloth))
    if "skipped" not in peft_gpu and "skipped" not in unsloth:
        ratio = (unsloth["tokens"] / unsloth["wall_s"]) / (peft_gpu["tokens"] / peft_gpu["wall_s"])
        print(f"  ratio Unsloth/PEFT: {ratio:.2f}x tokens/s")
    return 0


def main_sharing(args) -> int:
    """Shared-prefix rows (packing.py) against plain packed rows: same loop, data, seed."""
    data = (f"the corrections in {args.sessions}" if args.sessions else
            f"{args.examples} chain-sum corrections with 0-3 turns of context")
    print(f"data: {data}, batch {args.batch_size}, {args.epochs} epoch(s), bf16 {args.bf16}")
    runs: dict[str, list[dict]] = {"qconsole-plain": [], "qconsole": []}
    for _ in range(args.repeats):
        for name in runs:
            runs[name].append(run_child(name, args))
    plain, shared = best(runs["qconsole-plain"]), best(runs["qconsole"])
    print("  " + show(plain))
    print("  " + show(shared))
    if "skipped" in plain or "skipped" in shared:
        print("  ratio: skipped (see above)")
        return 1
    print(f"  shared prefixes: {shared['shared_tokens']} of {shared['tokens']} tokens computed "
          f"once less ({shared['shared_tokens'] / shared['tokens']:.0%}); ratio shared/plain "
          f"{plain['wall_s'] / shared['wall_s']:.2f}x wall, "
          f"{plain['cpu_s'] / shared['cpu_s']:.2f}x per CPU-second; final loss "
          f"{shared['final_loss']:.4f} vs {plain['final_loss']:.4f}")
    return 0


def main_dpo(args) -> int:
    print(f"data: {args.examples} chain-sum preference pairs (worked answer over a wrong total) "
          f"with 0-3 turns of context, batch {args.batch_size} pairs, {args.epochs} epoch(s), "
          f"LoRA r16 alpha 32 all linear, beta 0.1, bf16 {args.bf16}")
    # TRL twice: its default (the reference forward at every step, the adapter disabled) and
    # with its reference log-probabilities precomputed, as qconsole always does; the ratio is
    # against the faster of the two.
    runs: dict[str, list[dict]] = {"qconsole-dpo": [], "trl-dpo": [], "trl-dpo-precomp": []}
    for _ in range(args.repeats):
        for name in runs:
            runs[name].append(run_child(name, args))
    q = best(runs["qconsole-dpo"])
    trl_runs = [best(runs["trl-dpo"]), best(runs["trl-dpo-precomp"])]
    t = best(trl_runs)
    print("CPU section (DPO)")
    print("  " + show(q) + (f"; reference pass {q['reference_s']:.1f} s of it"
                           if "reference_s" in q else ""))
    for r in trl_runs:
        print("  " + show(r))
    for name, m in (q.get("margins") or {}).items():
        print(f"  {name} pairs ({m['pairs']}): chosen-minus-rejected log-prob "
              f"{m['margin_before']:+.2f} -> {m['margin_after']:+.2f} nats; chosen likelier in "
              f"{m['accuracy_before']:.0%} -> {m['accuracy_after']:.0%}; margin rose in "
              f"{m['reward_accuracy']:.0%}; chosen {m['chosen_logp_change']:+.2f}, rejected "
              f"{m['rejected_logp_change']:+.2f} nats")
    if "skipped" in t or "skipped" in q:
        print("  ratio: skipped (see above)")
    else:
        wall = (q["tokens"] / q["wall_s"]) / (t["tokens"] / t["wall_s"])
        cpu = (q["tokens"] / q["cpu_s"]) / (t["tokens"] / t["cpu_s"])
        print(f"  ratio qconsole/TRL DPO ({t['name']}): {wall:.2f}x tokens/s wall, "
              f"{cpu:.2f}x per CPU-second; "
              f"peak RSS {q['peak_rss_mib']:.0f} vs {t['peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
