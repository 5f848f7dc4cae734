#!/usr/bin/env bash
# Issue 9 acceptance, rerunnable: 50 worked chain_sum corrections -> qconsole train ->
# qconsole eval (chain_sum 200 seed 1, syllogism 100 seed 5000, the generated panel part) ->
# an independent recount of strict/flexible, the leakage list against the expression repeats,
# and sample records to read by hand (benchmarks/eval_trust.py).
#
#   scripts/eval_acceptance.sh [stage ...]     stages: corrections train eval check (default all)
#   WS=/tmp/qc-accept EXTRA_GYM=1 scripts/eval_acceptance.sh eval check
#   flock /tmp/qconsole-heavy.lock env NOLOCK=1 scripts/eval_acceptance.sh   (one lock for all)
#
# EXTRA_GYM=1 adds basic_arithmetic and chain_sum_2digit (200 items each, about 15 more minutes
# on 2 cores); ONLY_CHAIN=1 runs chain_sum alone (no syllogism, no generated panel);
# ONLY_EXTRA=1 runs just those two (the check stage then recounts them). Heavy steps take /tmp/qconsole-heavy.lock so helpers sharing a machine queue.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/work/main/.venv/bin/python}
WS=${WS:-/tmp/qconsole-eval-acceptance}
THREADS=${THREADS:-2}
RUN=${RUN:-accept}   # the run folder under $WS/evals
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export QCONSOLE_WORKSPACE=$WS HF_HUB_OFFLINE=1
LOCK="flock /tmp/qconsole-heavy.lock nice -n 5"
[ "${NOLOCK:-0}" = 1 ] && LOCK="nice -n 5"   # already inside the heavy lock
stages=("$@"); [ ${#stages[@]} -eq 0 ] && stages=(corrections train eval check)
mkdir -p "$WS"
for stage in "${stages[@]}"; do
  case $stage in
    corrections)
      rm -rf "$WS/sessions"
      $PY benchmarks/eval_trust.py corrections "$WS" ;;
    train)
      rm -rf "$WS/adapters"
      /usr/bin/time -f "train wall %e s" $LOCK $PY -m qconsole train --name chain50 \
        --threads "$THREADS" --quiet 2>&1 | tail -20 ;;
    eval)
      rm -rf "$WS/evals/$RUN"
      gyms=(--gym '{"preset": "chain_sum", "size": 200, "seed": 1}')
      panel=(--panel none)
      [ "${ONLY_EXTRA:-0}" = 1 ] && { gyms=(); EXTRA_GYM=1; ONLY_CHAIN=1; }
      if [ "${ONLY_CHAIN:-0}" != 1 ]; then
        gyms+=(--gym '{"preset": "syllogism", "size": 100, "seed": 5000}')
        panel=(--panel general_qa)
      fi
      if [ "${EXTRA_GYM:-0}" = 1 ]; then
        gyms+=(--gym '{"preset": "basic_arithmetic", "size": 200, "seed": 1}'
               --gym '{"preset": "chain_sum_2digit", "size": 200, "seed": 1}')
      fi
      /usr/bin/time -f "eval wall %e s" $LOCK $PY -m qconsole eval --adapter chain50 \
        "${gyms[@]}" --tasks none "${panel[@]}" --no-in-domain --threads "$THREADS" \
        --out "$WS/evals/$RUN" --json > "$WS/$RUN.json"
      $PY -m qconsole report --evals "$WS/evals" -o "$WS/$RUN-report.md" "$RUN" || true
      $PY - "$WS/evals/$RUN" <<'PY'
import sys
from qconsole.evaluation.report import format_table, summarize
from qconsole.evaluation.store import load_run
print(format_table(summarize(load_run(sys.argv[1]))))
PY
      ;;
    check)
      $PY benchmarks/eval_trust.py leaks "$WS"
      $PY benchmarks/eval_trust.py check "$WS/evals/$RUN" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
