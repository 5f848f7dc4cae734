"""Real tokens from the embedded model through llama.cpp."""

import threading

import pytest

from qconsole.chat.side import ChatSide
from qconsole.errors import QConsoleError
from qconsole.inference.backend import GenerationStats
from qconsole.prompts import Message, TranscriptTemplate
from qconsole.sampling import GREEDY, SamplingSettings

T = TranscriptTemplate()
QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"


def test_streams_real_tokens_and_stops_before_the_next_user_turn(backend):
    stats = GenerationStats()
    pieces = list(backend.stream(T.render([Message("user", QUESTION)]), GREEDY, stop=T.stop,
                                 stats=stats))
    text = "".join(pieces)
    assert len(pieces) >= 2 and text.strip()
    assert "User:" not in text
    assert stats.finish_reason == "stop"
    assert stats.prompt_tokens > 20 and stats.completion_tokens >= len(pieces) - 1
    assert stats.ttft_s is not None and stats.elapsed_s >= stats.ttft_s


def test_greedy_is_deterministic_and_seeded_sampling_repeats(backend):
    prompt = T.render([Message("user", "Name three colours.")])
    first = backend.complete(prompt, GREEDY, stop=T.stop)
    assert first == backend.complete(prompt, GREEDY, stop=T.stop)
    hot = SamplingSettings(temperature=1.0, seed=7, max_tokens=24)
    assert backend.complete(prompt, hot, stop=T.stop) == backend.complete(prompt, hot, stop=T.stop)


def test_max_tokens_gives_length_finish(backend):
    stats = GenerationStats()
    settings = SamplingSettings(temperature=0.0, max_tokens=5)
    list(backend.stream("Once upon a time", settings, stats=stats))
    assert stats.completion_tokens == 5 and stats.finish_reason == "length"


def test_cancel_mid_stream(backend):
    cancel = threading.Event()
    stats = GenerationStats()
    out = []
    settings = SamplingSettings(temperature=0.0, max_tokens=200)
    for piece in backend.stream("Count: 1, 2, 3,", settings, cancel=cancel, stats=stats):
        out.append(piece)
        if len(out) == 3:
            cancel.set()
    assert stats.finish_reason == "cancelled"
    assert stats.completion_tokens <= 5


def test_prompt_longer_than_context_is_a_clear_error(backend):
    with pytest.raises(QConsoleError, match="does not fit"):
        list(backend.stream("word " * 5000, GREEDY))


def test_chat_side_keeps_history_and_budgets_a_huge_paste(backend):
    side = ChatSide("left", backend, T, model_name="gemma")
    first = side.run_turn("Say hello.", SamplingSettings(temperature=0.0, max_tokens=16))
    assert side.history[-1].content == first.reply
    paste = "lorem ipsum " * 90_000  # about 1 MB
    outcome = side.run_turn(paste, SamplingSettings(temperature=0.0, max_tokens=8))
    assert outcome.context_note and "cut" in outcome.context_note
    assert outcome.stats.finish_reason in {"stop", "length", "eos"}


def test_one_backend_serialises_two_threads(backend):
    results = []

    def run():
        results.append(backend.complete("The capital of France is", SamplingSettings(
            temperature=0.0, max_tokens=6)))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]
