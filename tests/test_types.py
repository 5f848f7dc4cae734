"""mypy on the package, as `make lint` runs it ([tool.mypy] in pyproject.toml), so that CI's
pytest catches a type regression too. Slow-marked (a minute or two on a cold cache; the cache
is .mypy_cache/ in the checkout, so a second run takes seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.typecheck
def test_mypy_finds_no_errors_in_the_package():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    out = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(REPO / ".mypy_cache")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
