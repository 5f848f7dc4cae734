"""The shape of the package, checked where CI looks (pytest): the import-linter contracts in
pyproject.toml ([tool.importlinter]: layers, the core without Textual, the UI without torch and
friends, no circles between siblings), and no import circle between qconsole's modules
except the two known ones, which their owners are removing (issue 14.4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = [
    c["id"] for c in tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
]

# Each circle exactly as its modules: a circle that grows, shrinks or appears elsewhere fails
# test_no_import_circles_but_the_known_ones. Delete an entry when its owner has removed it
# (its xfail then passes, which strict=True turns into a failure that says so).
KNOWN_CIRCLES: dict[str, frozenset[str]] = {
    # none left: both circles of issue 14.4 are gone; a new one fails the test below
}

# `lint-imports`, run by the interpreter running the tests (wherever its scripts are)
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def _env() -> dict[str, str]:
    """This tree first on the path, so the graph is of this checkout's package."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.parametrize("contract", CONTRACTS)
def test_import_contract(contract):
    out = subprocess.run([sys.executable, "-c", LINT_IMPORTS, "--no-cache", "--no-logo",
                          "--contract", contract],
                         cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def import_circles() -> set[frozenset[str]]:
    """Strongly connected groups of qconsole modules (imports inside functions count; imports
    only for the type checker do not, as in the lint-imports config)."""
    code = (
        "import json, grimp\n"
        "g = grimp.build_graph('qconsole', cache_dir=None, exclude_type_checking_imports=True)\n"
        "print(json.dumps({m: sorted(g.find_modules_directly_imported_by(m))"
        " for m in g.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), check=True,
                         capture_output=True, text=True, timeout=120)
    return _strongly_connected(json.loads(out.stdout))


def _strongly_connected(edges: dict[str, list[str]]) -> set[frozenset[str]]:
    """Tarjan's algorithm, iterative; only groups of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: set[frozenset[str]] = set()
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges.get(root, [])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.add(frozenset(group))
    return groups


def test_strongly_connected_finds_circles_and_only_them():
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"], "f": ["a"]}
    assert _strongly_connected(edges) == {frozenset("abc"), frozenset("de")}
    assert _strongly_connected({"a": ["b"], "b": []}) == set()


@pytest.fixture(scope="module")
def circles() -> set[frozenset[str]]:
    return import_circles()


def test_no_import_circles_but_the_known_ones(circles):
    new = circles - set(KNOWN_CIRCLES.values())
    assert not new, "new import circle(s): " + "; ".join(" <-> ".join(sorted(c)) for c in new)


@pytest.mark.parametrize("name", sorted(KNOWN_CIRCLES))
@pytest.mark.xfail(strict=True, reason="a known circle, until its owner removes it (issue 14.4)")
def test_known_circle_is_gone(circles, name):
    assert KNOWN_CIRCLES[name] not in circles
