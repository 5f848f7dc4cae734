"""Items per second of qconsole's in-process llama.cpp lm-eval backend against lm-eval's ``hf``
backend, on the same model, tasks and limit, in one run; both scores, and how well they agree.

    .venv/bin/python benchmarks/eval.py --tasks arc_easy,hellaswag --limit 40

Both backends evaluate the embedded GGUF (or --model): llama.cpp runs the Q4_K_M file itself;
transformers loads the same file and dequantises it to float32 (qconsole.hf.gguf_model), so the
weights are numerically the same values. What differs is the arithmetic: llama.cpp quantises
activations to 8 bits for its Q4_K dot products, keeps the KV cache in f16 and sums in another
order. Measured on Gemma 3 270M, next-token logits differ by about 0.15 nats (sd) and a
choice's log-likelihood by about 0.1 nat per token, which flips an item only where two answer
choices are that close. "Agreement" therefore reads per item: the share of items where
both pick the same answer (target: >= 90%), the accuracy difference (expected well inside the
binomial noise of the sample, printed beside it), and the mean absolute log-likelihood gap.

Data comes from --data-dir (default ``$QCONSOLE_BENCHMARK_DATA`` or ../shared/data/benchmarks).

``--cycle`` measures something else: a whole evaluation cycle, today's path against the fast
one (every core, several replies at once, the base cache); see benchmarks/eval_cycle.py.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARGS: argparse.Namespace


def _samples_by_doc(results: dict, task: str, filt: str) -> dict[int, dict]:
    samples = results["samples"][task]
    return {int(s["doc_id"]): s for s in samples if s.get("filter", "none") == filt}


def _choice(sample: dict, metric: str) -> int | str:
    """The answer a backend picked: argmax choice for log-likelihood tasks, the extracted answer
    (after the task's filter) for generation tasks."""
    resps = sample.get("filtered_resps")
    if resps and isinstance(resps[0], list | tuple) and len(resps[0]) == 2:
        scores = [float(r[0]) for r in resps]
        if metric == "acc_norm":  # lm-eval divides by the choice's length without the " "
            choices = [a[1][1:] if a[1].startswith(" ") else a[1] for a in sample["arguments"]]
            scores = [s / max(1, len(c)) for s, c in zip(scores, choices, strict=True)]
        return max(range(len(scores)), key=scores.__getitem__)
    return str(resps[0] if resps else "")


def _loglikelihoods(sample: dict) -> list[float]:
    resps = sample.get("filtered_resps") or []
    if resps and isinstance(resps[0], list | tuple) and len(resps[0]) == 2:
        return [float(r[0]) for r in resps]
    return []


def run(lm, tasks) -> tuple[dict, float]:
    from qconsole.evaluation.benchmarks import build_tasks, evaluate

    built = build_tasks(tasks)
    start = time.perf_counter()
    res = evaluate(lm, tasks, limit=ARGS.limit, built=built)
    return res, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--cycle" in argv:
        from eval_cycle import main as cycle_main

        return cycle_main(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--tasks", default="arc_easy,hellaswag")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--data-dir", default=os.environ.get("QCONSOLE_BENCHMARK_DATA")
                        or str(ROOT.parent / "shared" / "data" / "benchmarks"))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--hf-batch-size", default="1",
                        help="lm-eval hf batch size (its default is 1)")
    parser.add_argument("--fewshot", action="append", default=[], metavar="TASK=N",
                        help="shots for one task, e.g. gsm8k_cot=2")
    parser.add_argument("--dump", help="write both backends' lm-eval samples here (JSON)")
    args = parser.parse_args(argv)
    global ARGS
    ARGS = args
    logging.disable(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch
    from lm_eval.models.huggingface import HFLM

    from qconsole.evaluation.benchmarks import llama_lm, resolve_benchmarks
    from qconsole.hf.gguf_model import load_hf_model
    from qconsole.inference.llama_engine import LlamaEngine
    from qconsole.models.resolve import resolve_model

    torch.set_num_threads(args.threads)
    names = [t for t in args.tasks.split(",") if t]
    shots = {k: int(v) for k, _, v in (f.partition("=") for f in args.fewshot)}
    tasks = resolve_benchmarks(names, data_dir=args.data_dir, num_fewshot=shots)
    model_path = resolve_model(args.model).path
    print(f"model {model_path.name}, tasks {', '.join(names)}, limit {args.limit}, "
          f"{args.threads} threads", flush=True)

    engine = LlamaEngine(model_path, n_ctx=2048, n_threads=args.threads)
    llama_res, llama_s = run(llama_lm(engine), tasks)
    engine.close()
    engine.backend.close()

    model, tok = load_hf_model(model_path)
    bs = args.hf_batch_size if args.hf_batch_size == "auto" else int(args.hf_batch_size)
    hf = HFLM(pretrained=model, tokenizer=tok, batch_size=bs, device="cpu")
    hf_res, hf_s = run(hf, tasks)

    if args.dump:
        import json

        Path(args.dump).mkdir(parents=True, exist_ok=True)
        for name, res in (("llama", llama_res), ("hf", hf_res)):
            (Path(args.dump) / f"{name}.json").write_text(json.dumps(res["samples"], default=str))
    n_items = 0
    print(f"\n{'suite':<16}{'n':>5}{'llama.cpp':>11}{'hf':>8}{'diff':>8}{'+-noise':>9}"
          f"{'same pick':>11}{'mean|dLL|':>11}")
    for suite in dict.fromkeys(t.suite for t in tasks):  # mmlu: its 57 subjects pooled
        right_a = right_b = same = n = 0
        gaps: list[float] = []
        for t in (t for t in tasks if t.suite == suite):
            a = _samples_by_doc(llama_res, t.task, t.filter)
            b = _samples_by_doc(hf_res, t.task, t.filter)
            for d in sorted(set(a) & set(b)):
                n += 1
                right_a += float(a[d][t.metric])
                right_b += float(b[d][t.metric])
                same += _choice(a[d], t.metric) == _choice(b[d], t.metric)
                gaps += [abs(x - y) for x, y in zip(_loglikelihoods(a[d]), _loglikelihoods(b[d]),
                                                    strict=True)]
        n_items += n
        acc_a, acc_b = right_a / n, right_b / n
        noise = 1.96 * math.sqrt(max(acc_a * (1 - acc_a), 1e-9) / n)
        gap = f"{sum(gaps) / len(gaps):.3f}" if gaps else "-"
        print(f"{suite:<16}{n:>5}{acc_a:>11.3f}{acc_b:>8.3f}{acc_a - acc_b:>+8.3f}"
              f"{noise:>9.3f}{same / n:>10.0%}{gap:>11}")
    llama_rate, hf_rate = n_items / llama_s, n_items / hf_s
    print(f"\nitems/s  llama.cpp in-process: {llama_rate:.2f} ({llama_s:.1f} s)   "
          f"lm-eval hf (batch {args.hf_batch_size}): {hf_rate:.2f} ({hf_s:.1f} s)")
    print(f"ratio {llama_rate / hf_rate:.2f}x (target >= 2)")
    print(f"engine: {engine.stats.to_dict()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
