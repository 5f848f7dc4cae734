#!/usr/bin/env bash
# Make the growth plan's self-replay file: the BASE model's own greedy replies (the plan's
# model, template and max_tokens) to plans/replay/ordinary_prompts.yaml, written as
# plans/replay/self_replay.jsonl ({"prompt", "completion"} lines, what `--replay` reads).
# Why self-replay: training the adapter to give the base's own replies on ordinary prompts
# anchors its behaviour there (the remedy for format bleed; the name-heavy stories are the
# remedy for the family cycle's loss of names on LAMBADA) without teaching anything the base
# does not already do. It does sharpen what the base already expects: its replies repeat names
# from the prompt, and after cycle 1 LAMBADA rose most where the last word is a name, so a
# panel rise is not growth. Rerun it only when the model or the prompts change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WS=$(mktemp -d)
trap 'rm -rf "$WS"' EXIT
export QCONSOLE_WORKSPACE=$WS QCONSOLE_CONFIG_DIR=$WS/config HF_HUB_OFFLINE=1
PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} $PY -m qconsole eval --tasks none --panel none \
  --no-in-domain --offline --probes plans/replay/ordinary_prompts.yaml --max-tokens 64 \
  --threads "${THREADS:-2}" >&2
PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} $PY - "$WS" <<'PYEOF'
import json, sys
from pathlib import Path

import yaml

from qconsole.evaluation.probes import load_probe_file

ws = Path(sys.argv[1])
prompts = [i["prompt"] for i in yaml.safe_load(open("plans/replay/ordinary_prompts.yaml"))["items"]]
panel = {i.prompt.strip() for i in load_probe_file("qconsole/evaluation/data/general_qa.yaml").items}
clash = [p for p in prompts if p.strip() in panel]
if clash:
    sys.exit(f"replay prompts repeat general_qa items: {clash}")
(items,) = ws.glob("evals/*/items.jsonl")
records = [json.loads(line) for line in items.read_text().splitlines() if line.strip()]
out = []
for p in prompts:
    rec = next(r for r in records if f"User: {p}\n" in r["prompt"])
    out.append({"prompt": p, "completion": rec["base_reply"].strip()})
Path("plans/replay/self_replay.jsonl").write_text(
    "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out), encoding="utf-8")
print(f"wrote plans/replay/self_replay.jsonl: {len(out)} base replies", file=sys.stderr)
PYEOF
