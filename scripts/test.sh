#!/usr/bin/env bash
# Install qconsole with its dev extras into .venv and run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh dev
exec .venv/bin/python -m pytest "$@"
