"""Does a categorical conclusion follow from categorical premises? A model checker.

Why: reasoning-gym's ``syllogism`` labels some invalid forms "Yes": 7 of 80 held-out items of
the growth proof (seed 5000, invalid_ratio 0.5), e.g. "All A are B; some B are C; so some A
are C" (the undistributed middle). Training corrections come from the same generator, so an
adapter learns the wrong labels and the score rewards it. Each item is checked here instead,
over every model of its terms (each region of their Venn diagram empty or not), and kept only
where the label agrees (``gym_suites.label_is_trustworthy``).

Statements: "All X are Y", "No X are Y", "Some X are Y", "Some X are not Y". The reading is the
traditional one, with existential import (every term names something): the generator marks
"All A are B; all B are C; so some A are C" valid, which holds only under it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

_FORMS = (("some-not", re.compile(r"Some (.+?) are not (.+)")),
          ("all", re.compile(r"All (.+?) are (.+)")),
          ("no", re.compile(r"No (.+?) are (.+)")),
          ("some", re.compile(r"Some (.+?) are (.+)")))

Statement = tuple[str, str, str]  # (quantifier, subject, predicate)


def parse_statement(text: str) -> Statement:
    """("all" | "no" | "some" | "some-not", subject, predicate); ValueError otherwise."""
    s = text.strip().rstrip(".?")
    for quantifier, rx in _FORMS:
        m = rx.fullmatch(s)
        if m:
            return quantifier, m.group(1).strip(), m.group(2).strip()
    raise ValueError(f"not a categorical statement: {text!r}")


def _holds(st: Statement, regions: Sequence[int], terms: Sequence[str]) -> bool:
    """``regions``: the non-empty Venn regions, each a bit mask of the terms it lies inside."""
    q, x, y = st
    bx, by = 1 << terms.index(x), 1 << terms.index(y)
    xs = [r for r in regions if r & bx]
    if q == "all":
        return all(r & by for r in xs)
    if q == "no":
        return not any(r & by for r in xs)
    if q == "some":
        return any(r & by for r in xs)
    return any(not r & by for r in xs)


def follows(premises: Sequence[str], conclusion: str, *, existential: bool = True) -> bool:
    """True when every model of the premises satisfies the conclusion (ValueError for a
    statement that is not categorical)."""
    statements = [parse_statement(p) for p in premises]
    goal = parse_statement(conclusion)
    terms = sorted({t for s in [*statements, goal] for t in s[1:]})
    if len(terms) > 4:
        raise ValueError(f"too many terms for a syllogism: {terms}")
    n = len(terms)
    for filled in itertools.product((False, True), repeat=2 ** n):
        regions = [r for r in range(2 ** n) if filled[r]]
        if existential and not all(any(r & (1 << i) for r in regions) for i in range(n)):
            continue
        if all(_holds(s, regions, terms) for s in statements) and not _holds(goal, regions,
                                                                             terms):
            return False
    return True
