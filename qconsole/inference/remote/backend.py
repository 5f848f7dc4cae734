"""A pane backed by an OpenAI-compatible server (llama.cpp server, vLLM, llama-cpp-python's
server, a hosted provider) instead of llama.cpp in this process.

Why raw ``/v1/completions`` and not chat completions: qconsole drives base models with prompts
it renders itself (prompts.py), so both panes see byte-identical text whether local or remote.
``endpoint="chat"`` exists for providers that only offer chat; it sends that text as one user
message, which is only a fair comparison against another chat-endpoint pane.

Stop strings are cut here (stream.py says why); ``server_stop=True`` sends them too (saves
those tokens on paid APIs; ``eos`` is then reported as ``stop``). How adapters are selected per
server kind: adapters.py; loading a new one into a running vLLM: runtime_lora.py.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.inference.backend import GenerationStats
from qconsole.inference.remote import adapters
from qconsole.inference.remote.adapters import ADAPTER_MODES
from qconsole.inference.remote.discovery import discover, find_tokenizer, tokenize
from qconsole.inference.remote.keys import key_from_env
from qconsole.inference.remote.runtime_lora import load_lora_adapter
from qconsole.inference.remote.stream import StreamRun, close_on_cancel
from qconsole.inference.remote.transport import HTTPStatusError, Transport
from qconsole.sampling import SamplingSettings

ENDPOINTS = ("completions", "chat")
BYTES_PER_TOKEN_ESTIMATE = 3  # see count_tokens


class RemoteBackend:
    """Streams replies from an OpenAI-compatible server; satisfies ``TextBackend``."""

    def __init__(
        self,
        url: str,
        model: str | None = None,
        *,
        api_key_env: str | None = None,
        adapter: str | int | None = None,
        adapter_mode: str = "none",
        adapter_scale: float = 1.0,
        n_ctx: int = 4096,
        timeout_s: float = 60.0,
        endpoint: str = "completions",
        sampling_extras: bool = True,
        server_stop: bool = False,
    ) -> None:
        if adapter_mode not in ADAPTER_MODES:
            raise QConsoleError(
                f"adapter_mode must be one of {', '.join(ADAPTER_MODES)}, not {adapter_mode!r}"
            )
        if endpoint not in ENDPOINTS:
            raise QConsoleError(f"endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
        self.api_key_env = api_key_env or None
        self.http = Transport(url, timeout_s=timeout_s, key=key_from_env(self.api_key_env),
                              api_key_env=self.api_key_env)
        self.url, self.root = self.http.url, self.http.root
        self.host, self.label = self.http.host, self.http.label
        self.model = model or None
        self.adapter: str | int | None = None
        self.adapter_mode = adapter_mode
        self.adapter_scale = float(adapter_scale)
        self.n_ctx = int(n_ctx)
        self._n_ctx_cap = int(n_ctx)
        self.timeout_s = float(timeout_s)
        self.endpoint = endpoint
        self.sampling_extras = sampling_extras
        self.server_stop = server_stop
        # learned from the server by probe()
        self.server_kind = "unknown"  # llama.cpp | vllm | llama-cpp-python | unknown
        self.served_models: list[str] = []
        self.lora_adapters: list[dict] | None = None  # llama.cpp server's GET /lora-adapters
        self.chat_template: str | None = None  # llama.cpp server's /props, for template_for()
        self.bos_token: str | None = None
        self.eos_token: str | None = None
        self.bos_tokens = 0  # tokens the server's tokenizer adds to any text
        self._lora_id: int | None = None
        self._probed = False
        self._lock = threading.Lock()
        self._tokenizer: str | None = None  # extras | llamacpp | vllm | estimate
        self._tok_cache: OrderedDict[str, int] = OrderedDict()
        self._requested_adapter = adapter
        adapters.check_mode(adapter, adapter_mode)

    def __repr__(self) -> str:
        key = f", api_key_env={self.api_key_env!r}" if self.api_key_env else ""
        adapter = self._requested_adapter if self.adapter is None else self.adapter
        return (
            f"RemoteBackend(url={self.url!r}, model={self.model!r}, adapter={adapter!r}, "
            f"adapter_mode={self.adapter_mode!r}{key})"
        )

    @property
    def display_name(self) -> str:
        """For the pane title: the model and where it runs."""
        return f"{self.model or 'remote'} @ {self.host}"

    @property
    def token_count_exact(self) -> bool:
        self.probe()
        return self._tokenizer != "estimate"

    # -- what the server serves ------------------------------------------------------------
    def probe(self, *, refresh: bool = False) -> RemoteBackend:
        """Ask the server what it serves: check model and adapter names, learn the context
        length, the llama.cpp adapter ids and chat template, find its tokenize API. A few small
        requests, once; raises one clear line."""
        with self._lock:
            if refresh or not self._probed:
                self._probed = False
                self._probe()
                self._probed = True
        return self

    def _probe(self) -> None:
        info = discover(self.http, self.model, self.adapter_mode)
        self.server_kind, self.served_models, self.model = info.kind, info.models, info.model
        self.chat_template, self.bos_token, self.eos_token = (
            info.chat_template, info.bos_token, info.eos_token)
        self.lora_adapters = info.lora_adapters
        if info.n_ctx:
            self.n_ctx = min(self._n_ctx_cap, info.n_ctx)
        self._select(self._requested_adapter, self.adapter_scale)
        if self._tokenizer is None:
            self._tokenizer, self.bos_tokens = find_tokenizer(self.http, self.server_kind,
                                                              self.model)
            if self._tokenizer == "extras":
                self.server_kind = "llama-cpp-python"

    def set_adapter(self, adapter: str | int | None, scale: float = 1.0) -> None:
        """Choose the adapter for the next requests (None: plain base). No reload anywhere:
        with a server, switching is just a different request field. Re-reads the server's
        model and adapter lists, which may have changed since the last look."""
        self.probe(refresh=True)
        with self._lock:
            self._select(adapter, scale)

    def _select(self, adapter: str | int | None, scale: float) -> None:
        adapters.check_mode(adapter, self.adapter_mode)
        self._requested_adapter, self.adapter_scale = adapter, float(scale)
        self.adapter, self._lora_id = None, None
        if adapter is None:
            return
        if self.adapter_mode in ("vllm", "model"):
            name = str(adapter)
            adapters.check_served(name, self.served_models, self.label)
            self.adapter = name
        elif self.adapter_mode == "llamacpp":
            if self.lora_adapters is None:
                raise QConsoleError(
                    f"the model server at {self.label} has no /lora-adapters endpoint, so it "
                    "cannot switch LoRA per request (llama-cpp-python's server cannot: give the "
                    "adapter its own model alias and use adapter_mode = 'model')"
                )
            self._lora_id = adapters.lora_index(self.lora_adapters, adapter, self.label)
            self.adapter = adapter

    def load_adapter(self, name: str, folder: Path) -> None:
        """Serve the adapter in ``folder`` (a PEFT directory; its ``adapter.gguf`` for a
        llama.cpp server) under ``name`` and select it: loaded into a running vLLM server at
        runtime when it does not serve that name yet; a llama.cpp server cannot load files at
        runtime, so there it must have been started with the file (``--lora``)."""
        if self.adapter_mode == "none":
            raise QConsoleError(
                f"the pane on {self.label} has adapter_mode = 'none': set adapter_mode = "
                "'vllm' (a vLLM server loads new adapters at runtime) or 'llamacpp'"
            )
        self.probe(refresh=True)
        if self.adapter_mode in ("vllm", "model") and name not in self.served_models:
            if self.server_kind != "vllm":
                raise QConsoleError(
                    f"the model server at {self.label} ({self.server_kind}) serves no model "
                    f"named {name!r} and only vLLM loads adapters at runtime; add it to the "
                    "server's configuration and restart it"
                )
            load_lora_adapter(self.http, name, folder)
        self.set_adapter(name, self.adapter_scale)

    # -- tokens ----------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Exact, from the server's tokenizer (llama.cpp ``/tokenize``, vLLM ``/tokenize``,
        llama-cpp-python ``/extras/tokenize``), without the BOS a server may add. A server with
        none of these gets an estimate of one token per 3 UTF-8 bytes: real tokenizers average
        about 4 bytes per token on English, so the context fitter errs towards dropping a turn
        too many rather than overflowing (digit-heavy or CJK text can still exceed it)."""
        cached = self._tok_cache.get(text)
        if cached is not None:
            return cached
        self.probe()
        if self._tokenizer == "estimate":
            n = math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN_ESTIMATE)
        else:
            counted = tokenize(self.http, self._tokenizer or "", self.model, text) or 0
            n = max(0, counted - self.bos_tokens)
        self._tok_cache[text] = n
        if len(self._tok_cache) > 64:
            with contextlib.suppress(KeyError):  # another thread may have trimmed it
                self._tok_cache.popitem(last=False)
        return n

    # -- generation ------------------------------------------------------------------------
    def _request_model(self) -> str | None:
        """The ``model`` field: the adapter's name where the server selects adapters by it."""
        if self.adapter_mode in ("vllm", "model") and self.adapter is not None:
            return str(self.adapter)
        return self.model

    def _payload(self, prompt: str, settings: SamplingSettings, stop: Sequence[str]) -> dict:
        payload: dict[str, Any] = {
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "seed": settings.seed,
        }
        model = self._request_model()
        if model:
            payload["model"] = model
        if self.endpoint == "chat":
            payload["messages"] = [{"role": "user", "content": prompt}]
        else:
            payload["prompt"] = prompt
        if self.sampling_extras:  # as the local backend samples; OpenAI itself rejects these
            payload["top_k"] = settings.top_k if settings.temperature > 0 else 1
            payload["min_p"] = 0.0  # llama.cpp servers default to 0.05
            payload["repeat_penalty"] = settings.repeat_penalty  # llama.cpp names
            payload["repetition_penalty"] = settings.repeat_penalty  # vLLM names
        if self.server_stop and stop:
            payload["stop"] = list(stop)[:4]  # OpenAI accepts at most four
        lora = adapters.lora_field(self._lora_id, self.adapter_scale, self.lora_adapters)
        if lora is not None:
            payload["lora"] = lora
        return payload

    def stream(
        self,
        prompt: str,
        settings: SamplingSettings,
        *,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        """Yield the reply as text pieces; ``stats`` is filled in as it goes."""
        stats = stats if stats is not None else GenerationStats()
        start = time.perf_counter()
        url = self.url + ("/chat/completions" if self.endpoint == "chat" else "/completions")
        conn = self.http.connect(url)
        done = threading.Event()  # tells the cancel watcher that the reply is over
        try:
            self.probe()
            payload = self._payload(prompt, settings, stop)
            try:
                conn.connect()
            except OSError as exc:
                raise self.http.net_error(exc) from None
            if cancel is not None and conn.sock is not None:
                # started before the request: a server may send nothing, not even headers,
                # until it has read the whole prompt
                threading.Thread(
                    target=close_on_cancel, args=(cancel, done, conn.sock), daemon=True
                ).start()
            resp = self.http.exchange(conn, "POST", url, payload)
        except (HTTPStatusError, QConsoleError) as exc:
            done.set()
            conn.close()
            stats.elapsed_s = time.perf_counter() - start
            if cancel is not None and cancel.is_set():
                stats.finish_reason = "cancelled"
                return
            stats.finish_reason = "error"
            if isinstance(exc, HTTPStatusError):
                raise self._explain_status(exc) from None
            raise
        run = StreamRun(self, prompt, stop, stats, start, cancel)
        try:
            yield from run.read(resp)
        finally:
            done.set()
            conn.close()
            run.finish()

    def _explain_status(self, exc: HTTPStatusError) -> QConsoleError:
        text = str(exc.error)
        if exc.status in (400, 422) and self.sampling_extras and any(
            k in text for k in ("top_k", "min_p", "repeat_penalty", "repetition_penalty")
        ):
            return QConsoleError(text + " (set sampling_extras = false for this server)")
        return exc.error

    def complete(self, prompt: str, settings: SamplingSettings, *, stop: Sequence[str] = ()) -> str:
        return "".join(self.stream(prompt, settings, stop=stop))

    def close(self) -> None:
        """Nothing to free: every request has its own connection."""
