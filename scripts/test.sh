#!/usr/bin/env bash
# The one test command: installs what is missing, builds everything in Release and runs every test,
# then builds the tests again with AddressSanitizer + UndefinedBehaviorSanitizer (the
# asan preset) and runs them there too (all but the compile-fail, package, quick-start and Clang tests,
# which test the compiler, CMake and the scripts rather than code that runs, and the example programs,
# which that preset does not build). A sanitizer report fails the test that caused it.
#
#   scripts/test.sh            release, then asan (what CI runs)
#   scripts/test.sh release    one of them
#   scripts/test.sh asan
# CTNN_CONFIGURE_ARGS adds options to both configure steps; CI (.ci/run) sets
# -DCTNN_BUILD_BENCH=OFF: the benchmarks are not tests, and building them takes about 1.5 of CI's
# 30 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[[ ${#presets[@]} -gt 0 ]] || presets=(release asan)
for p in "${presets[@]}"; do
  [[ $p == release || $p == asan ]] || { echo "test.sh: unknown preset '$p' (release, asan)" >&2; exit 2; }
done
bash scripts/install_deps.sh python3-matplotlib python3-torch python3-torchvision clang openmpi-bin libopenmpi-dev  # plots; PyTorch interop; Clang; MPI
bash scripts/install_python_deps.sh                              # onnx, onnxruntime for the ONNX test
for p in "${presets[@]}"; do
  echo "test.sh: === $p ==="
  # shellcheck disable=SC2086  # (word splitting of the options is meant)
  cmake --preset "$p" ${CTNN_CONFIGURE_ARGS:-}
  cmake --build --preset "$p" -j "$(nproc)"
  ctest --preset "$p" -j "$(nproc)"
done
