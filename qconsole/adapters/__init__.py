"""LoRA adapters: a registry of PEFT directories, their GGUF form for llama.cpp, and a check that
both engines apply them alike.

An adapter is what PEFT and Unsloth write (``adapter_config.json`` plus
``adapter_model.safetensors``), optionally with ``qconsole_adapter.json`` saying where it came
from. Nothing here imports torch, transformers or Textual at module scope: listing adapters is
instant, and only conversion and verification pay for the heavy libraries.
"""

from qconsole.adapters.metadata import AdapterMeta, hash_records
from qconsole.adapters.registry import (
    AdapterEntry,
    get_adapter,
    install_adapter,
    list_adapters,
    load_entry,
    sanitize_name,
)

__all__ = [
    "AdapterEntry",
    "AdapterMeta",
    "get_adapter",
    "hash_records",
    "install_adapter",
    "list_adapters",
    "load_entry",
    "sanitize_name",
]
