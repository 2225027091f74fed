#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with clang++ (libFuzzer + AddressSanitizer + UBSan; no
# CMake needed) and runs each for a bounded time.
#
#   scripts/fuzz.sh                  every target, 60 s each
#   scripts/fuzz.sh 600              every target, 10 minutes each
#   scripts/fuzz.sh 300 checkpoint   one target (checkpoint, cifar10, safetensors)
#
# Environment: FUZZ_SECONDS (default 60; the first argument wins), FUZZ_DIR (build/fuzz), CXX
# (clang++), EIGEN_INCLUDE (/usr/include/eigen3), FUZZ_ARGS (extra libFuzzer flags, e.g.
# "-jobs=2 -workers=2"). Needs clang with libFuzzer (Debian: clang and libclang-rt-14-dev).
#
# Layout under FUZZ_DIR (git-ignored, kept between runs so corpora grow):
#   bin/<target>_fuzz     the fuzzers;  bin/make_seeds writes seeds/<target>/ in the current format
#   corpus/<target>/      the corpus libFuzzer grows
#   crashes/<target>/     inputs that crashed, hung or broke a property (crash-*, timeout-*, oom-*)
# The kept inputs in tests/fuzz/regressions/<target>/ are fuzzed from too. A crash is a bug: fix it,
# then copy the input into tests/fuzz/regressions/<target>/ so that the doctest fuzz/replay (part of
# scripts/test.sh) runs it on every build. Reproduce one input with: FUZZ_DIR/bin/<target>_fuzz FILE
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(checkpoint cifar10 safetensors)
dir=${FUZZ_DIR:-build/fuzz}
cxx=${CXX:-clang++}
eigen=${EIGEN_INCLUDE:-/usr/include/eigen3}

declare -A max_len=([checkpoint]=8192 [cifar10]=10000 [safetensors]=8192)
for t in "${targets[@]}"; do
  [[ -f tests/fuzz/${t}_fuzz.cc ]] || { echo "fuzz.sh: no target '$t' (tests/fuzz/${t}_fuzz.cc)" >&2; exit 2; }
done
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
[[ -d $eigen ]] || { echo "fuzz.sh: Eigen headers not found in $eigen (apt-get install libeigen3-dev)" >&2; exit 2; }

mkdir -p "$dir/bin"
# shellcheck disable=SC2054  # the commas belong to -fsanitize=
common=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -Iinclude -I"$eigen" -Wall -Wextra)

# Rebuilds $1 from $2 when the binary is missing or older than any header or fuzz source.
build() {
  local bin=$1 src=$2
  shift 2
  if [[ -x $bin ]] && [[ -z $(find include tests/fuzz -newer "$bin" \( -name '*.hpp' -o -name '*.cc' \) -print -quit) ]]; then
    return
  fi
  echo "fuzz.sh: building $bin"
  "$cxx" "${common[@]}" "$@" "$src" -o "$bin"
}

build "$dir/bin/make_seeds" tests/fuzz/make_seeds.cc
rm -rf "$dir/seeds"
"$dir/bin/make_seeds" "$dir/seeds"

status=0
for t in "${targets[@]}"; do
  build "$dir/bin/${t}_fuzz" "tests/fuzz/${t}_fuzz.cc" -fsanitize=fuzzer
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t" "tests/fuzz/regressions/$t"
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
  echo "fuzz.sh: fuzzing $t for $seconds s"
  # shellcheck disable=SC2086
  if ! "$dir/bin/${t}_fuzz" -max_total_time="$seconds" -max_len="${max_len[$t]:-8192}" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/crashes/$t/" "${dict[@]}" ${FUZZ_ARGS:-} \
      "$dir/corpus/$t" "$dir/seeds/$t" "tests/fuzz/regressions/$t"; then
    echo "fuzz.sh: $t FOUND A PROBLEM; the input is in $dir/crashes/$t/ (fix it, then keep the input in" \
         "tests/fuzz/regressions/$t/)" >&2
    status=1
  fi
done
exit $status
