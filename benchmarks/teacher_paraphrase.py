"""Does one corrected item carry over to a held-out paraphrase of it? (issue 10, done-when)

The done-when's training set, rebuilt without the console but through the product's own
actions (a session store, ``TeacherController.variants``, ``qconsole train``):

- the corrected fairness verdict (the route script's "verdict" turn, the person's corrected
  reply FIX);
- "more like this" on one arithmetic failure (the deduction-vs-analogy script's basic
  arithmetic turn): the product's ten variants (seven with new numbers, three rewordings of
  the failing item, listed last), of which the person accepts eight (five new, three
  rewordings);
- condition ``balanced`` adds "more like this" on the fairness verdict: the script's authored
  variants (rewordings that take FIX, contrast cases with their own replies, some "Yes").

Each condition trains a fresh LoRA (the chat's transcript template, GGUF LoRA for llama.cpp),
then base and adapter are scored through llama.cpp:

- judgement items by ``margin`` = log P(right first word) - log P(wrong first word), "No"
  against "Yes" (the items ask "yes or no first"). Positive: the side would start right
  greedily. Held out: three paraphrases of the fairness item (right: "No"), three fair cases
  (right: "Yes"), and a control (the sky; "Yes"): an adapter that says "No" to everything
  gains on the first group and loses on the other two;
- the arithmetic item and a held-out paraphrase of it (the one question template none of the
  training prompts uses) by the greedy reply's answer, read by the product's reader, and the
  log-probability of the worked answer.

Leakage: every held-out judgement item is compared with every training prompt by the
product's near-duplicate rule (qconsole.teacher.overlap); the script refuses to report one that
is. The arithmetic paraphrase is the same expression by design; it is checked not to be any
training prompt.

    nice -n 19 .venv/bin/python benchmarks/teacher_paraphrase.py [--conditions plain,balanced]

Prints one JSON line per condition (the base first): margins per item, group means, the
arithmetic readings, each item's greedy reply (24 tokens).
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

FIX = ("No. Grading copied work the same as real work is not fair: a grade should reflect each "
       "student's own work. Treating everyone equally means applying the same rule to what "
       "each one did.")
HELD_OUT_NO = [  # never trained on; the first is the route script's own "verdict-again" turn
    "Students who copied get exactly the grade of those who did the work themselves. Is this a "
    "fair way to grade? Yes or no first, then why.",
    "A class is graded so that pupils who cheated by copying receive the same grade as pupils "
    "who did their own work. Is that fair? Yes or no first, then why.",
    "If someone copies a classmate's answers and still gets the same grade as the classmate who "
    "did the work, is that fair? Answer yes or no first, then say why.",
]
HELD_OUT_YES = [  # fair cases, never trained on
    "A teacher gives the better essay the higher grade. Is that fair? Answer yes or no first, "
    "then say why.",
    "In a board game every player gets the same number of turns. Is that fair? Yes or no "
    "first, then why.",
    "A baker charges every customer the same price for the same loaf. Is that fair? Answer yes "
    "or no first, then say why.",
]
CONTROL = "Is the sky blue on a clear day? Answer yes or no first, then say why."
ACCEPT_NEW, ACCEPT_REWORDED = 5, 3  # eight of the ten arithmetic variants


def _turn_session(store: Any, script: str, turn_id: str, reply: str) -> tuple[str, str, str]:
    """A session holding one played script turn, as the console's autoplay leaves it."""
    from qconsole.teacher.play import turn_prompt
    from qconsole.teacher.scripts import find_script

    turn = find_script(script).turn(turn_id)
    user, _ = turn_prompt(turn)
    sid = store.create_session({"title": f"{script} {turn_id}", "models": {"left": "gemma"},
                                "template": "transcript"})
    tid = store.append_turn(sid, {"user": user, "left": {"text": reply, "model": "gemma",
                                                          "template": "transcript"}})
    info: dict[str, Any] = {"script": script, "script_turn": turn_id, "step": turn.step}
    if turn.gym:
        info["gym"] = dict(turn.gym)
    store.update_meta(sid, {"extra": {"teacher_turns": {tid: info}}})
    return sid, tid, user


def build_training(store: Any, condition: str) -> dict[str, Any]:
    """Fill ``store`` with the condition's corrections; what was stored and what to score."""
    from qconsole.teacher.controller import TeacherController
    from qconsole.teacher.variants import REWORDED

    ctl = TeacherController(store)  # no teacher: scripts and reasoning-gym need none
    sid, tid, item = _turn_session(store, "route-fairness", "verdict", "Yes, it is fair.")
    store.set_mark(sid, tid, "left", "judgement")
    store.set_rewrite(sid, tid, "left", FIX)
    if condition.startswith("balanced"):
        ctl.store_variants(sid, tid, "left", ctl.variants(sid, tid, "left", 10))
    asid, atid, arith = _turn_session(store, "deduction-vs-analogy", "arithmetic-1",
                                      "The answer is 7.")
    store.set_mark(asid, atid, "left", "reasoning_step")
    ten = [v for v in ctl.variants(asid, atid, "left", 10) if v.kept]
    new = [v for v in ten if not v.source.endswith(REWORDED)][:ACCEPT_NEW]
    again = [v for v in ten if v.source.endswith(REWORDED)][:ACCEPT_REWORDED]
    ctl.store_variants(asid, atid, "left", new + again)
    prompts = [c.user for c in store.corrections()]
    return {"item": item, "arith": arith, "arith_reply": again[0].reply if again else None,
            "prompts": prompts, "reworded": [v.prompt for v in again]}


def arithmetic_paraphrase(question: str, used: list[str]) -> str | None:
    """The failing item under a question template no training prompt uses (the product's own
    rewordings, asked for all of them)."""
    from qconsole.teacher.variants import REWORD_TEMPLATES, arithmetic_rewordings

    return next((v.prompt for v in arithmetic_rewordings(question, "", n=len(REWORD_TEMPLATES))
                 if v.prompt not in used), None)


def check_leakage(prompts: list[str], paraphrase: str | None) -> list[str]:
    from qconsole.teacher.overlap import is_near_duplicate

    held = [*HELD_OUT_NO, *HELD_OUT_YES, CONTROL]
    out = [f"held-out {h[:40]!r} ~ training prompt {p[:50]!r}"
           for h in held for p in prompts if is_near_duplicate(h, p)]
    if paraphrase is not None and paraphrase in prompts:
        out.append(f"the arithmetic paraphrase {paraphrase!r} is a training prompt")
    return out


def score(gguf: Path, lora: Path | None, threads: int, built: dict[str, Any],
          paraphrase: str | None) -> dict[str, Any]:
    import numpy as np
    from llama_cpp import Llama

    from qconsole.evaluation.checkers import final_number, parse_number
    from qconsole.prompts import Message, TranscriptTemplate

    template = TranscriptTemplate()
    llm = Llama(str(gguf), n_ctx=512, n_threads=threads, logits_all=True, verbose=False,
                **({"lora_path": str(lora)} if lora else {}))

    def first(words: list[str]) -> set[int]:
        return {llm.tokenize(w.encode(), add_bos=False)[0] for w in words}

    no, yes = first([" No", "No", " no"]), first([" Yes", "Yes", " yes"])

    def prompt_tokens(q: str) -> list[int]:
        return llm.tokenize(template.render([Message("user", q)]).encode(), add_bos=True)

    def greedy(q: str, n: int = 24) -> str:
        llm.reset()
        done = llm.create_completion(template.render([Message("user", q)]), max_tokens=n,
                                     temperature=0.0, stop=list(template.stop))
        return done["choices"][0]["text"].strip()

    def logprobs(toks: list[int]) -> np.ndarray:
        llm.reset()
        llm.eval(toks)
        return np.asarray(llm.scores[: llm.n_tokens], dtype=np.float64)

    def lsm(row: np.ndarray) -> np.ndarray:
        return row - (row.max() + np.log(np.exp(row - row.max()).sum()))

    out: dict[str, Any] = {"margin": {}, "replies": {}}
    judged = [("item", built["item"], "no"),
              *((f"no_{i + 1}", q, "no") for i, q in enumerate(HELD_OUT_NO)),
              *((f"yes_{i + 1}", q, "yes") for i, q in enumerate(HELD_OUT_YES)),
              ("control", CONTROL, "yes")]
    for name, q, right in judged:
        toks = prompt_tokens(q)
        lp = lsm(logprobs(toks)[-1])
        gap = max(lp[i] for i in no) - max(lp[i] for i in yes)
        out["margin"][name] = round(float(gap if right == "no" else -gap), 3)
        out["replies"][name] = greedy(q)
    m = out["margin"]
    out["held_out_no_mean"] = round(sum(m[f"no_{i + 1}"] for i in range(3)) / 3, 3)
    out["held_out_yes_mean"] = round(sum(m[f"yes_{i + 1}"] for i in range(3)) / 3, 3)
    out["right_first_word"] = sum(v > 0 for v in m.values())
    # arithmetic: the failing item and its held-out paraphrase
    worked = final_number(built["arith_reply"] or "")  # the worked answer's final number
    value = worked[0] if worked else None
    out["arithmetic"] = {}
    for name, q in (("item", built["arith"]), ("paraphrase", paraphrase)):
        if q is None:
            continue
        reply = greedy(q, 64)
        got = final_number(reply)
        answer = got[0] if got else parse_number(reply)
        entry: dict[str, Any] = {"question": q, "reply": reply,
                                 "right": value is not None and answer == value}
        if built.get("arith_reply"):  # log P(worked answer | question), per token
            ptoks = prompt_tokens(q)
            atoks = llm.tokenize((" " + built["arith_reply"]).encode(), add_bos=False)
            rows = logprobs(ptoks + atoks)[len(ptoks) - 1: -1]
            entry["answer_logprob_per_token"] = round(float(np.mean(
                [lsm(r)[t] for r, t in zip(rows, atoks, strict=True)])), 3)
        out["arithmetic"][name] = entry
    return out


def train(ws: Path, condition: str, threads: int) -> Path:
    env = {**os.environ, "QCONSOLE_WORKSPACE": str(ws), "QCONSOLE_CONFIG_DIR": str(ws / "cfg"),
           "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-m", "qconsole", "train", "--template",
            "transcript", "--no-verify", "--quiet", "--name", "p", "--threads", str(threads)]
    if ":" in condition:
        argv += ["--min-steps", condition.split(":", 1)[1]]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training failed ({condition}): {(done.stderr + done.stdout)[-2000:]}")
    return next((ws / "adapters").rglob("*.gguf"))


def main(argv: list[str] | None = None) -> int:
    from qconsole.models.embedded import embedded_model_path
    from qconsole.store import SessionStore

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", default="plain,balanced")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args(argv)
    gguf = embedded_model_path()
    base_done = False
    for condition in args.conditions.split(","):
        ws = Path(tempfile.mkdtemp(prefix="qc-paraphrase-"))
        built = build_training(SessionStore(ws / "sessions"), condition)
        paraphrase = arithmetic_paraphrase(built["arith"], built["prompts"])
        leaks = check_leakage(built["prompts"], paraphrase)
        if leaks:
            raise SystemExit("leakage, not measured: " + "; ".join(leaks))
        if not base_done:
            print(json.dumps({"condition": "base",
                              **score(gguf, None, args.threads, built, paraphrase)}), flush=True)
            base_done = True
        lora = train(ws, condition, args.threads)
        print(json.dumps({"condition": condition, "examples": len(built["prompts"]),
                          "leaks": 0, **score(gguf, lora, args.threads, built, paraphrase)}),
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
