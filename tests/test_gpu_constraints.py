"""constraints/gpu.txt stays a resolution of this pyproject's `gpu` extra.

The file is generated (scripts/gpu_constraints.sh) and the CPU suite is run under it
(scripts/test_gpu_versions.sh). If someone edits pyproject's ranges without regenerating it,
GPU users would be told to install a set that pyproject no longer allows: these checks fail then.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints" / "gpu.txt"


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in CONSTRAINTS.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", line
        pins[_norm(req.name)] = Version(spec.version)
    return pins


def _requirements(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    raw = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(r) for r in raw]


def test_constraints_pin_every_library_qconsole_imports():
    pins = _pins()
    for name in ("torch", "transformers", "peft", "trl", "datasets", "accelerate",
                 "huggingface-hub", "tokenizers", "safetensors", "unsloth"):
        assert name in pins, f"{name} missing from {CONSTRAINTS.name}"


def test_what_the_cuda_torch_pins_itself_is_left_to_it():
    # The resolution runs with the CPU torch, which pins no triton; the CUDA torch 2.13.0 pins
    # triton==3.7.1, so a triton pin here (pip took 3.9.0) made the GPU install unsatisfiable.
    pins = _pins()
    assert "triton" not in pins
    assert not [name for name in pins if name.startswith("nvidia-")]


def test_constraints_carry_no_local_build_labels():
    # torch==2.13.0+cpu would stop a GPU box from taking the CUDA build of the same release.
    assert all(not v.local for v in _pins().values())


@pytest.mark.parametrize("extra", [None, "gpu"])
def test_pins_satisfy_pyproject_ranges(extra):
    pins = _pins()
    for req in _requirements(extra):
        pinned = pins.get(_norm(req.name))
        assert pinned is not None, f"{req.name} is not in {CONSTRAINTS.name}: regenerate it"
        assert req.specifier.contains(pinned, prereleases=True), (
            f"{req.name}=={pinned} in {CONSTRAINTS.name} is outside pyproject's {req}: "
            "run scripts/gpu_constraints.sh and scripts/test_gpu_versions.sh"
        )
