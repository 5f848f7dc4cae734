#!/usr/bin/env bash
# Which test files reach the libraries whose versions differ between the plain install and the
# gpu extra (transformers, peft, trl, datasets, accelerate, huggingface-hub, tokenizers,
# safetensors, lm-eval, fsspec): runs the suite (PYTEST ARGS, default -m "not slow") with
# scripts/hf_import_trace/sitecustomize.py on the path, which logs every import statement of
# those libraries that qconsole's or the tests' code executes (they are all imported inside the
# functions that use them, so each use runs one), under the test running it (subprocesses too,
# through PYTEST_CURRENT_TEST). .ci/run's --ignore list for the second run came from this.
# A session fixture or a cached function (tests/helpers/adapters.hf_base) is set up by the first
# test that needs it, so a later file using it shows clean: run each clean file again alone
# (one call a file) before leaving it out, and read its slow tests if they were not run.
# Usage: scripts/version_sensitive_tests.sh [PYTEST ARGS]    (about the suite's own time)
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
[ $# -gt 0 ] || set -- -m "not slow"
QCONSOLE_HF_TRACE_LOG="$log" PYTHONPATH="$PWD/scripts/hf_import_trace:$PWD${PYTHONPATH:+:$PYTHONPATH}" \
  .venv/bin/python -m pytest -q -p no:cacheprovider -p ran_plugin "$@" >&2 || true
.venv/bin/python scripts/hf_import_trace/summary.py "$log"
