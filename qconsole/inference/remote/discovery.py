"""What a server is and serves, learned from a few small requests: its kind (llama.cpp,
vLLM, llama-cpp-python), its model names and aliases, its context length, the llama.cpp
server's adapter list and chat template, and which of the three tokenize APIs it has.

Why by probing and not by a config key: the same OpenAI-compatible URL can be any of them, and
each differs in how adapters are selected and tokens counted; asking is cheap and done once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.inference.remote.transport import Transport


@dataclass
class ServerInfo:
    """The answers of one probe."""

    kind: str = "unknown"  # llama.cpp | vllm | llama-cpp-python | unknown
    models: list[str] = field(default_factory=list)  # served ids (bases and adapters)
    model: str | None = None  # the base the pane uses
    n_ctx: int | None = None  # the context the server reports for that model
    chat_template: str | None = None  # llama.cpp server's /props, for template_for()
    bos_token: str | None = None
    eos_token: str | None = None
    lora_adapters: list[dict] | None = None  # llama.cpp server's GET /lora-adapters


def discover(http: Transport, model: str | None, adapter_mode: str) -> ServerInfo:
    """Probe ``GET /v1/models``, llama.cpp's ``/props`` and ``/lora-adapters``; check that
    ``model`` is served (None: the server's first base model). Raises one clear line."""
    info = ServerInfo(model=model)
    listing = http.json("GET", http.url + "/models", optional=True)
    entries = [e for e in (listing or {}).get("data", []) if isinstance(e, dict)]
    names: dict[str, dict] = {}
    for e in entries:
        for n in [e.get("id"), *(e.get("aliases") or [])]:
            if isinstance(n, str) and n:
                names.setdefault(n, e)
    info.models = [e["id"] for e in entries if isinstance(e.get("id"), str)]
    owners = {e.get("owned_by") for e in entries}
    if "vllm" in owners or any("max_model_len" in e for e in entries):
        info.kind = "vllm"
    elif "llamacpp" in owners or any(isinstance(e.get("meta"), dict) for e in entries):
        info.kind = "llama.cpp"
    if info.model is None and entries:
        bases = [e for e in entries if not e.get("parent")] or entries
        info.model = bases[0].get("id")
    if names and info.model not in names:
        raise QConsoleError(
            f"the model server at {http.label} serves no model named {info.model!r} "
            f"(it serves: {', '.join(info.models)})"
        )
    entry = names.get(info.model or "", {})
    entry_meta = entry.get("meta")
    meta: dict[str, Any] = entry_meta if isinstance(entry_meta, dict) else {}
    server_ctx = entry.get("max_model_len") or meta.get("n_ctx")
    if info.kind != "vllm":
        props = http.json("GET", http.root + "/props", optional="any")
        if isinstance(props, dict) and (props.get("default_generation_settings")
                                        or "n_ctx" in props):
            info.kind = "llama.cpp"
            gen = props.get("default_generation_settings") or {}
            server_ctx = server_ctx or gen.get("n_ctx") or props.get("n_ctx")
            info.chat_template = props.get("chat_template") or None
            info.bos_token = props.get("bos_token") or None
            info.eos_token = props.get("eos_token") or None
    server_ctx = server_ctx or meta.get("n_ctx_train")
    if isinstance(server_ctx, int) and server_ctx > 0:
        info.n_ctx = server_ctx
    if adapter_mode == "llamacpp" or info.kind == "llama.cpp":
        loras = http.json("GET", http.root + "/lora-adapters", optional="any")
        info.lora_adapters = loras if isinstance(loras, list) else None
    return info


def tokenize(http: Transport, how: str, model: str | None, text: str, *,
             probing: bool = False) -> int | None:
    """Token count by one of the three tokenize APIs; None when probing finds none.
    Asks with the base's name: an adapter shares its tokenizer, and llama-cpp-python's
    server would reload a whole model to tokenize under another alias."""
    body: dict[str, Any]
    if how == "extras":
        url, body = "/extras/tokenize", {"input": text, "model": model}
    elif how == "llamacpp":
        url, body = "/tokenize", {"content": text, "add_special": False}
    else:
        url, body = "/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}
    out = http.json("POST", http.root + url, body, optional="any" if probing else False)
    if isinstance(out, dict) and isinstance(out.get("tokens"), list):
        return len(out["tokens"])
    if probing:
        return None
    raise QConsoleError(f"the model server at {http.label} sent an odd {url} reply")


def find_tokenizer(http: Transport, kind: str, model: str | None) -> tuple[str, int]:
    """(which tokenize API this server has, tokens it adds to an empty text, i.e. its BOS);
    ``("estimate", 0)`` when it has none. ``"extras"`` means llama-cpp-python's server."""
    order = {"llama.cpp": ["llamacpp"], "vllm": ["vllm"]}.get(kind, ["extras", "llamacpp", "vllm"])
    for how in order:
        base = tokenize(http, how, model, "", probing=True)
        if base is not None:
            return how, base
    return "estimate", 0
