"""Decode speed: qconsole's streaming path against a plain llama-cpp-python loop.

Same model, prompt, greedy settings and token count, one process, runs interleaved so both
see the same machine state. Prints tokens/s of each and the ratio (target >= 0.95).

    .venv/bin/python benchmarks/decode.py [--model SPEC] [--tokens 128] [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from qconsole.inference.backend import GenerationStats
from qconsole.inference.llama_backend import LlamaBackend
from qconsole.models.resolve import resolve_model
from qconsole.prompts import Message, TranscriptTemplate
from qconsole.sampling import SamplingSettings

PROMPT = TranscriptTemplate().render([Message("user", "Count from 1 to 500: 1, 2, 3,")])


def plain_loop(backend: LlamaBackend, n: int) -> float:
    llm = backend.llm
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    llm.reset()
    first = None
    count = 0
    for tok in llm.generate(tokens, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
        llm.detokenize([tok])
        count += 1
        if first is None:
            first = time.perf_counter()
        if count >= n:
            break
    return (count - 1) / (time.perf_counter() - first)


def qconsole_path(backend: LlamaBackend, n: int) -> float:
    backend.llm.reset()
    settings = SamplingSettings(temperature=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0,
                                max_tokens=n)
    stats = GenerationStats()
    for _ in backend.stream(PROMPT, settings, stop=TranscriptTemplate().stop, stats=stats):
        pass
    assert stats.completion_tokens == n, stats
    return stats.tokens_per_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    backend = LlamaBackend(resolve_model(args.model).path, n_ctx=1024,
                           n_threads=args.threads or None)
    plain_loop(backend, 8)  # warm-up
    ref, ours = [], []
    for _ in range(args.reps):
        ref.append(plain_loop(backend, args.tokens))
        ours.append(qconsole_path(backend, args.tokens))
    r, q = statistics.median(ref), statistics.median(ours)
    print(f"model {backend.info.name}, {args.tokens} tokens, {args.reps} reps (median)")
    print(f"plain llama-cpp-python loop : {r:7.1f} tok/s")
    print(f"qconsole streaming path     : {q:7.1f} tok/s")
    print(f"ratio qconsole/plain        : {q / r:7.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
