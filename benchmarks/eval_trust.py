"""The issue-9 acceptance run, checkable by hand: 50 worked chain_sum corrections, then checks
of a stored evaluation run against an independent reading of its per-item records.

    python benchmarks/eval_trust.py corrections WORKSPACE   # 50 sessions through SessionStore
    python benchmarks/eval_trust.py repeats                 # held-out items that repeat them
    python benchmarks/eval_trust.py check RUN_DIR           # recount, leaks, baselines, samples
    python benchmarks/eval_trust.py rescore RUN_DIR         # stored replies, today's readings
    python benchmarks/eval_trust.py leaks WORKSPACE         # leakage check vs all 200 items

Why a second, independent reading: the scores are the product; ``check`` recounts strict and
flexible with its own few regular expressions (not qconsole's readings), compares the leakage
check's list with the repeats found by comparing expressions directly, and prints sample
records to read by eye. ``scripts/eval_acceptance.sh`` runs the whole thing.

The corrections: reasoning-gym chain_sum, 1-digit, 2 to 4 terms, seed 10000, 50 items, one
session each; the user turn is the question plus the eval's own instruction, the rewrite the
worked solution ("4 - 3 = 1, 1 - 4 = -3. The answer is -3."). The held-out suite: preset
chain_sum, size 200, seed 1.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

CORRECTION_SEED = 10_000
N_CORRECTIONS = 50
CHAIN_SUM = {"min_terms": 2, "max_terms": 4, "min_digits": 1, "max_digits": 1}


def _corrections_data() -> list[dict]:
    import reasoning_gym as rg

    ds = rg.create_dataset("chain_sum", seed=CORRECTION_SEED, size=N_CORRECTIONS, **CHAIN_SUM)
    return [ds[i] for i in range(N_CORRECTIONS)]


def worked(expression: str) -> str:
    """'4 - 3 - 4' -> '4 - 3 = 1, 1 - 4 = -3. The answer is -3.' (left to right)."""
    toks = expression.split()
    acc = int(toks[0])
    steps = []
    for op, num in zip(toks[1::2], toks[2::2], strict=True):
        new = acc + int(num) if op == "+" else acc - int(num)
        steps.append(f"{acc} {op} {num} = {new}")
        acc = new
    return f"{', '.join(steps)}. The answer is {acc}."


def cmd_corrections(workspace: Path) -> None:
    from qconsole.evaluation.gym_suites import DEFAULT_INSTRUCTION
    from qconsole.store import SessionStore

    store = SessionStore(workspace / "sessions")
    for entry in _corrections_data():
        expr = entry["metadata"]["expression"]
        rewrite = worked(expr)
        assert rewrite.endswith(f"The answer is {entry['answer']}."), (expr, entry["answer"])
        sid = store.create_session({"models": {"left": "gemma-3-270m"},
                                    "template": "transcript",
                                    "title": f"chain_sum {expr}"})
        user = f"{entry['question'].rstrip()}\n\n{DEFAULT_INSTRUCTION}"
        tid = store.append_turn(sid, {"user": user, "left": {
            "text": "I do not know.", "model": "gemma-3-270m", "template": "transcript"}})
        store.set_mark(sid, tid, "left", "reasoning_step")
        store.set_rewrite(sid, tid, "left", rewrite)
    print(f"{N_CORRECTIONS} corrections in {workspace / 'sessions'}")


def repeats() -> dict[str, str]:
    """item_id -> expression for held-out items whose expression a correction has."""
    from qconsole.evaluation.gym_suites import build_gym_suite, preset

    trained = {e["metadata"]["expression"] for e in _corrections_data()}
    suite = build_gym_suite(preset("chain_sum", size=200, seed=1))
    return {i.id: i.meta["expression"] for i in suite.items if i.meta["expression"] in trained}


_CUE = re.compile(r"answer\s*(?:is\b\s*:?|:)\s*\**\s*(-?\d+)", re.IGNORECASE)
_NUM = re.compile(r"(?<![\w.])-?\d+")


def independent(reply: str, answer: str) -> tuple[bool, bool]:
    """(strict, flexible) by this script's own rules for integer answers: strict, the number
    right after the last "answer is"/"answer:" cue, or a reply that is only a number; flexible,
    strict or else the last number of the first line holding one (the cue's line when cued)."""
    want = int(answer)
    cues = list(_CUE.finditer(reply))
    if cues:
        strict = int(cues[-1].group(1)) == want
    else:
        strict = re.fullmatch(r"\s*-?\d+\.?\s*", reply) is not None and int(
            reply.strip().rstrip(".")) == want
    if strict:
        return True, True
    lines = reply.split("\n")
    if cues:
        start = reply.rfind("\n", 0, cues[-1].start()) + 1
        end = reply.find("\n", cues[-1].start())
        lines = [reply[start: end if end >= 0 else len(reply)]] + lines
    for line in lines:
        nums = _NUM.findall(line.replace("−", "-"))
        if nums:
            return False, int(nums[-1]) == want
    return False, False


def cmd_check(run_dir: Path, samples: int) -> int:
    from qconsole.evaluation.results import read_jsonl

    items = read_jsonl(run_dir / "items.jsonl")
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    bad = 0
    for suite in dict.fromkeys(r.suite for r in items):
        rs = [r for r in items if r.suite == suite]
        kept = [r for r in rs if not r.meta.get("leak")]
        print(f"\n== {suite}: {len(rs)} items, {len(rs) - len(kept)} left out as leaks")
        integer = all(re.fullmatch(r"-?\d+", (r.reference or "").strip()) for r in rs)
        counts = {}
        for side in ("base", "adapter"):
            stored = [(r.meta[side]["strict"], r.meta[side]["flexible"]) for r in kept]
            counts[side] = (sum(s for s, _ in stored), sum(f for _, f in stored))
            if integer:
                mine = [independent(getattr(r, f"{side}_reply") or "", r.reference or "")
                        for r in kept]
                diff = [r.item_id for r, a, b in zip(kept, stored, mine, strict=True) if a != b]
                bad += len(diff)
                print(f"  {side}: strict {counts[side][0]}/{len(kept)}, flexible "
                      f"{counts[side][1]}/{len(kept)}; independent recount "
                      f"{sum(s for s, _ in mine)}/{sum(f for _, f in mine)}"
                      f"{'; DISAGREES on ' + ', '.join(diff[:8]) if diff else ' (agrees)'}")
            else:
                print(f"  {side}: strict {counts[side][0]}/{len(kept)}, flexible "
                      f"{counts[side][1]}/{len(kept)}")
        row = results["results"].get(suite, {})
        for reading in ("strict", "flexible"):
            if reading in row and row[reading]:
                r = row[reading]
                print(f"  results.json {reading}: base {100 * r['acc,base']:.1f}%, adapter "
                      f"{100 * r['acc,adapter']:.1f}%, diff {100 * r['diff']:+.1f} pp, "
                      f"{r['label']}")
        if row.get("format_gap") is not None:
            print(f"  format learning (strict diff - flexible diff): "
                  f"{100 * row['format_gap']:+.1f} pp")
        if row.get("baseline"):
            print(f"  constant-answer baseline: {row['baseline']}")
        for r in kept[:samples]:
            b, a = r.meta["base"], r.meta["adapter"]
            q = (r.meta.get("question") or "").replace("\n", " ")[-60:]
            print(f"  - {r.item_id} ref {r.reference!r} | {q!r}\n"
                  f"      base    {(r.base_reply or '')[:90]!r} -> strict {b['strict']} "
                  f"flexible {b['flexible']} (read {b.get('answer')!r})\n"
                  f"      adapter {(r.adapter_reply or '')[:90]!r} -> strict {a['strict']} "
                  f"flexible {a['flexible']} (read {a.get('answer')!r})")
    flagged = {(f["suite"], f["item_id"]) for f in results.get("leakage", {}).get("flagged", [])}
    chain = {i for s, i in flagged if s == "chain_sum"}
    if any(r.suite == "chain_sum" for r in items):
        present = {r.item_id for r in items if r.suite == "chain_sum"}
        found = {i: e for i, e in repeats().items() if i in present}
        expected = set(found)
        print(f"\nleakage: flagged {len(chain)} chain_sum items; expression repeats found "
              f"directly: {len(expected)}; identical sets: {chain == expected}")
        print("  repeats:", ", ".join(f"{i} ({e})" for i, e in sorted(found.items())))
        bad += len(chain ^ expected)
    others = sorted(flagged - {("chain_sum", i) for i in chain})
    print(f"  flagged in other suites: {len(others)} {others[:10]}")
    return 1 if bad else 0


def cmd_leaks(workspace: Path) -> int:
    """The leakage check on the stored corrections against the whole held-out suite (no model):
    it must list exactly the items whose expression a correction has."""
    from qconsole.evaluation.gym_suites import build_gym_suite, preset
    from qconsole.evaluation.leakage import LeakageCheck
    from qconsole.evaluation.results import ItemResult
    from qconsole.store import SessionStore

    corrections = SessionStore(workspace / "sessions").corrections()
    suite = build_gym_suite(preset("chain_sum", size=200, seed=1))
    records = [ItemResult(i.id, "chain_sum", False, False, prompt=i.prompt,
                          meta={"kind": "gym", "question": i.meta["question"],
                                "expression": i.meta["expression"]}) for i in suite.items]
    leaks = LeakageCheck(corrections).leaks(records)
    expected = repeats()
    found = {leak.item_id for leak in leaks}
    print(f"{len(corrections)} corrections, {len(records)} held-out items: flagged {len(found)}, "
          f"expression repeats {len(expected)}, identical: {found == set(expected)}")
    for leak in leaks:
        print(f"  {leak.item_id} ({expected.get(leak.item_id, '?')}) ~ {leak.correction} "
              f"[{leak.how}]")
    return 0 if found == set(expected) else 1


def cmd_rescore(run_dir: Path) -> int:
    """Read a stored run's replies again with today's readings (the checkers are rebuilt from
    the run's suite settings): what a change of reading rules does to the numbers."""
    from dataclasses import replace

    from qconsole.evaluation.readings import read
    from qconsole.evaluation.results import read_jsonl
    from qconsole.evaluation.rows import compare_suite
    from qconsole.evaluation.store import load_run
    from qconsole.evaluation.suites import SuiteSpec, load_generation_suite

    run = load_run(run_dir)
    items = read_jsonl(run_dir / "items.jsonl")
    for spec_dict in run.manifest.get("suites") or []:
        spec = SuiteSpec.from_dict(spec_dict)
        if spec.kind not in ("gym", "probes"):
            continue
        gen, _ = load_generation_suite(spec, lambda messages: "")
        checkers = {g.item_id: g.checker for g in gen}
        records = []
        for r in items:
            if r.suite != spec.name or r.item_id not in checkers:
                continue
            meta = dict(r.meta)
            for side in ("base", "adapter"):
                reading = read(checkers[r.item_id], getattr(r, f"{side}_reply") or "")
                meta[side] = {**dict(meta.get(side) or {}), **reading.to_dict()}
            records.append(replace(r, base_correct=meta["base"]["flexible"],
                                   adapter_correct=meta["adapter"]["flexible"], meta=meta))
        row = compare_suite(records, suite=spec.name)
        if row is None:
            continue
        s = row.strict
        print(f"{spec.name}: n={row.n} flexible base {100 * row.base_acc:.1f}% adapter "
              f"{100 * row.adapter_acc:.1f}% ({100 * row.diff:+.1f} pp, {row.label}); strict "
              f"base {100 * s.base_acc:.1f}% adapter {100 * s.adapter_acc:.1f}%; baseline "
              f"{row.details.get('baseline')}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corrections")
    c.add_argument("workspace", type=Path)
    sub.add_parser("repeats")
    k = sub.add_parser("check")
    k.add_argument("run_dir", type=Path)
    k.add_argument("--samples", type=int, default=12)
    lk = sub.add_parser("leaks")
    lk.add_argument("workspace", type=Path)
    r = sub.add_parser("rescore")
    r.add_argument("run_dir", type=Path)
    args = ap.parse_args()
    if args.cmd == "rescore":
        return cmd_rescore(args.run_dir)
    if args.cmd == "leaks":
        return cmd_leaks(args.workspace)
    if args.cmd == "corrections":
        cmd_corrections(args.workspace)
        return 0
    if args.cmd == "repeats":
        found = repeats()
        print(f"{len(found)} held-out chain_sum items repeat a correction's expression:")
        for item_id, expr in sorted(found.items()):
            print(f"  {item_id}: {expr}")
        return 0
    return cmd_check(args.run_dir, args.samples)


if __name__ == "__main__":
    sys.exit(main())
