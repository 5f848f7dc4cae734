#!/usr/bin/env bash
# GPU check (under 10 minutes once installed): train the same LoRA on a Qwen3-architecture
# model with the Unsloth backend, transformers + PEFT on one GPU, and data-parallel PEFT over
# every GPU (when there are two or more); print tokens/s of each and their ratio to PEFT.
#
# Installs into its own venv with the pinned GPU versions (constraints/gpu.txt, made by
# scripts/gpu_constraints.sh), so the figures belong to known versions.
#
# Usage: scripts/gpu_check.sh [benchmarks/gpu_check.py options]
#        e.g. scripts/gpu_check.sh --model ~/models/Qwen3-0.6B-Base --steps 30
# Env:   QCONSOLE_VENV (default .venv-gpu), QCONSOLE_CONSTRAINTS (default constraints/gpu.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
export QCONSOLE_VENV=${QCONSOLE_VENV:-.venv-gpu}
export QCONSOLE_CONSTRAINTS=${QCONSOLE_CONSTRAINTS:-constraints/gpu.txt}
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU here (nvidia-smi finds none); nothing to measure" >&2
  exit 2
fi
nvidia-smi -L
[ -f "$QCONSOLE_CONSTRAINTS" ] || { echo "gpu_check: $QCONSOLE_CONSTRAINTS is missing" >&2; exit 1; }
start=$(date +%s)
scripts/setup_env.sh gpu
echo "gpu_check: installed in $(( $(date +%s) - start )) s"
exec timeout 600 "$QCONSOLE_VENV/bin/python" benchmarks/gpu_check.py "$@"
