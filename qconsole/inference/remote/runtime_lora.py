"""Loading a freshly trained adapter into a running vLLM server, so the pane answers with it
without a restart: ``POST /v1/load_lora_adapter {"lora_name", "lora_path"}``, after which the
adapter is served as a model of that name (selected as in adapters.py).

vLLM registers that route only when the server was started with
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` in its environment (and LoRA only with
``--enable-lora``); otherwise the route is missing and the person is told exactly how to start
it. ``lora_path`` is a path on the server's machine: qconsole and vLLM must share the adapters
folder (the same machine, as on a GPU box reached over SSH, or a shared mount).
"""

from __future__ import annotations

from pathlib import Path

from qconsole.errors import QConsoleError
from qconsole.inference.remote.transport import HTTPStatusError, Transport

LOAD_ROUTE = "/load_lora_adapter"


def not_allowed(label: str) -> QConsoleError:
    return QConsoleError(
        f"the vLLM server at {label} does not allow loading adapters at runtime: start it with "
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True in its environment and --enable-lora (or name "
        "the adapter at start with --lora-modules NAME=PATH)"
    )


def load_lora_adapter(http: Transport, name: str, folder: Path) -> None:
    """Load the PEFT adapter ``folder`` under model name ``name``. Raises one clear line.
    (Registry names are never reused, so a served name always means the same weights.)"""
    payload = {"lora_name": name, "lora_path": str(Path(folder).resolve())}
    try:
        conn, _ = http.open("POST", http.url + LOAD_ROUTE, payload)
    except HTTPStatusError as exc:
        if exc.status in (404, 405):
            raise not_allowed(http.label) from None
        text = str(exc.error)
        if "lora" in text.lower() and "not enabled" in text.lower():
            raise QConsoleError(text + " (start vLLM with --enable-lora)") from None
        raise QConsoleError(f"{text} (loading adapter {name} from {folder})") from None
    conn.close()

