"""Per test file: which version-sensitive libraries its tests reached, from the log the
sitecustomize.py beside this file writes (scripts/version_sensitive_tests.sh runs both).

Prints the test files that ran and none of whose tests reached one (the candidates for .ci/run's
``--ignore`` list of the second run), then the files that did, with the libraries."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path


def main(log: str, tests_root: str = "tests") -> int:
    hits: dict[str, set[str]] = defaultdict(set)
    ran: set[str] = set()
    for line in Path(log).read_text().splitlines():
        test, lib, _who, _pid = line.split("\t")
        where = test.split("::")[0] if test != "-" else "(collection)"
        if lib == "(ran)":
            ran.add(where)
        else:
            hits[where].add(lib)
    files = sorted(f for f in ran if f.startswith(tests_root))
    print("# ran, and no version-sensitive library reached:")
    for f in files:
        if f not in hits:
            print(f)
    print("# reached:")
    for f in sorted(hits):
        print(f"{f}\t{' '.join(sorted(hits[f]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
