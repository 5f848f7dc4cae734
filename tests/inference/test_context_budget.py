from qconsole.inference.context_budget import fit_to_context
from qconsole.prompts import Message, TranscriptTemplate

T = TranscriptTemplate(preamble="")


def words(text: str) -> int:
    return len(text.split())


def render(ms):
    return T.render(ms)


def convo(n: int) -> list[Message]:
    out = []
    for i in range(n):
        out += [Message("user", f"question {i} " + "w " * 10), Message("assistant", f"answer {i}")]
    return out + [Message("user", "last question")]


def test_fits_untouched():
    r = fit_to_context(convo(2), render, words, 1000)
    assert r.dropped_messages == 0 and r.cut_chars == 0 and r.note is None


def test_oldest_turns_dropped_first_and_reported():
    msgs = convo(10)
    r = fit_to_context(msgs, render, words, 60)
    assert r.prompt_tokens <= 60
    assert r.dropped_messages > 0 and r.dropped_messages % 2 == 0
    assert r.messages[-1].content == "last question"
    assert r.messages == msgs[r.dropped_messages:]
    assert "left out" in r.note
    # As many turns as possible were kept: one more would not fit.
    more = msgs[r.dropped_messages - 2:]
    assert words(render(more)) > 60


def test_huge_single_message_is_cut_in_the_middle_never_crashes():
    big = "a " * 500_000  # a 1 MB paste
    r = fit_to_context([Message("user", "x"), Message("assistant", "y"), Message("user", big)],
                       render, words, 200)
    assert r.prompt_tokens <= 200
    assert r.cut_chars > 0 and "cut" in r.note
    assert "characters cut to fit the context" in r.messages[-1].content
