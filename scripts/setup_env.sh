#!/usr/bin/env bash
# Make or reuse the project's virtual environment and install qconsole into it.
#
# Why a script and not a bare `pip install`: llama-cpp-python ships only an sdist, and its
# default "native" build can crash (SIGILL) on virtual machines whose CPU reports AMX that the
# hypervisor does not allow. We build it once with explicit, detected instruction sets, cache
# the wheel keyed by version + flags, and reuse it on every later run.
#
# Usage: scripts/setup_env.sh [EXTRAS]      e.g. scripts/setup_env.sh dev
# Env:   QCONSOLE_VENV (default .venv), PYTHON (default python3),
#        QCONSOLE_WHEEL_CACHE (default ~/.cache/qconsole/wheels),
#        QCONSOLE_LLAMA_CMAKE_ARGS (extra CMake flags, e.g. -DGGML_CUDA=on on a GPU box),
#        QCONSOLE_TORCH (torch requirement when torch is absent; default torch==2.13.0),
#        QCONSOLE_CONSTRAINTS (a pip constraints file for every install, e.g. constraints/gpu.txt:
#        the versions the gpu extra resolves to)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${QCONSOLE_VENV:-.venv}
EXTRAS=${1:-}
LLAMA_VERSION=0.3.36
STAMP="$VENV/.qconsole-installed"
CONSTRAINTS=${QCONSOLE_CONSTRAINTS:-}
pip_c=()
if [ -n "$CONSTRAINTS" ]; then
  [ -f "$CONSTRAINTS" ] || { echo "qconsole: constraints file $CONSTRAINTS not found" >&2; exit 2; }
  pip_c=(-c "$CONSTRAINTS")
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "qconsole: creating virtual environment in $VENV" >&2
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

# Fast path: nothing changed since the last successful install (an install with extras also
# serves a plain run, so scripts/run.sh after scripts/test.sh does not reinstall).
hash="$(cat pyproject.toml scripts/setup_env.sh ${CONSTRAINTS:+"$CONSTRAINTS"} | sha256sum | cut -c1-16)"
want="$hash-$EXTRAS"
if [ -f "$STAMP" ]; then
  have="$(cat "$STAMP")"
  if [ "$have" = "$want" ] || { [ -z "$EXTRAS" ] && [ "${have%%-*}" = "$hash" ]; }; then
    exit 0
  fi
fi

"$VPY" -m pip install -q --upgrade pip wheel setuptools >&2

# torch first: a plain `torch` requirement pulled in by a dependency would fetch a multi-GB
# CUDA build; an explicit pin lets pip take the CPU file where the machine provides one.
if ! "$VPY" -c "import torch" 2>/dev/null; then
  echo "qconsole: installing ${QCONSOLE_TORCH:-torch==2.13.0}" >&2
  "$VPY" -m pip install -q "${pip_c[@]}" "${QCONSOLE_TORCH:-torch==2.13.0}" >&2
fi

# shellcheck source=scripts/ggml_cpu_flags.sh
. scripts/ggml_cpu_flags.sh
llama_cmake_args() {
  echo "-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF $(ggml_cpu_flags) ${QCONSOLE_LLAMA_CMAKE_ARGS:-}"
}

if ! "$VPY" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_VERSION')" 2>/dev/null; then
  CMAKE_FLAGS="$(llama_cmake_args)"
  pytag="$("$VPY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
  key="$(echo "$LLAMA_VERSION $pytag $(uname -m) $CMAKE_FLAGS" | sha256sum | cut -c1-16)"
  cache="${QCONSOLE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qconsole/wheels}/$key"
  if ! ls "$cache"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "qconsole: building llama-cpp-python $LLAMA_VERSION (once, 5-10 minutes; cached in $cache)" >&2
    echo "qconsole: CMAKE_ARGS=$CMAKE_FLAGS" >&2
    tmp="$(mktemp -d)"
    CMAKE_ARGS="$CMAKE_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "$VPY" -m pip wheel -q --no-deps --no-binary llama-cpp-python \
      "llama-cpp-python==$LLAMA_VERSION" -w "$tmp" >&2
    mkdir -p "$cache"
    mv "$tmp"/llama_cpp_python-*.whl "$cache"/
    rm -rf "$tmp"
  fi
  "$VPY" -m pip install -q --no-deps "$cache"/llama_cpp_python-*.whl >&2
fi

spec="."
[ -n "$EXTRAS" ] && spec=".[$EXTRAS]"
echo "qconsole: installing qconsole$([ -n "$EXTRAS" ] && echo "[$EXTRAS]") and its dependencies" >&2
"$VPY" -m pip install -q "${pip_c[@]}" -e "$spec" >&2
echo "$want" > "$STAMP"
