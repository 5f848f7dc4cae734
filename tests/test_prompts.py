from qconsole.prompts import JinjaChatTemplate, Message, TranscriptTemplate, template_for

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_transcript_renders_turns_and_generation_prompt():
    t = TranscriptTemplate()
    text = t.render(
        [Message("user", " hi "), Message("assistant", "hello"), Message("user", "2+2?")]
    )
    assert text.endswith("User: hi\nAssistant: hello\nUser: 2+2?\nAssistant:")
    assert text.startswith(t.preamble)


def test_transcript_training_pair_ends_with_what_chat_stops_on():
    t = TranscriptTemplate()
    prompt, completion = t.training_pair([Message("user", "q")], "The answer is 6.")
    assert prompt == t.render([Message("user", "q")])
    assert completion == " The answer is 6." + t.end_of_turn
    assert t.end_of_turn in t.stop
    # The chat would cut the trained completion exactly at the end of the reply.
    assert t.clean_reply(completion) == "The answer is 6."


def test_auto_uses_transcript_for_base_models_even_with_a_chat_template():
    t = template_for("auto", chat_template=CHATML, is_base_model=True)
    assert isinstance(t, TranscriptTemplate)
    t = template_for("auto", chat_template=CHATML, is_base_model=False, eos_token="<|endoftext|>")
    assert isinstance(t, JinjaChatTemplate)
    assert t.end_of_turn == "<|im_end|>"
    assert "<|im_end|>" in t.stop


def test_chat_template_renders_and_pairs():
    t = template_for("chat", chat_template=CHATML, is_base_model=True)
    text = t.render([Message("user", "hi")])
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    _, completion = t.training_pair([Message("user", "hi")], "yo")
    assert completion == "yo<|im_end|>"


def test_chat_choice_without_template_falls_back_to_transcript():
    assert isinstance(template_for("chat", chat_template=None), TranscriptTemplate)


def test_unknown_template_is_rejected():
    import pytest

    with pytest.raises(ValueError):
        template_for("nonsense")


SMOL_LIKE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_a_leading_bos_is_kept_when_the_tokenizer_adds_none():
    """SmolLM2's BOS is "<|im_start|>" and llama.cpp adds no BOS for it: dropping the
    template's leading BOS text removed the opening of the first message."""
    kept = template_for("chat", chat_template=SMOL_LIKE, bos_token="<|im_start|>",
                        eos_token="<|im_end|>", adds_bos=False)
    assert kept.render([Message("user", "hi")]) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    # a tokenizer that adds BOS itself: the template's copy is dropped, not doubled
    gemma_like = "{{ bos_token }}" + SMOL_LIKE
    stripped = template_for("chat", chat_template=gemma_like, bos_token="<bos>", adds_bos=True)
    assert stripped.render([Message("user", "hi")]).startswith("<|im_start|>user\nhi")
    both = template_for("chat", chat_template=gemma_like, bos_token="<bos>", adds_bos=False)
    assert both.render([Message("user", "hi")]).startswith("<bos><|im_start|>user")


def test_add_bos_follows_llama_cpp_rule():
    from qconsole.models.gguf_info import adds_bos

    assert adds_bos({"tokenizer.ggml.add_bos_token": False}) is False
    assert adds_bos({"tokenizer.ggml.add_bos_token": True, "tokenizer.ggml.model": "gpt2"})
    assert adds_bos({"tokenizer.ggml.model": "llama"}) is True
    assert adds_bos({"tokenizer.ggml.model": "gpt2"}) is False
