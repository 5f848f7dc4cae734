"""Teacher quality on a fixed labelled set of failing replies of the embedded model.

For each item (tests/data/teacher/failing_replies.yaml): the teacher names the failure kind
and drafts a LEMA correction; the kind is compared with the hand label, the draft is run
through the item's checks, and the person's time is simulated (typing the correct reply at
5 characters/s against waiting for the draft and accepting or editing it). The reference in
the same run: the rule checks' own kind proposal, and typing from scratch.

    .venv/bin/python benchmarks/teacher.py [--teacher smollm2|SPEC|URL] [--model NAME]
        [--items FILE] [--out records.jsonl]

Prints ``kind agreement N%``, ``draft pass N%`` and ``seconds per correction: accept X,
type Y``; per-item records go to --out for reading by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ITEMS = ROOT / "tests" / "data" / "teacher" / "failing_replies.yaml"


def main(argv: list[str] | None = None) -> int:
    from qconsole.errors import QConsoleError
    from qconsole.teacher.config import TeacherSpec, teacher_spec_from_config
    from qconsole.teacher.controller import TeacherController
    from qconsole.teacher.model import open_teacher
    from qconsole.teacher.quality import TYPING_CPS, load_labelled, measure_item

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", default=None,
                    help="a local model spec (default smollm2, or the configured [teacher]) "
                         "or an http(s)://.../v1 chat server")
    ap.add_argument("--model", default=None, help="the server's model name (with a url)")
    ap.add_argument("--items", type=Path, default=ITEMS)
    ap.add_argument("--out", type=Path, default=None, help="per-item records (JSON lines)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        if args.teacher and args.teacher.startswith(("http://", "https://")):
            spec = TeacherSpec(url=args.teacher, model=args.model)
        elif args.teacher:
            spec = TeacherSpec(spec=args.teacher, threads=args.threads)
        else:
            spec = teacher_spec_from_config() or TeacherSpec(spec="smollm2",
                                                             threads=args.threads)
        teacher = open_teacher(spec)
        items = load_labelled(args.items)
    except QConsoleError as exc:
        print(f"teacher benchmark: {exc}", file=sys.stderr)
        return 2
    ctl = TeacherController(None, teacher=teacher)
    records = []
    for item in items:
        rec = measure_item(ctl, item)
        records.append(rec)
        print(f"  {rec.id:10s} label {rec.label:15s} teacher {rec.teacher_kind or '-':15s} "
              f"rules {rec.rule_kind or '-':15s} draft {'pass' if rec.draft_pass else 'fail'}"
              f"{'' if rec.draft_parsed else ' (unformatted)'} {rec.teacher_s:5.1f} s",
              flush=True)
    teacher.close()
    n = len(records)
    pct = lambda k: round(100 * k / n)  # noqa: E731
    print(f"teacher: {teacher.name}; {n} labelled failing replies of the embedded model")
    print(f"kind agreement {pct(sum(r.teacher_kind == r.label for r in records))}%")
    print(f"kind agreement of the rule checks alone (reference) "
          f"{pct(sum(r.rule_kind == r.label for r in records))}%")
    print(f"draft pass {pct(sum(r.draft_pass for r in records))}%")
    print(f"drafts in the asked format {pct(sum(r.draft_parsed for r in records))}%")
    accept = statistics.mean(r.accept_s for r in records)
    typed = statistics.mean(r.type_s for r in records)
    print(f"seconds per correction: accept {accept:.1f}, type {typed:.1f} "
          f"(typing {TYPING_CPS:g} characters/s; accept = waiting for the draft, then one key "
          "or the edits; ratio "
          f"{accept / typed:.2f})")
    print(f"teacher seconds per item (kind + draft): "
          f"{statistics.mean(r.teacher_s for r in records):.1f}")
    if args.out:
        args.out.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records),
                            encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
