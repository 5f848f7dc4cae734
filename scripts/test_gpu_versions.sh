#!/usr/bin/env bash
# Run the CPU test suite under the versions a GPU user gets (constraints/gpu.txt), without Unsloth.
#
# Why: `pip install ".[gpu]"` resolves other versions of transformers, datasets, trl and
# huggingface-hub than the plain install that scripts/test.sh tests (Unsloth caps them). This
# builds a second virtual environment (default .venv-gpu-versions) with exactly the constrained
# versions, reusing the cached llama.cpp wheel, and runs the same suite in it. Left out:
# - unsloth, unsloth-zoo: Unsloth refuses to import without a GPU (scripts/gpu_check.sh covers it);
# - torchvision: its Linux wheel 0.28.0 (the one for torch 2.13.0) is a CUDA build (+cu130),
#   which cannot load against a CPU torch ("operator torchvision::nms does not exist") and then breaks transformers' imports;
#   on a GPU box it pairs with the CUDA torch. transformers uses it for images only.
# Everything else the gpu extra pulls in (xformers, bitsandbytes, torchao, diffusers) is
# installed, because peft and transformers change code paths when those are importable; triton
# too, at whatever pip picks (the constraints leave it to the CUDA torch's own pin; unused on CPU).
#
# Usage: scripts/test_gpu_versions.sh [PYTEST ARGS]    e.g. scripts/test_gpu_versions.sh -m "not slow"
# Env:   QCONSOLE_GPU_VENV (default .venv-gpu-versions; scripts/gpu_check.sh's is .venv-gpu),
#        the rest as scripts/setup_env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${QCONSOLE_GPU_VENV:-.venv-gpu-versions}
CONSTRAINTS=constraints/gpu.txt
start=$(date +%s)
QCONSOLE_VENV="$VENV" QCONSOLE_CONSTRAINTS="$CONSTRAINTS" scripts/setup_env.sh dev

stamp="$VENV/.qconsole-gpu-libs"
want="$(sha256sum "$CONSTRAINTS" | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "qconsole: installing the gpu extra's libraries at $CONSTRAINTS's versions (no Unsloth)" >&2
  reqs="$(mktemp)"
  grep -E '^[A-Za-z0-9]' "$CONSTRAINTS" | grep -v -E '^(unsloth|unsloth-zoo|torchvision)==' > "$reqs"
  "$VENV/bin/python" -m pip install -q -c "$CONSTRAINTS" -r "$reqs" >&2
  "$VENV/bin/python" -m pip uninstall -q -y torchvision >&2 2>/dev/null || true
  rm -f "$reqs"
  echo "$want" > "$stamp"
fi
# Its own conversion cache (config and tokenizer, built by this environment's transformers, as on
# a GPU user's first run); the assembled embedded model is shared.
shared_cache=${QCONSOLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qconsole}
export QCONSOLE_CACHE="$(cd "$VENV" && pwd)/qconsole-cache"  # absolute: tests link into it
mkdir -p "$shared_cache/models" "$QCONSOLE_CACHE"
ln -sfn "$shared_cache/models" "$QCONSOLE_CACHE/models"
# Say what ran, so a recorded result names its versions.
echo "qconsole: environment ready in $(( $(date +%s) - start )) s" >&2
"$VENV/bin/python" - <<'EOF' >&2
from importlib.metadata import version
names = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "huggingface-hub",
         "tokenizers", "safetensors")
print("qconsole: testing under " + " ".join(f"{n}=={version(n)}" for n in names))
EOF
exec "$VENV/bin/python" -m pytest "$@"
