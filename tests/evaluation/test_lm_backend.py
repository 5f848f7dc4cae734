"""The in-process lm-eval backend over llama.cpp, on the real embedded model.

Checks by hand: a continuation's log-likelihood equals the sum computed from llama.cpp's own
logits (``Llama`` with ``logits_all``, the same tokens in the same two passes); scores do not
depend on request order or on what the KV cache held before; ``generate_until`` cuts at the
first ``until`` string; and the numbers agree with lm-eval's ``hf`` backend on the same weights
within the arithmetic noise explained in benchmarks/eval.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(embedded_model_path):
    from qconsole.inference.llama_engine import LlamaEngine

    e = LlamaEngine(embedded_model_path, n_ctx=512, n_threads=1)
    yield e
    e.close()
    e.backend.close()


@pytest.fixture(scope="module")
def lm(engine):
    from qconsole.evaluation.benchmarks import llama_lm

    return llama_lm(engine, max_gen_toks=48)


def _instance(kind: str, args: tuple, idx: int = 0):
    from lm_eval.api.instance import Instance

    return Instance(request_type=kind, doc={}, arguments=args, idx=idx)


def _hand_loglikelihood(model_path, ctx: list[int], cont: list[int]) -> tuple[float, bool]:
    """Sum of log-softmax of llama.cpp's logits at the continuation positions."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(model_path), n_ctx=512, logits_all=True, n_threads=1,
                verbose=False)
    try:
        llm.eval(ctx)  # the context in one pass, the continuation in another: as the engine
        llm.eval(cont[:-1])
        rows = np.asarray(llm.scores[len(ctx) - 1: len(ctx) - 1 + len(cont)], dtype=np.float64)
    finally:
        llm.close()
    total, greedy = 0.0, True
    for row, tok in zip(rows, cont, strict=True):
        m = row.max()
        total += row[tok] - (m + math.log(np.exp(row - m).sum()))
        greedy &= int(row.argmax()) == tok
    return total, greedy


def test_loglikelihood_equals_hand_sum_from_llama_logits(lm, engine, embedded_model_path):
    context, continuation = "The capital of France is", " Paris, a city on the Seine"
    (got,) = lm.loglikelihood([_instance("loglikelihood", (context, continuation))])
    ctx = engine.tokenize(context)
    whole = engine.tokenize(context + continuation)
    assert whole[: len(ctx)] == ctx and whole[0] == engine.bos_id
    want = _hand_loglikelihood(embedded_model_path, ctx, whole[len(ctx):])
    assert got[0] == pytest.approx(want[0], abs=1e-6)
    assert got[1] == want[1]
    assert got[0] < 0


def test_greedy_flag_is_true_for_the_models_own_continuation(engine):
    prompt = engine.tokenize("One, two, three, four,")
    gen = engine.generate(prompt, max_tokens=3)
    ((lp, greedy),) = engine.score([(prompt, gen.tokens)])
    assert greedy and lp < 0


def test_scores_do_not_depend_on_order_or_cache(engine):
    ctx = engine.tokenize("Question: Which animal barks?\nAnswer:")
    endings = [engine.tokenize(e, add_bos=False) for e in (" a dog", " a cat", " a fish")]
    together = engine.score([(ctx, e) for e in reversed(endings)])[::-1]
    alone = []
    for e in endings:
        engine.set_adapter(None)  # drops the KV cache
        alone.append(engine.score([(ctx, e)])[0])
    assert together == alone
    assert engine.stats.reused_tokens > 0


def test_empty_context_scores_after_bos(lm, engine):
    (got,) = lm.loglikelihood([_instance("loglikelihood", ("", "Hello world"))])
    tokens = engine.tokenize("Hello world", add_bos=False)
    ((want, _),) = engine.score([([engine.bos_id], tokens)])
    assert got[0] == pytest.approx(want)


def test_loglikelihood_rolling_of_a_short_text_is_one_window(lm, engine):
    text = "A short sentence to score as a whole."
    (got,) = lm.loglikelihood_rolling([_instance("loglikelihood_rolling", (text,))])
    ((want, _),) = engine.score([([engine.bos_id], engine.tokenize(text, add_bos=False))])
    assert got == pytest.approx(want)


def test_generate_until_stops_at_until_and_max_tokens(lm, engine):
    prompt = "Monday\nTuesday\nWednesday\n"
    free = engine.generate_text(prompt, max_tokens=24)
    assert "\n" in free.text.strip("\n"), "the base should continue the list over lines"
    (cut,) = lm.generate_until([_instance("generate_until", (prompt, {"until": ["\n"],
                                                                     "max_gen_toks": 24}))])
    assert "\n" not in cut
    assert free.text.startswith(cut)
    short = engine.generate_text(prompt, max_tokens=2)
    assert len(short.tokens) <= 2 and short.finish_reason in ("length", "eos")


def test_agrees_with_hf_backend_on_the_same_weights(lm, engine, embedded_model_path):
    """Per-request log-likelihoods within arithmetic noise (llama.cpp: Q8 activations, f16 KV;
    hf: fp32 on the dequantised Q4_K_M weights); the pick must agree wherever its margin is
    larger than that noise."""
    import torch
    from lm_eval.models.huggingface import HFLM

    from qconsole.hf.gguf_model import load_hf_model

    questions = [
        ("Question: What do plants need to make food?\nAnswer:",
         [" sunlight", " darkness", " plastic", " sand"]),
        ("Question: Which is a mammal?\nAnswer:", [" a whale", " a shark", " a trout", " a frog"]),
        ("The opposite of hot is", [" cold", " warm", " blue", " fast"]),
    ]
    reqs = [_instance("loglikelihood", (q, c), i) for i, (q, cs) in enumerate(questions)
            for c in cs]
    ours = lm.loglikelihood(reqs)
    torch.set_num_threads(1)
    model, tok = load_hf_model(embedded_model_path)
    theirs = HFLM(pretrained=model, tokenizer=tok, batch_size=1, device="cpu").loglikelihood(reqs)
    per_token = []
    for req, a, b in zip(reqs, ours, theirs, strict=True):
        n = len(engine.tokenize(req.args[1], add_bos=False))
        per_token.append(abs(a[0] - b[0]) / n)
    # Measured: logits differ by about 0.15 nats (sd) between the two arithmetic paths.
    assert max(per_token) < 0.35, per_token
    assert sum(per_token) / len(per_token) < 0.15, per_token
    k = 0
    for _, cs in questions:
        a = [x[0] for x in ours[k: k + len(cs)]]
        b = [x[0] for x in theirs[k: k + len(cs)]]
        k += len(cs)
        top = sorted(b, reverse=True)
        if top[0] - top[1] > 0.5:
            assert int(np.argmax(a)) == int(np.argmax(b))
