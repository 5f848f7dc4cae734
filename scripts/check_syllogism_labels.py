"""Check the syllogism labels of a stored evaluation run against the model checker.

Why: before a syllogism score is reported, its labels must be right; runs made before
qconsole dropped disagreeing items (qconsole.evaluation.syllogism_logic) carry reasoning-gym's
own. Prints, with and without existential import, how many labels disagree and the first few,
and each side's accuracy against the checked labels.
Usage: PYTHONPATH=. python scripts/check_syllogism_labels.py RUN_DIR [SUITE]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from qconsole.evaluation.syllogism_logic import follows

ITEM = re.compile(r"1\. (.*)\n2\. (.*)\n\nDoes it logically follow that:\n(.*)\?")


def main() -> None:
    if len(sys.argv) < 2 or not (Path(sys.argv[1]) / "items.jsonl").is_file():
        sys.exit("usage: check_syllogism_labels.py RUN_DIR [SUITE] (RUN_DIR holds items.jsonl)")
    run = Path(sys.argv[1])
    suite = sys.argv[2] if len(sys.argv) > 2 else "heldout-syllogism"
    rows = [json.loads(line) for line in (run / "items.jsonl").read_text().splitlines() if line]
    items = [(r, ITEM.search(r["prompt"])) for r in rows if r["suite"] == suite]
    for existential in (True, False):
        wrong, right = [], {"base": 0, "adapter": 0}
        for r, m in items:
            if m is None:
                continue
            p1, p2, c = m.groups()
            label = "yes" if follows([p1, p2], c, existential=existential) else "no"
            for side in right:
                right[side] += str((r["meta"].get(side) or {}).get("answer")).lower() == label
            if label != str(r["reference"]).lower():
                wrong.append((r["item_id"], p1, p2, c, r["reference"]))
        reading = "with existential import" if existential else "modern (no existential import)"
        print(f"{suite}, {reading}: {len(wrong)} of {len(items)} labels disagree; against the "
              f"checked labels base {right['base']}/{len(items)}, adapter "
              f"{right['adapter']}/{len(items)}")
        for w in wrong[:5]:
            print("  ", w)


if __name__ == "__main__":
    main()
