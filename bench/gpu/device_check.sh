#!/usr/bin/env bash
# ctnn's one check on a GPU machine, in one call (2.5 minutes on an H200, 8 at most):
#   1. versions: date, commit, kernel, glibc, driver and GPU (nvidia-smi), nvcc, PyTorch, cuDNN,
#      cuBLAS and the library folders the binaries load from;
#   2. the CUDA tests (every layer and a ResNet-18 step against the CPU backend, graph replay against
#      eager steps, the step without host waits, the algorithm and math choice);
#   3. the ResNet-18 CIFAR training step at batch 128 and 512: ctnn fp32 eager, fp32 graph and bf16
#      graph (bench_train_step_cuda), PyTorch fp32 with TF32 off through the precision flags
#      (printed), channels_last + bf16 autocast eager, and torch.compile of that (pytorch_step.py);
#   4. one epoch of real training on synthetic CIFAR images (the loss must fall);
#   5. where the time goes: each layer of the fp32 and bf16 networks timed on its own (--profile),
#      with the cuDNN algorithms chosen for every convolution (CTNN_CUDA_VERBOSE=1);
#   6. one table of img/s, peak GPU memory and ratios, with the issue's goals (results_table.py).
#
# The GPU machine has nvcc, CMake, PyTorch and cuDNN/cuBLAS (as Python wheels) but no Eigen or
# doctest: the two binaries are built here and carried, with Eigen's and doctest's headers for a
# fallback build there (README.md, "CUDA", gives the exact commands):
#   cmake --preset release && cmake --build build/release --target ctnn_cuda_tests bench_train_step_cuda
#   mkdir -p .gpu-deps/doctest && cp -r /usr/include/eigen3 .gpu-deps/ && cp /usr/include/doctest/doctest.h .gpu-deps/doctest/
#   run(command="bash bench/gpu/device_check.sh", carry=["build/release/gpu", ".gpu-deps"], timeout_s=300)
# If the carried binaries are missing or cannot start there (another glibc, a missing library),
# they are rebuilt there with nvcc from the carried headers.
#
#   bash bench/gpu/device_check.sh [BIN_DIR]      (BIN_DIR: build/release/gpu)
# Environment: PYTHON (python3, the one with torch), CTNN_GPU_DEPS (.gpu-deps), TORCH_COMPILE (1; 0
# leaves torch.compile out), BATCHES ("128 512"), EPOCH_IMAGES (50000), EPOCH_EXTRA (precisions of
# further epochs, to see the spread between runs: "bf16 fp32"; none by default), EPOCH_BASELINE (another
# build of bench_train_step_cuda, carried like the others: each EPOCH_EXTRA epoch then runs with it
# first and with BIN's after it, to compare two versions' training), PROFILE_BATCH (512; 0 leaves
# the profile out). A baseline of an older commit, built here and carried in build/release/gpu:
#   git worktree add /tmp/base <commit> && cd /tmp/base && cmake --preset release -DCTNN_BUILD_EXAMPLES=OFF &&
#   cmake --build build/release --target bench_train_step_cuda && mkdir -p /work/main/build/release/gpu/baseline &&
#   cp build/release/gpu/bench_train_step_cuda /work/main/build/release/gpu/baseline/
#   run(command="EPOCH_EXTRA='bf16 bf16 fp32' EPOCH_BASELINE=build/release/gpu/baseline/bench_train_step_cuda
#       bash bench/gpu/device_check.sh", carry=["build/release/gpu", ".gpu-deps"], timeout_s=420)
# Logs and the table go to $OUT when it is set (the device tool brings that folder back; at most 8
# files): versions.log, cuda_tests.log, ctnn.log, torch.log, train.log (train_extra.log), profile.log,
# table.md.
# Exit status: that of the CUDA tests (the benchmarks, the training and the table run regardless).
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 2

BIN=${1:-build/release/gpu}
DEPS=${CTNN_GPU_DEPS:-.gpu-deps}
PY=${PYTHON:-python3}
BATCHES=${BATCHES:-128 512}
EPOCH_IMAGES=${EPOCH_IMAGES:-50000}
EPOCH_EXTRA=${EPOCH_EXTRA:-}
EPOCH_BASELINE=${EPOCH_BASELINE:-}
TORCH_COMPILE=${TORCH_COMPILE:-1}
PROFILE_BATCH=${PROFILE_BATCH:-512}
LOGS=${OUT:-$(mktemp -d /tmp/ctnn-device-check.XXXXXX)}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1
start_time=$(date +%s)

section() { printf '\n==== %s (%ds) ====\n' "$*" "$(($(date +%s) - start_time))"; }

section "versions"
{
  date -u '+%Y-%m-%d %H:%M UTC'
  echo "ctnn commit: $(git rev-parse --short HEAD 2>/dev/null || echo 'unknown (no .git in this copy)')"
  uname -srm
  echo "glibc: $(ldd --version 2>&1 | head -n 1)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv 2>/dev/null ||
    echo "nvidia-smi failed"
  if command -v nvcc >/dev/null; then nvcc --version | tail -n 2; else echo "nvcc: not on PATH"; fi
  "$PY" - <<'PYEOF'
import importlib
try:
    import torch
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
          f"GPU available: {torch.cuda.is_available()}")
except Exception as e:  # the ctnn part does not need PyTorch
    print("torch: not importable:", e)
for name in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cu13"):
    try:
        m = importlib.import_module(name)
        print(f"{name}: {', '.join(m.__path__)}")
    except Exception:
        pass
PYEOF
} 2>&1 | tee "$LOGS/versions.log"

# cuDNN and cuBLAS for ctnn's binaries (cudart is linked in): the lib folders of the nvidia wheels.
NV_LIBS=$("$PY" - <<'PYEOF'
import glob, os
dirs = []
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
for root in roots:
    for pattern in ("libcudnn.so*", "libcublas.so*", "libcublasLt.so*"):
        for so in sorted(glob.glob(os.path.join(root, "**", pattern), recursive=True)):
            if os.path.dirname(so) not in dirs:
                dirs.append(os.path.dirname(so))
print(":".join(dirs))
PYEOF
)
export LD_LIBRARY_PATH="${NV_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" | tee -a "$LOGS/versions.log"

# Builds the two binaries here with nvcc, from the carried Eigen and doctest headers and the
# wheels' cuDNN/cuBLAS headers (when the carried binaries cannot run).
build_here() {
  local out=/tmp/ctnn-gpu-build
  mkdir -p "$out"
  if [ ! -f "$DEPS/eigen3/Eigen/Core" ] || [ ! -f "$DEPS/doctest/doctest.h" ]; then
    echo "cannot build here: carry Eigen and doctest headers in $DEPS (see the top of this script)"
    return 1
  fi
  local inc=(-Iinclude "-I$DEPS/eigen3" "-I$DEPS")
  local d
  for d in $("$PY" -c "import nvidia, glob, os; print(' '.join(sorted({os.path.dirname(h) for r in nvidia.__path__ for n in ('cudnn.h', 'cublas_v2.h') for h in glob.glob(os.path.join(r, '**', 'include', n), recursive=True)})))" 2>/dev/null); do
    inc+=("-I$d")
  done
  local libs=() lib_dirs=()
  IFS=: read -r -a lib_dirs <<<"$NV_LIBS"
  for d in "${lib_dirs[@]}"; do [ -n "$d" ] && libs+=("-L$d"); done
  libs+=(-l:libcudnn.so.9 -l:libcublas.so.13)
  # shellcheck disable=SC2054  # (the commas belong to one nvcc option)
  local flags=(-std=c++20 -O3 -arch=sm_90 --expt-relaxed-constexpr --diag-suppress=20012,20015 -DNDEBUG)
  echo "building with nvcc into $out (every translation unit in parallel)"
  local src pids=() objs=()
  for src in tests/cuda/layers.cu tests/cuda/resnet.cu tests/cuda/step.cu tests/cuda/precision.cu \
             tests/cuda/include_order.cu bench/gpu/train_step_cuda.cu; do
    nvcc "${flags[@]}" "${inc[@]}" -c "$src" -o "$out/$(basename "$src" .cu).o" &
    pids+=($!)
  done
  local pid
  for pid in "${pids[@]}"; do wait "$pid" || return 1; done
  for src in layers resnet step precision include_order; do objs+=("$out/$src.o"); done
  nvcc "${flags[@]}" "${objs[@]}" -o "$out/ctnn_cuda_tests" "${libs[@]}" || return 1
  nvcc "${flags[@]}" "$out/train_step_cuda.o" -o "$out/bench_train_step_cuda" "${libs[@]}" || return 1
  BIN=$out
}

section "ctnn binaries ($BIN)"
runnable=1
for b in ctnn_cuda_tests bench_train_step_cuda; do
  if [ ! -x "$BIN/$b" ]; then
    echo "$BIN/$b: missing"
    runnable=0
  elif ldd "$BIN/$b" 2>&1 | grep -q 'not found'; then
    ldd "$BIN/$b" 2>&1 | grep 'not found' | sed "s|^|$b: |"
    runnable=0
  fi
done
# A binary the dynamic loader cannot start (missing library, older glibc) exits with 127 or says so.
if [ "$runnable" = 1 ]; then
  "$BIN/ctnn_cuda_tests" --list-test-cases >/tmp/ctnn-probe.log 2>&1
  probe_rc=$?
  if [ "$probe_rc" = 127 ] || grep -q -E "error while loading shared libraries|GLIBC_|version .* not found" /tmp/ctnn-probe.log; then
    echo "the carried binaries do not start here (exit status $probe_rc):"
    cat /tmp/ctnn-probe.log
    runnable=0
  fi
fi
if [ "$runnable" = 0 ]; then build_here || echo "no runnable ctnn binaries"; fi

section "CUDA tests"
if [ -x "$BIN/ctnn_cuda_tests" ]; then
  timeout 240 "$BIN/ctnn_cuda_tests" 2>&1 | tee "$LOGS/cuda_tests.log"
  test_rc=${PIPESTATUS[0]}
else
  test_rc=127
fi
echo "CUDA tests exit status: $test_rc"

section "ctnn ResNet-18 training step (batches $BATCHES)"
: >"$LOGS/ctnn.log"
if [ -x "$BIN/bench_train_step_cuda" ]; then
  for batch in $BATCHES; do
    timeout 120 "$BIN/bench_train_step_cuda" --batch "$batch" --repeats 5 2>&1 | tee -a "$LOGS/ctnn.log"
  done
fi

section "PyTorch ResNet-18 training step (batches $BATCHES)"
: >"$LOGS/torch.log"
compile_flag=()
[ "$TORCH_COMPILE" = 1 ] || compile_flag=(--no-compile)
for batch in $BATCHES; do
  timeout 200 "$PY" bench/gpu/pytorch_step.py --batch "$batch" --repeats 5 "${compile_flag[@]}" 2>&1 | tee -a "$LOGS/torch.log"
done

section "one epoch of training on synthetic CIFAR ($EPOCH_IMAGES images)"
if [ -x "$BIN/bench_train_step_cuda" ]; then
  timeout 150 "$BIN/bench_train_step_cuda" --train-epoch --batch 512 --images "$EPOCH_IMAGES" 2>&1 | tee "$LOGS/train.log"
  # Further epochs (EPOCH_EXTRA="bf16 fp32 ..."): the spread between runs of the same training (the
  # convolution algorithms are chosen by timing, so runs differ in the last bits and then more).
  # With EPOCH_BASELINE, the baseline's epoch of each precision runs first, then BIN's.
  : >"$LOGS/train_extra.log"
  [ -z "$EPOCH_BASELINE" ] || [ -x "$EPOCH_BASELINE" ] || echo "EPOCH_BASELINE=$EPOCH_BASELINE is not an executable: left out"
  for precision in $EPOCH_EXTRA; do
    for bin in ${EPOCH_BASELINE:+"$EPOCH_BASELINE"} "$BIN/bench_train_step_cuda"; do
      [ -x "$bin" ] || continue
      echo "== epoch, $precision, $bin" | tee -a "$LOGS/train_extra.log"
      timeout 60 "$bin" --train-epoch --batch 512 --images "$EPOCH_IMAGES" --precision "$precision" >>"$LOGS/train_extra.log" 2>&1
      grep -E "^(step +(10|97)/|one epoch)|loss fell|DOES NOT" "$LOGS/train_extra.log" | tail -n 4
    done
  done
fi

section "where the time goes: per-layer profile, batch $PROFILE_BATCH (CTNN_CUDA_VERBOSE=1: the algorithms chosen)"
if [ -x "$BIN/bench_train_step_cuda" ] && [ "$PROFILE_BATCH" != 0 ]; then
  CTNN_CUDA_VERBOSE=1 timeout 120 "$BIN/bench_train_step_cuda" --profile --batch "$PROFILE_BATCH" \
    --configs fp32_eager,bf16_graph >"$LOGS/profile.log" 2>&1
  echo "exit status $? (the whole output: profile.log)"
  grep -A 14 "under the profiler" "$LOGS/profile.log"
fi

section "summary"
skipped=()
grep -q "no GPU (.*), skipping" "$LOGS/cuda_tests.log" 2>/dev/null && skipped=(--tests-skipped)
"$PY" bench/gpu/results_table.py "$LOGS/ctnn.log" "$LOGS/torch.log" "$LOGS/train.log" --tests-status "$test_rc" \
  "${skipped[@]}" | tee "$LOGS/table.md"
echo "logs: $LOGS ($(($(date +%s) - start_time)) s in all)"
exit "$test_rc"
