#!/usr/bin/env bash
# The growth proof of issue 11, rerunnable and resumable: `qconsole cycle plans/growth.yaml`
# in its own workspace, one cycle per chunk (each chunk under the shared heavy lock, so other
# work on the machine gets the CPU between chunks), then the generated report copied into
# reports/growth/ (nothing in it is typed by hand).
#
#   scripts/growth_proof.sh              # every remaining cycle, then the report
#   scripts/growth_proof.sh 1            # only up to cycle 1 (run again for the rest)
#   WS=/tmp/qc-growth THREADS=2 scripts/growth_proof.sh
#
# Killed half way? Run it again: the ledger ($WS/cycles/growth/ledger.json) keeps every
# finished step, and the cycle resumes at the step that was interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/work/main/.venv/bin/python}
WS=${WS:-/tmp/qconsole-growth}
THREADS=${THREADS:-2}
PLAN=${PLAN:-plans/growth.yaml}
OUT=${OUT:-reports/growth/growth.md}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export QCONSOLE_WORKSPACE=$WS QCONSOLE_CONFIG_DIR=$WS/config HF_HUB_OFFLINE=1
# the shared benchmark files sit beside the checkout (or beside the main one, for a worktree)
if [ -z "${QCONSOLE_BENCHMARK_DATA:-}" ]; then
  for d in "$PWD/../shared" "$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null)/../../shared"; do
    [ -d "$d/data/benchmarks" ] && { QCONSOLE_BENCHMARK_DATA=$(cd "$d/data/benchmarks" && pwd); break; }
  done
fi
export QCONSOLE_BENCHMARK_DATA=${QCONSOLE_BENCHMARK_DATA:-$PWD/../shared/data/benchmarks}
LOCK="flock /tmp/qconsole-heavy.lock nice -n 5"
[ "${NOLOCK:-0}" = 1 ] && LOCK="nice -n 5"
mkdir -p "$WS"
last=${1:-3}
for k in $(seq 1 "$last"); do
  /usr/bin/time -f "chunk up to cycle $k: wall %e s" \
    $LOCK $PY -m qconsole cycle "$PLAN" --threads "$THREADS" --until-cycle "$k" \
    --report "$OUT"
done
$PY -m qconsole cycle "$PLAN" --status
echo "report: $OUT"
