"""Measure the leakage check's false-positive rate on unrelated items, and its recall on planted
near-copies, for a grid of n-gram sizes and thresholds (qconsole.evaluation.leakage).

Why: the overlap threshold must come from a measured false-positive rate, not a guess. Every
"unrelated" pair here is a different question (another item of the same benchmark, in the same
template, or of another benchmark), so every flag is a false positive. Planted near-copies (the
correction's question with a prefix, a suffix and one word changed) must be flagged.

    python benchmarks/leakage_fpr.py [--data ../shared/data/benchmarks]

Prints one line per (n, threshold): false positives / unrelated items and recall, then the
setting in use.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from types import SimpleNamespace

from qconsole.evaluation.leakage import NGRAM, THRESHOLD, EvalText, find_leaks

INSTRUCTION = 'End your reply with "The answer is X.", where X is your final answer.'


def _jsonl(path: Path, n: int) -> list[dict]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) >= n:
                break
    return out


def _questions(data: Path) -> dict[str, list[str]]:
    gsm = [d["question"] for d in _jsonl(data / "gsm8k_test.jsonl", 1319)]
    arc_c = [d["question"] for d in _jsonl(data / "arc_challenge_test.jsonl", 1172)]
    arc_e = [d["question"] for d in _jsonl(data / "arc_easy_test.jsonl", 1200)]
    mmlu = [d["question"] for d in _jsonl(data / "mmlu_test.jsonl", 14042)]
    random.Random(0).shuffle(mmlu)
    hs = [f"{d['activity_label']}: {d['ctx']}" for d in
          _jsonl(data / "hellaswag_validation.jsonl", 1400)]
    return {"gsm8k": gsm, "arc_challenge": arc_c, "arc_easy": arc_e, "mmlu": mmlu[:1200],
            "hellaswag": hs}


def _corrections(questions: list[str], tag: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=f"{tag}/{i}", user=f"{q}\n\n{INSTRUCTION}",
                            rewrite="Let me think step by step. The answer is 1.")
            for i, q in enumerate(questions)]


def _items(questions: list[str], template: str) -> list[EvalText]:
    return [EvalText(f"e{i}", template.format(q=q)) for i, q in enumerate(questions)]


def _plant(q: str, rng: random.Random) -> str:
    words = q.split()
    if len(words) > 4:
        k = rng.randrange(len(words))
        words[k] = "something"
    return "Please answer this: " + " ".join(words) + " Explain briefly."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent.parent
                                          / "shared" / "data" / "benchmarks"))
    args = ap.parse_args()
    data = Path(args.data)
    if not data.is_dir():
        data = Path("/work/shared/data/benchmarks")
    q = _questions(data)
    rng = random.Random(1)
    # (name, corrections, unrelated eval items, planted copies)
    setups = []
    for name, tmpl in (("gsm8k", "Question: {q}\nAnswer:"), ("hellaswag", "{q}"),
                       ("arc_challenge", "Question: {q}\nAnswer:")):
        qs = q[name]
        corr = _corrections(qs[:200], name)
        unrelated = _items(qs[200:1200], tmpl)
        planted = [EvalText(f"p{i}", _plant(x, rng)) for i, x in enumerate(qs[:100])]
        setups.append((f"{name} vs other {name} items", corr, unrelated, planted))
    setups.append(("arc_easy vs arc_challenge corrections", _corrections(q["arc_challenge"][:200],
                   "arc"), _items(q["arc_easy"][:1000], "Question: {q}\nAnswer:"), []))
    setups.append(("mmlu vs gsm8k corrections", _corrections(q["gsm8k"][:200], "gsm"),
                   _items(q["mmlu"][:1000], "{q}"), []))
    print(f"in use: NGRAM={NGRAM}, THRESHOLD={THRESHOLD}")
    for n in (5, 8, 13):
        for thr in (0.2, 0.3, 0.5, 0.7):
            fp = total = found = planted_n = 0
            per = []
            for name, corr, unrelated, planted in setups:
                flagged = find_leaks(unrelated + planted, corr, ngram=n, threshold=thr)
                ids = {leak.item_id for leak in flagged}
                f = sum(1 for i in unrelated if i.item_id in ids)
                fp += f
                total += len(unrelated)
                found += sum(1 for i in planted if i.item_id in ids)
                planted_n += len(planted)
                per.append(f"{name}: {f}")
            mark = "  <- in use" if (n, thr) == (NGRAM, THRESHOLD) else ""
            print(f"n={n:2d} threshold={thr:.1f}: false positives {fp}/{total} "
                  f"({100 * fp / total:.2f}%), recall {found}/{planted_n}{mark}  "
                  f"[{'; '.join(per)}]")


if __name__ == "__main__":
    main()
