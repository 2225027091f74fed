#!/usr/bin/env bash
# The data-parallel benchmark, side by side in one call (nothing else may run on the machine):
#   1 process x 2 threads, then 2 processes x 1 thread under mpirun, at global batch 64; then the
#   scaling model on the measured timeline.
#
#   bash bench/dist/run.sh [BUILD_DIR=build/release] [OUT_DIR=build/release/bench/dist]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
out=${2:-$build/bench/dist}
exe=$build/bench/bench_data_parallel
[[ -x $exe ]] || { echo "run.sh: $exe not built (needs MPI: libopenmpi-dev openmpi-bin)" >&2; exit 2; }
mkdir -p "$out"
flags=()
mpirun --version 2>/dev/null | grep -q "Open MPI" && flags=(--allow-run-as-root --oversubscribe --bind-to none)
cores=$(nproc)
echo "== 1 process x $cores threads"
OMP_NUM_THREADS=$cores mpirun "${flags[@]}" -np 1 -x OMP_NUM_THREADS "$exe" --benchmark_filter=BM_step \
  --benchmark_out="$out/one.json" --benchmark_out_format=json
echo "== $cores processes x 1 thread"
OMP_NUM_THREADS=1 mpirun "${flags[@]}" -np "$cores" -x OMP_NUM_THREADS "$exe" --timeline "$out/timeline.json" \
  --benchmark_out="$out/many.json" --benchmark_out_format=json
python3 bench/dist/scaling_model.py "$out/timeline.json" --measured "$out/many.json" --single "$out/one.json"
