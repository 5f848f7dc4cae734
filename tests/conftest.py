"""Shared fixtures. Every test runs with its own workspace and config dir (so nothing touches
the user's sessions, adapters, config or state), but shares the model cache: the embedded
model is assembled once per machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import adapters, servers

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data/benchmarks beside the checkout; QCONSOLE_TEST_BENCHMARK_DATA for a worktree
# that has no shared/ beside it
BENCHMARK_DATA = Path(os.environ.get("QCONSOLE_TEST_BENCHMARK_DATA")
                      or ROOT.parent / "shared" / "data" / "benchmarks")


@pytest.fixture(autouse=True)
def isolated_workspace(tmp_path, monkeypatch):
    ws = tmp_path / "workspace"
    ws.mkdir()
    monkeypatch.setenv("QCONSOLE_WORKSPACE", str(ws))
    monkeypatch.setenv("QCONSOLE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("QCONSOLE_SESSIONS", raising=False)
    monkeypatch.delenv("QCONSOLE_ADAPTERS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return ws


@pytest.fixture(scope="session")
def embedded_model_path() -> Path:
    from qconsole.models.embedded import embedded_model_path

    return embedded_model_path()


@pytest.fixture(scope="session")
def backend(embedded_model_path):
    """One real llama.cpp model for the whole session (loading costs about a second)."""
    from qconsole.inference.llama_backend import LlamaBackend

    b = LlamaBackend(embedded_model_path, n_ctx=2048)
    yield b
    b.close()


@pytest.fixture(scope="session")
def benchmark_data() -> Path:
    if not BENCHMARK_DATA.is_dir():
        pytest.skip(f"benchmark data not found at {BENCHMARK_DATA}")
    return BENCHMARK_DATA


# Adapter makers (tests/helpers/adapters.py): fixtures so that no test module imports another.
# Session-scoped because they are plain functions; module-scoped fixtures may use them too.


@pytest.fixture(scope="session")
def hf_base():
    """(model, tokenizer) of the embedded base in transformers fp32, loaded once per process."""
    return adapters.hf_base()


@pytest.fixture(scope="session")
def make_peft_adapter():
    return adapters.make_peft_adapter


@pytest.fixture(scope="session")
def write_fake_adapter():
    return adapters.write_fake_adapter


@pytest.fixture(scope="session")
def write_numpy_adapter():
    return adapters.write_numpy_adapter


@pytest.fixture(scope="session")
def rewrite_gguf_lora():
    return adapters.rewrite_gguf_lora


@pytest.fixture(scope="session")
def write_tiny_gguf_base():
    return adapters.write_tiny_gguf_base


@pytest.fixture(scope="session")
def tiny_hf_model():
    return adapters.tiny_hf_model


@pytest.fixture(scope="session")
def llama_server():
    """``llama_server(args, port, log)``: a context manager running a real
    ``python -m llama_cpp.server`` on loopback, yielding its /v1 URL (skips without the server
    extras)."""
    return servers.llama_server


# Stored evaluation runs and cycle ledgers counted by hand (tests/helpers/cycles.py), for the
# cycle tests and the console's cycles screen; imported when used (they import the cycle code).


@pytest.fixture(scope="session")
def held_out_items():
    from tests.helpers import cycles

    return cycles.held_out_items


@pytest.fixture(scope="session")
def stored_run():
    from tests.helpers import cycles

    return cycles.stored_run


@pytest.fixture(scope="session")
def ledger_with_cycles():
    """A finished cycle ledger over hand-made stored runs."""
    from tests.helpers import cycles

    return cycles.ledger_with_cycles
