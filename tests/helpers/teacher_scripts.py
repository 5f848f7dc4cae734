"""A small rule-checked diagnostic script for the console's teacher tests (the
``probe_script`` fixture of tests/ui/conftest.py): rule checks only, so the teacher model is
never loaded and the suggestions depend only on the scripted replies."""

from __future__ import annotations

from pathlib import Path

PROBE = """\
name: probe
title: Two rule-checked turns
goal: see whether sums and primes hold
turns:
  - id: sum
    say: "What is 2 + 2? Answer with the number."
    step: generalise
    checks:
      - check: number
        answer: "4"
  - id: prime
    say: "Name one prime number in words."
    checks:
      - check: mentions_any
        words: [two, three, five, seven]
        kind: forgot_context
        reason: no prime named
"""


def write_probe(workspace: Path) -> Path:
    """The script as the person's own, in ``<workspace>/teacher/scripts/probe.yaml``."""
    folder = workspace / "teacher" / "scripts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "probe.yaml"
    path.write_text(PROBE, encoding="utf-8")
    return path
