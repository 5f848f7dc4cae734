"""``benchmarks/eval.py --cycle``: one evaluation cycle, today's path against the fast path.

A cycle is what a person runs after each training: 3 reasoning-gym suites x 200 items
(chain_sum, basic_arithmetic, chain_sum_2digit; generated, greedy) plus a 1,200-item
log-likelihood forgetting panel (ARC-Challenge and WinoGrande, 600 each), base and adapter.
``--scale`` multiplies every item count (0.1: 20 items per gym suite, a 120-item panel), so the
benchmark fits the machine; the scale is printed with the figures.

Three runs of the same request, in one process, on the same adapter:

- **today**: what qconsole did before: half the cores, one reply at a time, no base cache;
- **cold**: every core (one engine per core, qconsole.inference.engine_pool), an empty base
  cache (it gets filled);
- **warm**: the same again, the base answers now coming from the cache (the next cycle).

Every per-item result (both sides' correctness and replies, both sides' log-likelihood picks)
must be identical across the three runs; the script says so or fails. It prints
``speed-up warm N.NNx`` and ``speed-up cold N.NNx`` (today's wall time over the fast path's).

The adapter is a random LoRA (r=8, B ~ N(0, 0.02)) written straight to GGUF for the base, so
the adapter side differs from the base at no training cost; or ``--adapter`` (an adapter name,
folder or GGUF LoRA), e.g. the one scripts/eval_acceptance.sh trains. The workload matters for
the warm figure: a random LoRA's replies mostly run to the length limit (measured at scale 0.1:
32 of 60 adapter replies against 8 of 60 base replies, 8x the text), so the adapter side, which
the warm run must still compute, is most of the work. With two cores and the base answers from
the cache, the warm speed-up is bounded by ``2 x (base work + adapter work) / adapter work``
(4x where both sides do equal work, less the more the adapter side does).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GYM = ("chain_sum", "basic_arithmetic", "chain_sum_2digit")
PANEL = ("arc_challenge", "winogrande")
_TARGET = re.compile(r"^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)"
                     r"\.weight$")


def random_gguf_lora(base: Path, out: Path, *, r: int = 8, b_std: float = 0.02,
                     seed: int = 0) -> Path:
    """A GGUF LoRA with random A and B on every linear layer of ``base``'s blocks."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(base))
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(2 * r))
    rng = np.random.default_rng(seed)
    for t in reader.tensors:
        if not _TARGET.match(t.name):
            continue
        n_in, n_out = int(t.shape[0]), int(t.shape[1])  # GGUF order: ne0 = input features
        a = (rng.standard_normal((r, n_in)) * n_in ** -0.5).astype(np.float32)
        b = (rng.standard_normal((n_out, r)) * b_std).astype(np.float32)
        writer.add_tensor(f"{t.name}.lora_a", a)
        writer.add_tensor(f"{t.name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _request(args: argparse.Namespace, adapter: Path | str, root: Path, name: str, *,
             fast: bool) -> Any:
    from qconsole.evaluation.request import EvalRequest
    from qconsole.evaluation.suites import benchmark_suite, gym_suite
    from qconsole.inference.threads import job_threads

    n_gym = max(1, round(200 * args.scale))
    n_panel = max(1, round(600 * args.scale))
    suites = [gym_suite({"preset": g, "size": n_gym, "seed": 1}) for g in GYM]
    suites += [benchmark_suite(t, panel=True, limit=n_panel) for t in PANEL]
    return EvalRequest(
        model=args.model, adapter=str(adapter), suites=suites, data_dir=args.data_dir,
        max_tokens=args.max_tokens,
        threads=job_threads() if fast else job_threads(background=True),
        parallel=args.parallel if fast else 1, cache=fast,
        cache_path=str(root / "base-cache.sqlite"), evals_root=str(root / "evals"),
        sessions_root=str(root / "no-sessions"), run_id=name, use_hub=False,
    )


def _warm_up(args: argparse.Namespace, base: Path) -> None:
    """Pay the one-time costs (imports, lm-eval's task index, the model's hash) before any
    timing, so that no run is charged for what the first one left behind."""
    import lm_eval.evaluator  # noqa: F401

    from qconsole.evaluation.benchmarks import build_tasks, resolve_benchmarks
    from qconsole.models.fingerprint import file_fingerprint

    for task in PANEL:
        build_tasks(resolve_benchmarks([task], data_dir=args.data_dir))
    file_fingerprint(base)


def _timed(request: Any) -> tuple[float, Any]:
    from qconsole.evaluation.runner import run_evaluation

    start = time.perf_counter()
    run = run_evaluation(request)
    return time.perf_counter() - start, run


def _per_item(run: Any) -> dict[str, tuple]:
    out = {}
    for r in run.items():
        picks = (r.meta.get("base", {}).get("pick"), r.meta.get("adapter", {}).get("pick"))
        out[f"{r.suite}/{r.item_id}"] = (r.base_correct, r.adapter_correct, r.base_reply,
                                         r.adapter_reply, picks)
    return out


def _differences(a: dict[str, tuple], b: dict[str, tuple]) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [k for k in keys if a.get(k) != b.get(k)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/eval.py --cycle",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--cycle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full cycle's items (1.0: 3 x 200 + 1,200)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--adapter", default=None,
                        help="adapter name, folder or GGUF LoRA (default: a random LoRA)")
    parser.add_argument("--parallel", type=int, default=None,
                        help="engines side by side on the fast path (default: qconsole's)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="reply length (default: the configured one)")
    parser.add_argument("--data-dir", default=os.environ.get("QCONSOLE_BENCHMARK_DATA")
                        or str(ROOT.parent / "shared" / "data" / "benchmarks"))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from qconsole.inference.threads import job_threads
    from qconsole.jobs.child import quiet_libraries
    from qconsole.models.resolve import resolve_model

    quiet_libraries()
    base = resolve_model(args.model).path
    with tempfile.TemporaryDirectory(prefix="qconsole-cycle-") as tmp:
        root = Path(tmp)
        adapter = (Path(args.adapter) if args.adapter and Path(args.adapter).exists()
                   else args.adapter) or random_gguf_lora(base, root / "random-lora.gguf")
        n_gym = max(1, round(200 * args.scale))
        n_panel = max(1, round(600 * args.scale))
        print(f"adapter: {args.adapter or 'a random LoRA (r=8)'}")
        print(f"cycle at scale {args.scale:g}: {len(GYM)} gym suites x {n_gym} items + "
              f"panel {len(PANEL)} x {n_panel} items, base and adapter; today: "
              f"{job_threads(background=True)} thread(s), one reply at a time, no cache; fast: "
              f"{job_threads()} thread(s), parallel {args.parallel or 'default'}, base cache",
              flush=True)
        _warm_up(args, base)
        t_today, today = _timed(_request(args, adapter, root, "today", fast=False))
        skipped = today.results().get("skipped")
        if skipped:
            print(f"benchmark data missing (give --data-dir): {skipped}")
            return 2
        print(f"today: {t_today:.1f} s", flush=True)
        t_cold, cold = _timed(_request(args, adapter, root, "cold", fast=True))
        print(f"cold (empty base cache): {t_cold:.1f} s "
              f"(cache {cold.results().get('base_cache')})", flush=True)
        t_warm, warm = _timed(_request(args, adapter, root, "warm", fast=True))
        print(f"warm (base from the cache): {t_warm:.1f} s "
              f"(cache {warm.results().get('base_cache')})", flush=True)
        ref = _per_item(today)
        bad = {name: _differences(ref, _per_item(run)) for name, run in
               (("cold", cold), ("warm", warm))}
        for r in today.results()["comparisons"]:
            print(f"  {r['suite']}: base {100 * r['base_acc']:.1f}%, adapter "
                  f"{100 * r['adapter_acc']:.1f}% (n={r['n']})")
        if any(bad.values()):
            for name, keys in bad.items():
                if keys:
                    print(f"NOT IDENTICAL: {name} differs from today on {len(keys)} item(s), "
                          f"e.g. {keys[:3]}")
            return 1
        print(f"per-item results identical in all three runs ({len(ref)} items)")
    print(f"speed-up warm {t_today / t_warm:.2f}x")
    print(f"speed-up cold {t_today / t_cold:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
