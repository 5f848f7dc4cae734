"""The tests are laid out like the code (tests/<package>/ mirrors qconsole/<package>/) and share
code only through fixtures: a test module imports neither another test module nor
tests.helpers (that package is for conftest.py files, which hand it out as fixtures)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "qconsole"


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_no_test_module_imports_another_test_module_or_the_helpers():
    sibling_names = {p.stem for p in TESTS.rglob("*.py")}
    offenders = []
    for path in sorted(TESTS.rglob("test_*.py")):
        for name in _imported(path):
            if name.startswith(("tests", ".")) or name in sibling_names:
                offenders.append(f"{path.relative_to(TESTS)} imports {name}")
    assert not offenders, "use a fixture from conftest.py instead:\n" + "\n".join(offenders)


def test_test_folders_mirror_packages():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders - {"helpers"} <= packages, folders - packages - {"helpers"}
