#!/usr/bin/env bash
# Compile time and peak memory of the CPU example's translation units at -O2, the number users
# feel: "how long does my network take to build?". The example links ctnn::compiled, so its units
# carry CTNN_SEPARATE_COMPILATION=1 and the code that does not depend on its types is one more unit,
# compiled once (a parallel build runs them side by side). Also train.cpp header-only (as a program
# that does not link ctnn::compiled compiles it) and the largest test units.
#   bench/compile_time.sh [compiler]
set -euo pipefail
cd "$(dirname "$0")/.."
cxx="${1:-g++}"
flags=(-std=c++20 -O2 -fopenmp -DCTNN_USE_OPENBLAS=1 -Iinclude -Itests -I/usr/include/eigen3 -c -o /dev/null)
measure() {  # name, source, extra flags...
  local out
  out=$( { /usr/bin/time -f "%e %M" "$cxx" "${flags[@]}" "${@:3}" "$2"; } 2>&1 | tail -1)
  read -r secs kib <<<"$out"
  printf "%-44s %8.1f s %9.0f MB\n" "$1" "$secs" "$(echo "$kib / 1024" | bc -l)"
}
echo "$("$cxx" --version | head -1), $(nproc) cores"
separate=-DCTNN_SEPARATE_COMPILATION=1
compiled=$(mktemp --suffix=.cpp)
trap 'rm -f "$compiled"' EXIT
echo '#include <ctnn/compiled.hpp>' >"$compiled"
measure "examples/cifar10_resnet18/train.cpp (-O2)" examples/cifar10_resnet18/train.cpp $separate
measure "examples/cifar10_resnet18/interop.cpp (-O2)" examples/cifar10_resnet18/interop.cpp $separate
measure "ctnn::compiled (once per build of ctnn)" "$compiled" $separate
measure "train.cpp header-only" examples/cifar10_resnet18/train.cpp
measure "examples/cifar10_resnet18/main.cpp (CLI11, -O2)" examples/cifar10_resnet18/main.cpp
measure "tests/network.cpp (ResNet-18 test TU)" tests/network.cpp
measure "tests/models/resnet.cpp" tests/models/resnet.cpp
