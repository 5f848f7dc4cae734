"""Check reasoning-gym's syllogism labels of a stored evaluation run against a model checker.

Why: before a syllogism score is reported, its labels must be right. Each item's two premises
and conclusion (All / No / Some / Some ... not, three terms) are checked over all 256 models of
the three terms' Venn regions, with existential import (every term non-empty, the traditional
reading) and without it (modern logic). Prints how many labels disagree under each reading and
the first few. Usage: python scripts/check_syllogism_labels.py RUN_DIR [SUITE]
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path

FORMS = (("somenot", r"Some (\w+) are not (\w+)"), ("all", r"All (\w+) are (\w+)"),
         ("no", r"No (\w+) are (\w+)"), ("some", r"Some (\w+) are (\w+)"))
ITEM = re.compile(r"1\. (.*)\n2\. (.*)\n\nDoes it logically follow that:\n(.*)\?")


def parse(s: str) -> tuple[str, str, str]:
    for q, rx in FORMS:
        m = re.fullmatch(rx, s.strip())
        if m:
            return q, m.group(1), m.group(2)
    raise ValueError(f"not a categorical statement: {s!r}")


def holds(st: tuple[str, str, str], model: tuple[int, ...], terms: list[str]) -> bool:
    q, x, y = st
    ix, iy = terms.index(x), terms.index(y)
    xs = [r for r in range(8) if model[r] and (r >> ix) & 1]
    if q == "all":
        return all((r >> iy) & 1 for r in xs)
    if q == "no":
        return not any((r >> iy) & 1 for r in xs)
    if q == "some":
        return any((r >> iy) & 1 for r in xs)
    return any(not (r >> iy) & 1 for r in xs)


def follows(premises: list[str], conclusion: str, *, existential: bool) -> bool:
    sts = [parse(p) for p in premises]
    goal = parse(conclusion)
    terms = sorted({t for s in [*sts, goal] for t in s[1:]})
    for model in itertools.product((0, 1), repeat=2 ** len(terms)):
        if existential and not all(any(model[r] for r in range(len(model)) if (r >> i) & 1)
                                   for i in range(len(terms))):
            continue
        if all(holds(s, model, terms) for s in sts) and not holds(goal, model, terms):
            return False
    return True


def main() -> None:
    run = Path(sys.argv[1])
    suite = sys.argv[2] if len(sys.argv) > 2 else "heldout-syllogism"
    rows = [json.loads(line) for line in (run / "items.jsonl").read_text().splitlines() if line]
    items = [r for r in rows if r["suite"] == suite]
    for existential in (True, False):
        wrong = []
        for r in items:
            m = ITEM.search(r["prompt"])
            if m is None:
                continue
            p1, p2, c = m.groups()
            label = "Yes" if follows([p1, p2], c, existential=existential) else "No"
            if label != str(r["reference"]):
                wrong.append((r["item_id"], p1, p2, c, r["reference"], r["adapter_correct"]))
        reading = "with existential import" if existential else "modern (no existential import)"
        print(f"{suite}: {len(wrong)} of {len(items)} labels disagree, {reading}")
        for w in wrong[:5]:
            print("  ", w)


if __name__ == "__main__":
    main()
