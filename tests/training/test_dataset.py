"""The training set is what the chat sees: same prompt text, same token ids as llama.cpp, the
same end-of-turn the chat stops on, and loss on the reply only. Uses the embedded model's real
tokenizer (cached after its first conversion) and the real llama.cpp tokenizer."""

from __future__ import annotations

import pytest

from qconsole.prompts import Message, template_for
from qconsole.sampling import GREEDY
from qconsole.training.dataset import (
    IGNORE_INDEX,
    ChatTokenizer,
    NothingToTrain,
    build_training_set,
    token_rule_from_gguf,
)
from qconsole.training.examples import TrainingExample

QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"
ANSWER = "3 + 5 = 8, and 8 - 2 = 6. The answer is 6."
HISTORY = (
    Message("user", "Hello! Can you help me with arithmetic?"),
    Message("assistant", "Of course. Ask me anything."),
)
GEMMA_CHAT = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}"
    "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture(scope="module")
def hf_tokenizer(embedded_model_path):
    from qconsole.hf.gguf_model import load_hf_tokenizer

    return load_hf_tokenizer(embedded_model_path)


@pytest.fixture(scope="module")
def chat_tok(hf_tokenizer, embedded_model_path) -> ChatTokenizer:
    return ChatTokenizer(hf_tokenizer, token_rule_from_gguf(embedded_model_path, hf_tokenizer))


def test_token_rule_matches_llama_cpp(chat_tok):
    rule = chat_tok.rule
    assert rule.add_bos and rule.bos_id == 2 and not rule.add_eos


def test_training_template_is_the_chats(backend, hf_tokenizer, embedded_model_path):
    from qconsole.chat.loader import template_for_backend
    from qconsole.training.pipeline import chat_template_for

    for choice in ("auto", "transcript"):
        ours = chat_template_for(embedded_model_path, choice, hf_tokenizer)
        assert ours == template_for_backend(backend, choice)


def test_prompt_is_byte_identical_to_chatside_and_tokens_to_llama_cpp(backend, chat_tok):
    from qconsole.chat.loader import template_for_backend
    from qconsole.chat.side import ChatSide

    template = template_for_backend(backend, "auto")
    side = ChatSide("left", backend, template, history=list(HISTORY))
    chat_prompt = side.plan(QUESTION, GREEDY).prompt
    ts = build_training_set([TrainingExample(HISTORY, QUESTION, ANSWER)], template, chat_tok)
    [ex] = ts.examples
    assert ex.prompt == chat_prompt
    assert list(ex.input_ids[: ex.prompt_len]) == backend.tokenize(chat_prompt)
    completion = template.completion_text(ANSWER)
    assert ex.completion == completion == " " + ANSWER + "\nUser:"
    assert list(ex.input_ids[ex.prompt_len:]) == backend.tokenize(completion, add_bos=False)
    # ... and the same ids as the chat prompt followed by the reply, tokenised as one text.
    assert list(ex.input_ids) == backend.tokenize(chat_prompt + completion)


def test_labels_cover_only_the_reply_which_ends_with_the_chats_stop(backend, chat_tok):
    template = template_for("transcript")
    ts = build_training_set([TrainingExample((), QUESTION, ANSWER)], template, chat_tok)
    [ex] = ts.examples
    labels = ex.labels
    assert labels[: ex.prompt_len] == [IGNORE_INDEX] * ex.prompt_len
    assert all(t != IGNORE_INDEX for t in labels[ex.prompt_len:])
    reply_ids = list(ex.input_ids[ex.prompt_len:])
    assert chat_tok.decode(reply_ids) == " " + ANSWER + template.end_of_turn
    eot = backend.tokenize(template.end_of_turn, add_bos=False)
    assert reply_ids[-len(eot):] == eot
    assert template.end_of_turn in template.stop  # the chat stops exactly there


def test_chat_template_special_tokens_parse_like_llama_cpp(backend, chat_tok):
    template = template_for("chat", chat_template=GEMMA_CHAT, is_base_model=False,
                            bos_token="<bos>", eos_token="<eos>")
    assert template.end_of_turn == "<end_of_turn>"
    ts = build_training_set([TrainingExample(HISTORY, QUESTION, ANSWER)], template, chat_tok)
    [ex] = ts.examples
    assert not ex.prompt.startswith("<bos>")  # llama.cpp adds BOS itself
    assert list(ex.input_ids[: ex.prompt_len]) == backend.tokenize(ex.prompt)
    eot_id = backend.tokenize("<end_of_turn>", add_bos=False)
    assert len(eot_id) == 1 and ex.input_ids[-1] == eot_id[0]  # one special token, trained on
    assert ex.labels[-1] == eot_id[0]


def test_text_llama_cpp_would_mangle_is_mangled_the_same_way(backend, chat_tok):
    template = template_for("transcript")
    odd = "caf\u00e9 \ud83d broken surrogate, \u65e5\u672c <b>tag</b>"
    ts = build_training_set([TrainingExample((), odd, odd)], template, chat_tok)
    [ex] = ts.examples
    assert list(ex.input_ids) == backend.tokenize(ex.prompt + ex.completion)


def test_long_examples_lose_oldest_turns_or_are_dropped(chat_tok):
    template = template_for("transcript")
    long_history = tuple(
        m for i in range(30)
        for m in (Message("user", f"question {i} " + "word " * 20), Message("assistant", "ok"))
    )
    fits = TrainingExample(long_history, QUESTION, ANSWER)
    too_long = TrainingExample((), "hi", "word " * 400)
    ts = build_training_set([fits, too_long, fits], template, chat_tok, max_seq_len=256)
    [ex] = ts.examples
    assert ex.n_tokens <= 256 and ex.truncated and ex.dropped_messages > 0
    assert QUESTION in ex.prompt and "question 0 " not in ex.prompt
    s = ts.summary
    assert (s.examples, s.truncated, s.dropped, s.duplicates) == (1, 1, 1, 1)
    assert ts.skipped == [(too_long.id, "reply alone is longer than 256 tokens")]
    with pytest.raises(NothingToTrain, match="nothing to train on"):
        build_training_set([too_long], template, chat_tok, max_seq_len=256)
    with pytest.raises(NothingToTrain, match="nothing to train on"):
        build_training_set([], template, chat_tok)
    with pytest.raises(NothingToTrain, match="empty reply"):
        build_training_set([TrainingExample((), "q", "   ")], template, chat_tok)


def test_summary_and_preview(chat_tok):
    template = template_for("transcript")
    examples = [
        TrainingExample((), QUESTION, ANSWER, "correction", id="s/t1/left"),
        TrainingExample((), "Capital of Peru?", "Lima.", "replay", id="replay:1"),
        TrainingExample((), "Which is better?", "The left one.", "preference", id="s/t2/p"),
    ]
    ts = build_training_set(examples, template, chat_tok)
    s = ts.summary
    assert s.by_source == {"correction": 1, "replay": 1, "preference": 1}
    assert s.total_tokens == sum(e.n_tokens for e in ts.examples)
    assert s.completion_tokens == sum(e.n_completion for e in ts.examples)
    assert s.end_of_turn == "\nUser:" and s.template == "transcript"
    assert "3 examples (1 correction, 1 preference, 1 replay)" in s.lines()[0]
    [first] = ts.preview(1, max_chars=40)
    assert first.id == "s/t1/left" and first.prompt.startswith("…")
    assert first.prompt.endswith("Assistant:") and first.completion.endswith("\nUser:")
    assert first.to_dict()["completion_tokens"] == ts.examples[0].n_completion
