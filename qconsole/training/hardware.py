"""What this machine can train with: bf16 on the CPU, a CUDA GPU, Unsloth; and how to share it.

bf16 autocast only pays where the CPU has bf16 instructions (AVX512-BF16, AMX, Arm BF16);
elsewhere it is emulated and slower than fp32, so "auto" turns it on only then. Unsloth is
looked up without importing it: importing it without a GPU raises.

Sharing the CPU: training runs beside the chat (llama.cpp threads) and, on a shared machine,
beside other work. PyTorch's OpenMP threads spin while they wait for each other; when a core is
taken by someone else, every barrier waits for a descheduled thread. Measured here (2 cores,
load 5, Gemma 3 270M, one 344-token step): 2 threads 30 to 88 s a step with spinning, 1.4 s
with ``OMP_WAIT_POLICY=PASSIVE`` (1 thread: 1.8 s either way). So training processes set it
before torch loads.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def cpu_supports_bf16() -> bool:
    """True where oneDNN (or the CPU flags torch reads) report native bf16 arithmetic."""
    import torch

    with_mkldnn = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        if with_mkldnn is not None and with_mkldnn():
            return True
    except Exception:  # pragma: no cover - op missing in some builds
        pass
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(torch.cpu, name, None)
        try:
            if fn is not None and fn():
                return True
        except Exception:  # pragma: no cover
            continue
    return False


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - hard dependency
        return False
    return bool(torch.cuda.is_available())


def cuda_device_count() -> int:
    """CUDA GPUs visible to this process (0 without torch's CUDA build)."""
    if not cuda_available():
        return 0
    import torch

    return int(torch.cuda.device_count())


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def use_bf16(choice: str, device: str = "cpu") -> bool:
    """Resolve the ``bf16`` setting (auto/on/off) for ``device``."""
    if choice == "off":
        return False
    if choice == "on":
        return True
    if device.startswith("cuda"):
        import torch

        return bool(torch.cuda.is_bf16_supported())
    return cpu_supports_bf16()


def passive_openmp() -> None:
    """Make OpenMP threads sleep instead of spin while waiting (see the module docstring).

    Only effective before torch is imported in this process; a no-op afterwards, and never
    overrides a value the person set.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
