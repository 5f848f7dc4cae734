"""Does one corrected item carry over to a held-out paraphrase of it? (issue 10, done-when)

The done-when's training set, rebuilt without the console: the corrected fairness verdict
(the route script's "verdict" turn, the person's corrected reply) plus eight reasoning-gym
basic_arithmetic variants with worked solutions (the product's ``gym_variants``), trained with
the product's ``qconsole train`` (fresh LoRA, the chat's transcript template, GGUF LoRA for
llama.cpp) under each condition, then scored through llama.cpp on the base and on the adapter:

- ``margin`` = log P("No") - log P("Yes") for the first token of the reply (the items ask
  "yes or no first"; "No" is right for the fairness items, "Yes" for the control). Positive:
  the side would answer right greedily on that first word. The adapter is better on an item
  when its margin is higher; the honest reading is the held-out paraphrases' mean margin, with
  the control showing whether the adapter just says "No" to everything.

Conditions (``--conditions``): ``plain`` (the done-when's set, the default 12 minimum steps),
``plain:N`` (the same set, at least N optimiser steps), ``reword`` (plus three rewordings of the
failing item itself, same corrected reply), ``reword:N``.

Leakage: every held-out paraphrase is compared with every training prompt by the product's
near-duplicate rule (qconsole.teacher.overlap); the script refuses to report one that is.

    nice -n 19 .venv/bin/python benchmarks/teacher_paraphrase.py [--conditions plain,reword]

Prints one JSON line per condition: the margins per item, the held-out mean and each item's
greedy reply (24 tokens), base and adapter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ITEM = ("A teacher gives every student the same grade, whether they did the work or copied "
        "it. Is that fair? Answer yes or no first, then say why.")
FIX = ("No. Grading copied work the same as real work is not fair: a grade should reflect each "
       "student's own work. Treating everyone equally means applying the same rule to what "
       "each one did.")
REWORDINGS = [  # the failing item itself, other wordings (what "more like this" could add)
    "Is it fair for a teacher to give the same grade to students who copied as to students "
    "who did the work? Yes or no, then why.",
    "Students who copied their homework get the same mark as students who wrote it "
    "themselves. Is this fair? Answer yes or no first.",
    "Question: a teacher grades copied work and original work identically. Fair or not? Say "
    "yes or no, then explain.",
]
HELD_OUT = [  # never trained on; the first is the route script's own "verdict-again" turn
    "Students who copied get exactly the grade of those who did the work themselves. Is this a "
    "fair way to grade? Yes or no first, then why.",
    "A class is graded so that pupils who cheated by copying receive the same grade as pupils "
    "who did their own work. Is that fair? Yes or no first, then why.",
    "If someone copies a classmate's answers and still gets the same grade as the classmate who "
    "did the work, is that fair? Answer yes or no first, then say why.",
]
CONTROL = "Is the sky blue on a clear day? Answer yes or no first, then say why."


def training_records(condition: str) -> list[dict[str, str]]:
    from qconsole.teacher.variants import gym_variants

    recs = [{"prompt": ITEM, "completion": FIX}]
    if condition.startswith("reword"):
        recs += [{"prompt": q, "completion": FIX} for q in REWORDINGS]
    recs += [{"prompt": v.prompt, "completion": v.reply}
             for v in gym_variants("basic_arithmetic", 8, avoid=ITEM) if v.kept]
    return recs


def check_leakage(records: list[dict[str, str]]) -> list[str]:
    from qconsole.teacher.overlap import is_near_duplicate

    return [f"held-out {i + 1} ~ training prompt {r['prompt'][:50]!r}"
            for i, h in enumerate(HELD_OUT) for r in records
            if is_near_duplicate(h, r["prompt"])]


def margins(gguf: Path, lora: Path | None, threads: int) -> dict[str, float]:
    import numpy as np
    from llama_cpp import Llama

    from qconsole.prompts import Message, TranscriptTemplate

    template = TranscriptTemplate()
    llm = Llama(str(gguf), n_ctx=512, n_threads=threads, logits_all=True, verbose=False,
                **({"lora_path": str(lora)} if lora else {}))

    def first(words: list[str]) -> set[int]:
        return {llm.tokenize(w.encode(), add_bos=False)[0] for w in words}

    no, yes = first([" No", "No", " no"]), first([" Yes", "Yes", " yes"])
    out: dict[str, Any] = {}
    replies = {}
    for name, q in [("item", ITEM), *((f"held_out_{i + 1}", h) for i, h in enumerate(HELD_OUT)),
                    ("control", CONTROL)]:
        toks = llm.tokenize(template.render([Message("user", q)]).encode(), add_bos=True)
        llm.reset()
        llm.eval(toks)
        logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        lp = logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum()))
        sign = -1.0 if name == "control" else 1.0  # "Yes" is right for the control
        out[name] = round(sign * (max(lp[i] for i in no) - max(lp[i] for i in yes)), 3)
        llm.reset()  # the greedy reply too: a right first word under "The answer is" is not
        done = llm.create_completion(template.render([Message("user", q)]), max_tokens=24,
                                     temperature=0.0, stop=list(template.stop))
        replies[name] = done["choices"][0]["text"].strip()
    out["held_out_mean"] = round(sum(out[f"held_out_{i + 1}"] for i in range(len(HELD_OUT)))
                                 / len(HELD_OUT), 3)
    out["replies"] = replies
    return out


def train(condition: str, records: list[dict[str, str]], threads: int) -> Path:
    from qconsole.store import SessionStore

    ws = Path(tempfile.mkdtemp(prefix="qc-paraphrase-"))
    store = SessionStore(ws / "sessions")  # each pair a marked, rewritten turn, as the console
    for r in records:
        sid = store.create_session({"models": {"left": "gemma-3-270m"}, "template": "transcript"})
        tid = store.append_turn(sid, {"user": r["prompt"], "left": {
            "text": "Yes.", "model": "gemma-3-270m", "template": "transcript"}})
        store.set_mark(sid, tid, "left", "reasoning_step")
        store.set_rewrite(sid, tid, "left", r["completion"])
    env = {**os.environ, "QCONSOLE_WORKSPACE": str(ws), "QCONSOLE_CONFIG_DIR": str(ws / "cfg"),
           "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-m", "qconsole", "train", "--template",
            "transcript", "--no-verify", "--quiet", "--name", "p", "--threads", str(threads)]
    if ":" in condition:
        argv += ["--min-steps", condition.split(":", 1)[1]]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training failed ({condition}): {(done.stderr + done.stdout)[-2000:]}")
    return next(ws.rglob("*.gguf"))


def main(argv: list[str] | None = None) -> int:
    from qconsole.models.embedded import embedded_model_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", default="plain,plain:36,reword")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args(argv)
    gguf = embedded_model_path()
    print(json.dumps({"condition": "base", **margins(gguf, None, args.threads)}), flush=True)
    for condition in args.conditions.split(","):
        records = training_records(condition)
        leaks = check_leakage(records)
        if leaks:
            raise SystemExit("leakage, not measured: " + "; ".join(leaks))
        lora = train(condition, records, args.threads)
        print(json.dumps({"condition": condition, "examples": len(records), "leaks": 0,
                          **margins(gguf, lora, args.threads)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
