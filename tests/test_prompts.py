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
