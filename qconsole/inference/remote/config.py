"""The ``[remote.left]`` / ``[remote.right]`` tables of the config, checked and turned into a
RemoteBackend.

Why here and not in qconsole/config.py: that only merges TOML files; what a remote table may say,
and what each adapter_mode needs from the server, belongs beside the backend that uses it. A
typo or a key pasted into the file is refused with one line, before any request is made.

Example ``qconsole.toml``::

    [remote.right]                       # the right pane runs on a server
    url = "http://127.0.0.1:8080/v1"
    model = "gemma-3-270m"               # optional: the server's first model
    adapter = "my-adapter"               # optional
    adapter_mode = "llamacpp"            # none | vllm | model | llamacpp
    api_key_env = "OPENAI_API_KEY"       # the NAME of the variable; never the key

How each server must be started for its adapter_mode:

- llama.cpp ``llama-server -m base.gguf --lora adapters/NAME/adapter.gguf
  --lora-init-without-apply``: ``adapter_mode = "llamacpp"``, ``adapter`` = the file's folder
  name, file name or stem, or its id in ``GET /lora-adapters``; ``adapter_scale`` sets the
  per-request scale.
- vLLM ``vllm serve BASE --enable-lora --lora-modules NAME=PEFT_DIR``: ``adapter_mode =
  "vllm"``, ``adapter = "NAME"`` (vLLM takes the PEFT folder itself, no GGUF).
- llama-cpp-python ``python -m llama_cpp.server --config_file cfg.json`` with two entries in
  ``models``, one ``model_alias`` plain and one with ``lora_path``: ``adapter_mode = "model"``,
  ``adapter`` = the second alias. That server keeps one model in memory and reloads it on every
  alias change (about a second here), so for two panes run two servers, one of them started
  with ``--lora_path``, and point each pane at its own with ``adapter_mode = "none"``. It does
  not report its context size either: set ``n_ctx`` here to its ``--n_ctx``.

``n_ctx`` is a cap: where the server reports its context (llama.cpp, vLLM) the smaller of the
two is used, as the local backend caps at the model's trained length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from qconsole.errors import QConsoleError
from qconsole.inference.remote.adapters import ADAPTER_MODES
from qconsole.inference.remote.backend import ENDPOINTS, RemoteBackend

SIDES = ("left", "right")
_SECRET_KEYS = {"api_key", "key", "token", "apikey", "api-key", "authorization", "bearer"}


@dataclass(frozen=True)
class RemoteSpec:
    """One pane's server, as the config describes it."""

    url: str
    model: str | None = None
    adapter: str | int | None = None
    adapter_mode: str = "none"
    adapter_scale: float = 1.0
    api_key_env: str | None = None
    n_ctx: int = 4096
    timeout_s: float = 60.0
    endpoint: str = "completions"
    sampling_extras: bool = True
    server_stop: bool = False

    def open(self) -> RemoteBackend:
        """Build the backend and ask the server what it serves (raises one clear line)."""
        return RemoteBackend(
            self.url,
            self.model,
            api_key_env=self.api_key_env,
            adapter=self.adapter,
            adapter_mode=self.adapter_mode,
            adapter_scale=self.adapter_scale,
            n_ctx=self.n_ctx,
            timeout_s=self.timeout_s,
            endpoint=self.endpoint,
            sampling_extras=self.sampling_extras,
            server_stop=self.server_stop,
        ).probe()


_TYPES: dict[str, tuple[type, ...]] = {
    "url": (str,),
    "model": (str,),
    "adapter": (str, int),
    "adapter_mode": (str,),
    "adapter_scale": (int, float),
    "api_key_env": (str,),
    "n_ctx": (int,),
    "timeout_s": (int, float),
    "endpoint": (str,),
    "sampling_extras": (bool,),
    "server_stop": (bool,),
}


def parse_remote_spec(table: Mapping, *, where: str = "[remote]") -> RemoteSpec:
    """Check one remote table; every mistake is one line naming the table and the key."""
    if not isinstance(table, Mapping):
        raise QConsoleError(f"{where} must be a table with at least url = \"http://host:port/v1\"")
    known = {f.name for f in fields(RemoteSpec)}
    for key in table:
        if str(key).lower() in _SECRET_KEYS:
            # never echo the value: it is probably the key itself
            raise QConsoleError(
                f"{where} must not hold an API key ({key} = ...): remove it, put the key in an "
                "environment variable and name that variable with api_key_env"
            )
        if key not in known:
            raise QConsoleError(
                f"unknown key {key!r} in {where}; known keys: {', '.join(sorted(known))}"
            )
        types = _TYPES[key]
        value = table[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise QConsoleError(f"{where} {key} must be a {names}")
    if "url" not in table:
        raise QConsoleError(f"{where} needs url = \"http://host:port/v1\"")
    mode = table.get("adapter_mode", "none")
    if mode not in ADAPTER_MODES:
        raise QConsoleError(f"{where} adapter_mode must be one of {', '.join(ADAPTER_MODES)}")
    if table.get("endpoint", "completions") not in ENDPOINTS:
        raise QConsoleError(f"{where} endpoint must be one of {', '.join(ENDPOINTS)}")
    if table.get("adapter") is not None and mode == "none":
        raise QConsoleError(f"{where} sets adapter but not adapter_mode (vllm, model, llamacpp)")
    return RemoteSpec(**{k: table[k] for k in table})


def remote_spec_for(remote: Mapping[str, object], side: str) -> RemoteSpec | None:
    """The spec for ``side`` from ``Config.remote``, or None when that pane runs locally."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}")
    unknown = [k for k in remote if k not in SIDES]
    if unknown:
        raise QConsoleError(
            f"unknown table [remote.{unknown[0]}]; use [remote.left] or [remote.right]"
        )
    table = remote.get(side)
    if table is None:
        return None
    return parse_remote_spec(table, where=f"[remote.{side}]")  # type: ignore[arg-type]
