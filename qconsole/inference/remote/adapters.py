"""How each server kind selects an adapter for a request.

- ``adapter_mode="vllm"`` (alias ``"model"``): the adapter is served under its own model name
  (vLLM ``--lora-modules NAME=PATH`` or loaded at runtime, see runtime_lora.py;
  llama-cpp-python: a model alias with ``lora_path`` in its ``--config_file``), so requests
  name it as ``model``.
- ``adapter_mode="llamacpp"``: the C++ llama.cpp server loads adapters at start
  (``--lora FILE``, listed by ``GET /lora-adapters`` with ids) and takes a per-request
  ``"lora": [{"id": N, "scale": S}]``; adapters not listed run at scale 0. An empty list means
  "use the server's global scales", so the base pane of a llama.cpp server that has adapters
  loaded sends every id with scale 0 to be sure it is the plain base.
"""

from __future__ import annotations

import os

from qconsole.errors import QConsoleError

ADAPTER_MODES = ("none", "vllm", "model", "llamacpp")


def check_mode(adapter: str | int | None, mode: str) -> None:
    if adapter is not None and mode == "none":
        raise QConsoleError(
            "an adapter is set but adapter_mode is 'none': use 'vllm' or 'model' (the server "
            "serves the adapter under its own model name) or 'llamacpp' (per-request LoRA)"
        )


def check_served(name: str, served: list[str], label: str) -> None:
    """A by-name adapter must be among the server's models."""
    if served and name not in served:
        raise QConsoleError(
            f"the model server at {label} serves no adapter named {name!r} "
            f"(it serves: {', '.join(served)}); load it at server start, "
            "e.g. vLLM --lora-modules NAME=PATH, or at runtime (qconsole loads a freshly "
            "trained adapter itself when the server allows it)"
        )


def lora_index(loras: list[dict], adapter: str | int, label: str) -> int:
    """The llama.cpp server's id for ``adapter``: an id, or the file's path, name, stem or
    folder name as ``GET /lora-adapters`` lists it."""
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
        f"the llama.cpp server at {label} has no LoRA adapter {adapter!r} "
        f"(loaded: {known or 'none; start it with --lora FILE'})"
    )


def lora_field(lora_id: int | None, scale: float, loras: list[dict] | None) -> list[dict] | None:
    """The per-request ``lora`` list for a llama.cpp server (None: send no field)."""
    if lora_id is not None:
        return [{"id": lora_id, "scale": scale}]
    if loras:  # adapters loaded on the server: make sure this is the base
        return [{"id": int(e.get("id", i)), "scale": 0.0} for i, e in enumerate(loras)]
    return None
