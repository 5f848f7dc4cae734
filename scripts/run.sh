#!/usr/bin/env bash
# Install qconsole into .venv (first run builds llama.cpp once) and open the console.
# Extra arguments go to qconsole, e.g. scripts/run.sh --model ./models/qwen3-0.6b-base.gguf
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
exec .venv/bin/qconsole "$@"
