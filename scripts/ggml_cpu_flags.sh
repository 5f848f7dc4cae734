# Sourced by setup_env.sh and setup_llama_server.sh: the CMake flags for a portable ggml CPU
# build. Why not GGML_NATIVE: virtual machines report AMX that the hypervisor traps, and a
# native build then dies with SIGILL in prompt processing. So only the instruction sets this
# CPU reports are switched on, and AMX never.
ggml_cpu_flags() {
  local args=""
  if [ "$(uname -m)" = "x86_64" ] && [ -r /proc/cpuinfo ]; then
    local flags pair
    flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
    args="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx_vnni:AVX_VNNI \
                avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
      if [[ "$flags" == *" ${pair%%:*} "* ]]; then
        args="$args -DGGML_${pair##*:}=ON"
      else
        args="$args -DGGML_${pair##*:}=OFF"
      fi
    done
  fi
  echo "$args"
}
