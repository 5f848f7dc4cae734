"""A pane backed by an OpenAI-compatible server (llama.cpp server, vLLM, llama-cpp-python's
server, a hosted provider) instead of llama.cpp in this process.

Why raw ``/v1/completions`` and not chat completions: qconsole drives base models with prompts
it renders itself (prompts.py), so both panes see byte-identical text whether local or remote.
``endpoint="chat"`` exists for providers that only offer chat; it sends that text as one user
message, which is only a fair comparison against another chat-endpoint pane.

Why the standard library (http.client, hand-parsed Server-Sent Events): no new dependency, and
we own the socket, so cancelling closes it at once, even while the server is still reading a
long prompt and has sent nothing yet.

Why stop strings are applied here and not sent to the server: a server reports
``finish_reason: "stop"`` both for its end-of-text token and for a stop string, and strips the
string, so the pane could not tell ``eos`` from ``stop`` the way the local backend does. Cutting
with StopStringFilter and closing the stream gives the same text and the same finish reasons
as the local pane; the server runs on for a token or two until it sees the closed connection.
``server_stop=True`` sends them too (saves those tokens on paid APIs; ``eos`` is then reported
as ``stop``).

Adapters, as each server selects them (see remote_config.py for the exact setups):
- ``adapter_mode="vllm"`` (alias ``"model"``): the adapter is served under its own model name
  (vLLM ``--lora-modules NAME=PATH``; llama-cpp-python: a model alias with ``lora_path`` in its
  ``--config_file``), so requests name it as ``model``.
- ``adapter_mode="llamacpp"``: the C++ llama.cpp server loads adapters at start
  (``--lora FILE``, listed by ``GET /lora-adapters`` with ids) and takes a per-request
  ``"lora": [{"id": N, "scale": S}]``; adapters not listed run at scale 0. An empty list means
  "use the server's global scales", so the base pane of a llama.cpp server that has adapters
  loaded sends every id with scale 0 to be sure it is the plain base.

API keys come from the environment variable the config names and are held in a wrapper whose
repr is ``<hidden>``; they go into the Authorization header and nowhere else, and any error text
a server echoes back is scrubbed of them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from qconsole.errors import QConsoleError
from qconsole.inference.llama_backend import GenerationStats
from qconsole.inference.stop_strings import StopStringFilter
from qconsole.sampling import SamplingSettings

ADAPTER_MODES = ("none", "vllm", "model", "llamacpp")
ENDPOINTS = ("completions", "chat")
BYTES_PER_TOKEN_ESTIMATE = 3  # see count_tokens
_NO_ROUTE = (400, 404, 405, 422, 501)  # "this server has no such endpoint"


class _Secret:
    """Holds an API key so that repr, str, vars() and tracebacks show ``<hidden>``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a worker or a cache
        raise TypeError("an API key is not to be pickled")


def split_api_url(url: str) -> tuple[str, str]:
    """(OpenAI API base ending in /v1 or as given, server root for /tokenize, /props...)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise QConsoleError(f"remote url must look like http://host:port/v1, not {url!r}")
    path = parts.path
    if not path:
        return url + "/v1", url
    tail = path.rsplit("/", 1)[-1]
    if tail[:1] == "v" and tail[1:].isdigit():
        return url, url[: len(url) - len(tail) - 1]
    return url, url


def iter_sse(readline) -> Iterator[str]:
    """The ``data`` of each Server-Sent Event read line by line (comments and pings skipped)."""
    data: list[str] = []
    while True:
        raw = readline()
        if not raw:
            break
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _server_message(body: bytes) -> str:
    """The human part of an error body: OpenAI, FastAPI, vLLM and llama.cpp shapes."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return _one_line(text) or "(no message)"
    for getter in (
        lambda d: d["error"]["message"],
        lambda d: d["error"],
        lambda d: d["detail"],
        lambda d: d["message"],
    ):
        try:
            value = getter(data)
        except (KeyError, TypeError):
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):  # FastAPI 422
            value = "; ".join(str(v.get("msg", v)) for v in value)
        if isinstance(value, str | list):
            return _one_line(value if isinstance(value, str) else str(value))
    return _one_line(text)


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
        self.url, self.root = split_api_url(url)
        parts = urlsplit(self.url)
        self.host = parts.netloc.rpartition("@")[2]  # never user:password from the url
        self.label = f"{parts.scheme}://{self.host}"
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
        self.api_key_env = api_key_env or None
        self._key: _Secret | None = None
        if self.api_key_env:
            value = os.environ.get(self.api_key_env, "").strip()
            if not value:
                raise QConsoleError(
                    f"the environment variable {self.api_key_env} (named by api_key_env) is not "
                    "set; export the API key there"
                )
            self._key = _Secret(value)
        # learned from the server by probe()
        self.server_kind = "unknown"  # llama.cpp | vllm | llama-cpp-python | unknown
        self.served_models: list[str] = []
        self.lora_adapters: list[dict] | None = None  # llama.cpp server's GET /lora-adapters
        self.chat_template: str | None = None  # llama.cpp server's /props, for template_for()
        self.bos_token: str | None = None
        self.eos_token: str | None = None
        self._lora_id: int | None = None
        self._probed = False
        self._lock = threading.Lock()
        self._tokenizer: str | None = None  # extras | llamacpp | vllm | estimate
        self._tok_base = 0
        self._tok_cache: OrderedDict[str, int] = OrderedDict()
        self._requested_adapter = adapter
        _check_mode(adapter, adapter_mode)

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

    # -- HTTP ------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        if self._key is not None and self._key.reveal():
            text = text.replace(self._key.reveal(), "<hidden>")
        return text

    def _connect(self, url: str) -> http.client.HTTPConnection:
        parts = urlsplit(url)
        if parts.scheme == "https":
            import ssl

            return http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout_s,
                context=ssl.create_default_context(),
            )
        return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout_s)

    def _net_error(self, exc: BaseException) -> QConsoleError:
        where = f"the model server at {self.label}"
        if isinstance(exc, TimeoutError):
            return QConsoleError(f"{where} did not answer within {self.timeout_s:g} s")
        if isinstance(exc, ConnectionRefusedError):
            return QConsoleError(f"cannot reach {where}: connection refused (is it running?)")
        if isinstance(exc, socket.gaierror):
            return QConsoleError(f"cannot reach {where}: unknown host")
        if isinstance(exc, http.client.HTTPException | ConnectionError):
            return QConsoleError(f"{where} closed the connection mid-reply ({type(exc).__name__})")
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return QConsoleError(f"cannot reach {where}: {self._scrub(_one_line(reason))}")

    def _http_error(self, status: int, path: str, body: bytes) -> QConsoleError:
        msg = self._scrub(_server_message(body))
        where = f"the model server at {self.label}"
        if status in (401, 403):
            hint = (
                f"check the key in ${self.api_key_env}" if self.api_key_env
                else "set api_key_env to the name of the variable that holds the key"
            )
            return QConsoleError(f"{where} refused the request (HTTP {status}): {msg}; {hint}")
        if status == 404:
            return QConsoleError(
                f"{where} answered HTTP 404 for {path}: {msg} (check the url and model name)"
            )
        return QConsoleError(f"{where} answered HTTP {status} for {path}: {msg}")

    def _open(
        self, method: str, url: str, payload: dict | None = None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request; return the open connection and a 2xx response, or raise one line."""
        conn = self._connect(url)
        return conn, self._exchange(conn, method, url, payload)

    def _exchange(
        self, conn: http.client.HTTPConnection, method: str, url: str, payload: dict | None
    ) -> http.client.HTTPResponse:
        headers = {"Accept": "application/json, text/event-stream"}
        if self._key is not None:
            headers["Authorization"] = "Bearer " + self._key.reveal()
        body = None
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        path = urlsplit(url).path or "/"
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise self._net_error(exc) from None
        if resp.status >= 300:
            try:
                err_body = resp.read(64_000)
            except (OSError, http.client.HTTPException):
                err_body = b""
            conn.close()
            raise _HTTPStatusError(resp.status, self._http_error(resp.status, path, err_body))
        return resp

    def _json(
        self, method: str, url: str, payload: dict | None = None, *, optional: object = False
    ):
        """GET/POST returning parsed JSON. ``optional=True``: None for a missing route;
        ``optional="any"``: None for any HTTP error (probing routes a provider may guard)."""
        try:
            conn, resp = self._open(method, url, payload)
        except _HTTPStatusError as exc:
            if optional == "any" or (optional and exc.status in _NO_ROUTE):
                return None
            raise exc.error from None
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise self._net_error(exc) from None
        finally:
            conn.close()
        try:
            return json.loads(raw)
        except ValueError:
            if optional:
                return None
            raise QConsoleError(
                f"the model server at {self.label} sent something other than JSON for "
                f"{urlsplit(url).path}"
            ) from None

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
        listing = self._json("GET", self.url + "/models", optional=True)
        entries = [e for e in (listing or {}).get("data", []) if isinstance(e, dict)]
        names: dict[str, dict] = {}
        for e in entries:
            for n in [e.get("id"), *(e.get("aliases") or [])]:
                if isinstance(n, str) and n:
                    names.setdefault(n, e)
        self.served_models = [e["id"] for e in entries if isinstance(e.get("id"), str)]
        owners = {e.get("owned_by") for e in entries}
        if "vllm" in owners or any("max_model_len" in e for e in entries):
            self.server_kind = "vllm"
        elif "llamacpp" in owners or any(isinstance(e.get("meta"), dict) for e in entries):
            self.server_kind = "llama.cpp"
        if self.model is None and entries:
            bases = [e for e in entries if not e.get("parent")] or entries
            self.model = bases[0].get("id")
        if names and self.model not in names:
            raise QConsoleError(
                f"the model server at {self.label} serves no model named {self.model!r} "
                f"(it serves: {', '.join(self.served_models)})"
            )
        entry = names.get(self.model or "", {})
        meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
        server_ctx = entry.get("max_model_len") or meta.get("n_ctx")
        if self.server_kind != "vllm":
            props = self._json("GET", self.root + "/props", optional="any")
            if isinstance(props, dict) and (props.get("default_generation_settings") or "n_ctx"
                                            in props):
                self.server_kind = "llama.cpp"
                gen = props.get("default_generation_settings") or {}
                server_ctx = server_ctx or gen.get("n_ctx") or props.get("n_ctx")
                self.chat_template = props.get("chat_template") or None
                self.bos_token = props.get("bos_token") or None
                self.eos_token = props.get("eos_token") or None
        server_ctx = server_ctx or meta.get("n_ctx_train")
        if isinstance(server_ctx, int) and server_ctx > 0:
            self.n_ctx = min(self._n_ctx_cap, server_ctx)
        if self.adapter_mode == "llamacpp" or self.server_kind == "llama.cpp":
            loras = self._json("GET", self.root + "/lora-adapters", optional="any")
            self.lora_adapters = loras if isinstance(loras, list) else None
        self._select(self._requested_adapter, self.adapter_scale)
        if self._tokenizer is None:
            self._find_tokenizer()

    def set_adapter(self, adapter: str | int | None, scale: float = 1.0) -> None:
        """Choose the adapter for the next requests (None: plain base). No reload anywhere:
        with a server, switching is just a different request field. Re-reads the server's
        model and adapter lists, which may have changed since the last look."""
        self.probe(refresh=True)
        with self._lock:
            self._select(adapter, scale)

    def _select(self, adapter: str | int | None, scale: float) -> None:
        _check_mode(adapter, self.adapter_mode)
        self._requested_adapter, self.adapter_scale = adapter, float(scale)
        self.adapter, self._lora_id = None, None
        if adapter is None:
            return
        if self.adapter_mode in ("vllm", "model"):
            name = str(adapter)
            if self.served_models and name not in self.served_models:
                raise QConsoleError(
                    f"the model server at {self.label} serves no adapter named {name!r} "
                    f"(it serves: {', '.join(self.served_models)}); load it at server start, "
                    "e.g. vLLM --lora-modules NAME=PATH"
                )
            self.adapter = name
        elif self.adapter_mode == "llamacpp":
            if self.lora_adapters is None:
                raise QConsoleError(
                    f"the model server at {self.label} has no /lora-adapters endpoint, so it "
                    "cannot switch LoRA per request (llama-cpp-python's server cannot: give the "
                    "adapter its own model alias and use adapter_mode = 'model')"
                )
            self._lora_id = self._lora_index(adapter)
            self.adapter = adapter

    def _lora_index(self, adapter: str | int) -> int:
        loras = self.lora_adapters or []
        if isinstance(adapter, int) or str(adapter).isdigit():
            i = int(adapter)
            if 0 <= i < len(loras):
                return i
        else:
            want = str(adapter)
            for i, entry in enumerate(loras):
                path = str(entry.get("path", ""))
                file = os.path.basename(path)
                stem = file.rsplit(".", 1)[0]
                folder = os.path.basename(os.path.dirname(path))
                if want in (path, file, stem, folder):
                    return int(entry.get("id", i))
        known = ", ".join(f"{e.get('id', i)}: {e.get('path')}" for i, e in enumerate(loras))
        raise QConsoleError(
            f"the llama.cpp server at {self.label} has no LoRA adapter {adapter!r} "
            f"(loaded: {known or 'none; start it with --lora FILE'})"
        )

    def _lora_field(self) -> list[dict] | None:
        if self._lora_id is not None:
            return [{"id": self._lora_id, "scale": self.adapter_scale}]
        if self.lora_adapters:  # adapters loaded on the server: make sure this is the base
            return [{"id": int(e.get("id", i)), "scale": 0.0}
                    for i, e in enumerate(self.lora_adapters)]
        return None

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
            n = max(0, (self._tokenize(self._tokenizer or "", text) or 0) - self._tok_base)
        self._tok_cache[text] = n
        if len(self._tok_cache) > 64:
            with contextlib.suppress(KeyError):  # another thread may have trimmed it
                self._tok_cache.popitem(last=False)
        return n

    def _tokenize(self, how: str, text: str, *, probing: bool = False) -> int | None:
        """Token count by one of the three tokenize APIs; None when probing finds none.
        Asks with the base's name: an adapter shares its tokenizer, and llama-cpp-python's
        server would reload a whole model to tokenize under another alias."""
        model = self.model
        if how == "extras":
            url, body = "/extras/tokenize", {"input": text, "model": model}
        elif how == "llamacpp":
            url, body = "/tokenize", {"content": text, "add_special": False}
        else:
            url, body = "/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}
        out = self._json("POST", self.root + url, body, optional="any" if probing else False)
        if isinstance(out, dict) and isinstance(out.get("tokens"), list):
            return len(out["tokens"])
        if probing:
            return None
        raise QConsoleError(f"the model server at {self.label} sent an odd {url} reply")

    def _find_tokenizer(self) -> None:
        """Which tokenize API this server has (part of probe)."""
        order = {"llama.cpp": ["llamacpp"], "vllm": ["vllm"]}.get(
            self.server_kind, ["extras", "llamacpp", "vllm"]
        )
        for how in order:
            base = self._tokenize(how, "", probing=True)  # the BOS a server may add
            if base is None:
                continue
            self._tok_base, self._tokenizer = base, how
            if how == "extras":
                self.server_kind = "llama-cpp-python"
            return
        self._tokenizer = "estimate"

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
        lora = self._lora_field()
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
        conn = self._connect(url)
        done = threading.Event()  # tells the cancel watcher that the reply is over
        try:
            self.probe()
            payload = self._payload(prompt, settings, stop)
            try:
                conn.connect()
            except OSError as exc:
                raise self._net_error(exc) from None
            if cancel is not None and conn.sock is not None:
                # started before the request: a server may send nothing, not even headers,
                # until it has read the whole prompt
                threading.Thread(
                    target=_close_on_cancel, args=(cancel, done, conn.sock), daemon=True
                ).start()
            resp = self._exchange(conn, "POST", url, payload)
        except (_HTTPStatusError, QConsoleError) as exc:
            done.set()
            conn.close()
            stats.elapsed_s = time.perf_counter() - start
            if cancel is not None and cancel.is_set():
                stats.finish_reason = "cancelled"
                return
            stats.finish_reason = "error"
            if isinstance(exc, _HTTPStatusError):
                raise self._explain_status(exc) from None
            raise
        run = _Run(self, prompt, stop, stats, start, cancel)
        try:
            yield from run.read(resp)
        finally:
            done.set()
            conn.close()
            run.finish()

    def _explain_status(self, exc: _HTTPStatusError) -> QConsoleError:
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


def _check_mode(adapter: str | int | None, mode: str) -> None:
    if adapter is not None and mode == "none":
        raise QConsoleError(
            "an adapter is set but adapter_mode is 'none': use 'vllm' or 'model' (the server "
            "serves the adapter under its own model name) or 'llamacpp' (per-request LoRA)"
        )


class _HTTPStatusError(Exception):
    def __init__(self, status: int, error: QConsoleError) -> None:
        super().__init__(str(error))
        self.status, self.error = status, error


def _close_on_cancel(cancel: threading.Event, done: threading.Event, sock: socket.socket) -> None:
    """Shut the socket when ``cancel`` is set, waking a read that waits on the server."""
    while not done.is_set():
        if cancel.wait(0.05):
            if not done.is_set():
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # not SSLSocket's override
            return


class _Run:
    """The state of one streamed reply: what arrived, and how it ended."""

    def __init__(self, backend: RemoteBackend, prompt: str, stop: Sequence[str],
                 stats: GenerationStats, start: float, cancel: threading.Event | None) -> None:
        self.b, self.prompt, self.stop, self.stats, self.start, self.cancel = (
            backend, prompt, stop, stats, start, cancel)
        self.stopper = StopStringFilter(stop)
        self.server_reason: str | None = None
        self.stop_reason: object = ...  # vLLM: None = end of text, str = stop string
        self.usage: dict | None = None
        self.chunks = 0
        self.ended = False  # [DONE] or a finish_reason arrived
        self.failed = False

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def read(self, resp: http.client.HTTPResponse) -> Iterator[str]:
        ctype = resp.getheader("Content-Type", "")
        try:
            if "text/event-stream" not in ctype:  # a server that ignored stream: true
                events: Iterator[str] = iter([resp.read().decode("utf-8", "replace")])
            else:
                events = iter_sse(resp.readline)
            for data in events:
                if self._cancelled():
                    return
                if data.strip() == "[DONE]":
                    self.ended = True
                    return
                out = self._event(data)
                if out:
                    yield out
                if self.stopper.stopped or self._cancelled():
                    return
            if not self.ended:
                raise self._ended_early()
            tail = self.stopper.flush()
            if tail:
                yield tail
        except (OSError, http.client.HTTPException) as exc:
            if self._cancelled():
                return
            self.failed = True
            raise self.b._net_error(exc) from None
        except QConsoleError:
            self.failed = True
            raise

    def _ended_early(self) -> QConsoleError:
        where = f"the model server at {self.b.label}"
        if self.chunks == 0:
            # llama-cpp-python's server fails a too-long prompt this way, after a 200
            size = ""
            with contextlib.suppress(QConsoleError):
                n = self.b.count_tokens(self.prompt)
                size = f" (the prompt has {n} tokens; the context holds {self.b.n_ctx})"
            return QConsoleError(f"{where} ended the stream without a reply{size}")
        return QConsoleError(f"{where} ended the stream before the reply was finished")

    def _event(self, data: str) -> str:
        try:
            event = json.loads(data)
        except ValueError:
            raise QConsoleError(
                f"malformed stream from the model server at {self.b.label}: "
                f"expected JSON, got {self.b._scrub(_one_line(data, 60))!r}"
            ) from None
        if not isinstance(event, dict):
            raise QConsoleError(f"malformed stream from the model server at {self.b.label}")
        if event.get("error"):
            msg = _server_message(json.dumps(event).encode())
            raise QConsoleError(
                f"the model server at {self.b.label} failed mid-reply: {self.b._scrub(msg)}"
            )
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        choices = event.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if self.stats.ttft_s is None:
            self.stats.ttft_s = time.perf_counter() - self.start
        text = choice.get("text")
        if text is None:
            text = (choice.get("delta") or choice.get("message") or {}).get("content")
        out = ""
        if text:
            self.chunks += 1
            self.stats.completion_tokens = self.chunks
            out = self.stopper.feed(text)
        self.stats.elapsed_s = time.perf_counter() - self.start
        if choice.get("finish_reason"):
            self.server_reason = str(choice["finish_reason"])
            self.stop_reason = choice.get("stop_reason", ...)
            self.ended = True
        return out

    def finish(self) -> None:
        stats = self.stats
        stats.elapsed_s = time.perf_counter() - self.start
        if self.usage and isinstance(self.usage.get("completion_tokens"), int) \
                and not self.stopper.stopped and not self._cancelled():
            stats.completion_tokens = self.usage["completion_tokens"]
        if self.usage and isinstance(self.usage.get("prompt_tokens"), int):
            stats.prompt_tokens = self.usage["prompt_tokens"]
        elif not self.failed:  # usually cached from ChatSide.plan: no extra request
            with contextlib.suppress(QConsoleError):  # plus the BOS, as the local backend counts
                stats.prompt_tokens = self.b.count_tokens(self.prompt) + self.b._tok_base
        if self.failed:
            stats.finish_reason = "error"
        elif self._cancelled():
            stats.finish_reason = "cancelled"
        elif self.stopper.stopped:
            stats.finish_reason = "stop"
        elif self.server_reason == "length":
            stats.finish_reason = "length"
        elif self.server_reason is not None:
            sent_stops = self.b.server_stop and any(self.stop)
            by_string = isinstance(self.stop_reason, str) or (
                self.stop_reason is ... and sent_stops)
            stats.finish_reason = "stop" if by_string else "eos"
        elif self.ended:
            stats.finish_reason = "eos"
        else:  # the stream stopped with no end marker: closed by the consumer, or broken
            stats.finish_reason = stats.finish_reason or "length"
