"""Side-by-side serving, measured in one run:

1. both panes' total tokens/s (two llama.cpp contexts streaming at once, threads split) against
   ONE raw llama-cpp-python stream with all threads (target ratio >= 0.9);
2. one context that switches adapters (the right pane) against the alternative design of
   keeping two instances alive: adapter switch time vs a full model reload;
3. keypress-to-screen latency p50/p95 in the real console while both panes stream (headless
   Textual, real model; target p95 < 50 ms).

    .venv/bin/python benchmarks/compare.py [--adapter ADAPTER.gguf] [--tokens 96]

Without --adapter a random LoRA (r=8, all linear layers) is made with PEFT and converted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from textual import events

from qconsole.chat.loader import threads_per_side
from qconsole.inference.backend import GenerationStats
from qconsole.inference.llama_backend import LlamaBackend
from qconsole.models.resolve import resolve_model
from qconsole.prompts import Message, TranscriptTemplate
from qconsole.sampling import SamplingSettings

PROMPT = TranscriptTemplate().render([Message("user", "Count from 1 to 500: 1, 2, 3,")])


def make_random_adapter(base: Path, out_dir: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from qconsole.adapters.gguf_lora import convert_peft_to_gguf
    from qconsole.hf.gguf_model import load_hf_model

    model, _ = load_hf_model(base)
    cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                     "up_proj", "down_proj"])
    peft_model = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    peft_model.save_pretrained(str(out_dir))
    return convert_peft_to_gguf(out_dir, base, out_dir / "adapter.gguf").path


def stream_tokens(backend: LlamaBackend, n: int) -> float:
    backend.llm.reset()
    settings = SamplingSettings(temperature=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0,
                                max_tokens=n)
    stats = GenerationStats()
    for _ in backend.stream(PROMPT, settings, stats=stats):
        pass
    return stats.completion_tokens / stats.elapsed_s


def parallel_total(a: LlamaBackend, b: LlamaBackend, n: int) -> float:
    results: list[int] = []

    def run(backend: LlamaBackend) -> None:
        backend.llm.reset()
        stats = GenerationStats()
        settings = SamplingSettings(temperature=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0,
                                    max_tokens=n)
        for _ in backend.stream(PROMPT, settings, stats=stats):
            pass
        results.append(stats.completion_tokens)

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(results) / (time.perf_counter() - start)


async def keypress_latency(presses: int) -> tuple[list[float], int]:
    from qconsole.config import Config
    from qconsole.ui.app import QConsoleApp

    app = QConsoleApp(Config(sampling=SamplingSettings(temperature=0.0, repeat_penalty=1.0,
                                                       max_tokens=400), n_ctx=1024))
    deadline = time.perf_counter() + 300
    lat: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        prompt = app.query_one("#prompt")
        while prompt.disabled:
            await pilot.pause(0.05)
            if time.perf_counter() > deadline:
                raise SystemExit(f"the console did not load: {app._notifications}")
        await pilot.click("#prompt")
        await pilot.press(*"Count from 1 to 200: 1, 2, 3, 4,")
        await pilot.press("enter")
        while not app.streaming and not app.user_turns:
            await pilot.pause(0.01)
        sides = len(app.streaming)
        for _ in range(presses):
            if not app.streaming:
                break
            before = prompt.value
            t0 = time.perf_counter()
            # a key event as the terminal driver delivers it (Pilot.press would also wait for
            # the app to go idle, which it never does while streaming)
            app.post_message(events.Key("x", "x"))
            while prompt.value == before and time.perf_counter() - t0 < 5:
                await asyncio.sleep(0.0005)
            lat.append(1000 * (time.perf_counter() - t0))
            await asyncio.sleep(0.05)
        app.action_cancel()
    return lat, sides


def main() -> None:
    # the console part writes a session: keep it out of the user's workspace
    os.environ.setdefault("QCONSOLE_WORKSPACE", tempfile.mkdtemp(prefix="qconsole-bench-"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--adapter", type=Path, help="a GGUF LoRA for this base")
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--presses", type=int, default=40)
    args = ap.parse_args()
    base = resolve_model(args.model).path
    cores = os.cpu_count() or 2

    print(f"model {base.name}, {cores} cores, {args.tokens} tokens, {args.reps} reps (median)")
    raw = LlamaBackend(base, n_ctx=1024, n_threads=cores)
    left = LlamaBackend(base, n_ctx=1024, n_threads=threads_per_side())
    right = LlamaBackend(base, n_ctx=1024, n_threads=threads_per_side())
    stream_tokens(raw, 8)
    one = statistics.median(stream_tokens(raw, args.tokens) for _ in range(args.reps))
    both = statistics.median(parallel_total(left, right, args.tokens) for _ in range(args.reps))
    print(f"one raw stream, {cores} threads          : {one:7.1f} tok/s")
    print(f"both panes at once, {threads_per_side()} thread(s) each : {both:7.1f} tok/s total")
    print(f"ratio both/one                          : {both / one:7.3f}  (target >= 0.9)")

    from qconsole.paths import adapters_dir

    # the random adapter lives in the (temporary) workspace: the console part uses it too
    adapter = args.adapter or make_random_adapter(base, adapters_dir() / "bench-random")
    t0 = time.perf_counter()
    right.set_adapter(adapter)  # first use: llama.cpp reads the GGUF LoRA
    first = time.perf_counter() - t0
    right.set_adapter(None)
    switch = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        right.set_adapter(adapter)
        switch.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        right.set_adapter(None)
        switch.append(time.perf_counter() - t0)
    reload = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        fresh = LlamaBackend(base, n_ctx=1024, n_threads=threads_per_side())
        fresh.set_adapter(adapter)
        reload.append(time.perf_counter() - t0)
        fresh.close()
    s, r = statistics.median(switch), statistics.median(reload)
    print(f"adapter first load in place (reads file) : {1000 * first:7.1f} ms")
    print(f"adapter switch in place (cached handle)  : {1000 * s:7.3f} ms")
    print(f"full reload + adapter (second instance)  : {1000 * r:7.1f} ms")
    print(f"ratio reload/first load                  : {r / first:7.1f}x")
    for b in (raw, left, right):
        b.close()

    lat, sides = asyncio.run(keypress_latency(args.presses))
    if lat:
        q = statistics.quantiles(lat, n=20) if len(lat) >= 20 else [max(lat)] * 19
        print(f"keypress-to-screen while streaming       : p50 {statistics.median(lat):5.1f} ms, "
              f"p95 {q[18]:5.1f} ms over {len(lat)} presses, {sides} pane(s) streaming "
              "(target p95 < 50 ms)")


if __name__ == "__main__":
    main()
