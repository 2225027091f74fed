#!/usr/bin/env bash
# The CUDA backend's one check on a GPU machine, in one run:
#   1. machine and library versions (nvidia-smi, driver, glibc, nvcc, PyTorch, cuDNN, cuBLAS),
#   2. the CUDA test binary (every layer and a ResNet-18 training step against the CPU backend),
#   3. the ResNet-18 CIFAR training-step benchmark for ctnn (bench_train_step_cuda) and for the same
#      model in PyTorch (pytorch_step.py: eager fp32, TF32, channels_last + bf16 autocast),
#   4. one table of img/s and ratios.
#
# The GPU machine has nvcc, PyTorch and cuDNN/cuBLAS (as Python packages) but no Eigen or doctest,
# so the binaries are built here and carried:
#   cmake -S . -B build/cuda -DCMAKE_BUILD_TYPE=Release -DCTNN_BUILD_EXAMPLES=OFF -DCTNN_CUDA=ON
#   cmake --build build/cuda --target ctnn_cuda_tests bench_train_step_cuda
#   -> build/cuda/gpu/{ctnn_cuda_tests,bench_train_step_cuda}   (about 10 MB)
# and on the GPU machine, from the repository root:
#   bash bench/gpu/device_check.sh [BIN_DIR=build/cuda/gpu]
# (the device tool: run(command="bash bench/gpu/device_check.sh", carry=["build/cuda/gpu"])).
# Logs and the table go to $OUT when it is set (the device tool brings that folder back).
#
# If the carried binaries are missing or cannot start there (other system libraries), they are
# rebuilt there with nvcc, from headers carried in $CTNN_GPU_DEPS (default .gpu-deps/, ignored by
# git: mkdir -p .gpu-deps/doctest && cp -r /usr/include/eigen3 .gpu-deps/ &&
# cp /usr/include/doctest/doctest.h .gpu-deps/doctest/; then carry ".gpu-deps" as well).
#
# Environment: BATCH (128), PYTHON (python3), CTNN_GPU_DEPS (.gpu-deps).
# Exit status: that of the CUDA tests (the benchmarks and the table run regardless).
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 2

BIN=${1:-build/cuda/gpu}
DEPS=${CTNN_GPU_DEPS:-.gpu-deps}
PY=${PYTHON:-python3}
BATCH=${BATCH:-128}
LOGS=${OUT:-$(mktemp -d /tmp/ctnn-device-check.XXXXXX)}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1

section() { printf '\n==== %s ====\n' "$*"; }

section "machine"
date -u '+%Y-%m-%d %H:%M UTC'
echo "ctnn commit: $(git rev-parse --short HEAD 2>/dev/null || echo 'unknown (no .git in this copy)')"
uname -srm
ldd --version 2>&1 | head -n 1
nvidia-smi || echo "nvidia-smi failed"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv 2>/dev/null
if command -v nvcc >/dev/null; then nvcc --version | tail -n 2; else echo "nvcc: not on PATH"; fi

section "Python, PyTorch and the NVIDIA libraries"
"$PY" - <<'PYEOF'
import importlib
try:
    import torch
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
          f"GPU available: {torch.cuda.is_available()}")
except Exception as e:  # keep going: the ctnn part does not need PyTorch
    print("torch: not importable:", e)
for name in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cu13"):
    try:
        m = importlib.import_module(name)
        print(f"{name}: {', '.join(m.__path__)}")
    except Exception:
        pass
PYEOF

# cuDNN and cuBLAS for ctnn's binaries: the lib folders of the Python nvidia packages.
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
            d = os.path.dirname(so)
            if d not in dirs:
                dirs.append(d)
print(":".join(dirs))
PYEOF
)
export LD_LIBRARY_PATH="${NV_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

# Builds the two binaries here with nvcc (fallback when the carried ones cannot run).
build_here() {
  local out=/tmp/ctnn-gpu-build
  mkdir -p "$out"
  if [ ! -f "$DEPS/eigen3/Eigen/Core" ] || [ ! -f "$DEPS/doctest/doctest.h" ]; then
    echo "cannot build here: carry Eigen and doctest headers in $DEPS (see the top of this script)"
    return 1
  fi
  local inc=(-Iinclude "-I$DEPS/eigen3" "-I$DEPS")
  local d
  for d in $("$PY" -c "import nvidia, glob, os; print(' '.join(sorted({os.path.dirname(h) for r in nvidia.__path__ for h in glob.glob(os.path.join(r, '**', 'include', 'cudnn.h'), recursive=True) + glob.glob(os.path.join(r, '**', 'include', 'cublas_v2.h'), recursive=True)})))" 2>/dev/null); do
    inc+=("-I$d")
  done
  local libs=()
  IFS=: read -r -a lib_dirs <<<"$NV_LIBS"
  for d in "${lib_dirs[@]}"; do [ -n "$d" ] && libs+=("-L$d"); done
  libs+=(-l:libcudnn.so.9 -l:libcublas.so.13)
  # shellcheck disable=SC2054  # (commas inside one nvcc option)
  local flags=(-std=c++20 -O3 -arch=sm_90 --expt-relaxed-constexpr --diag-suppress=20012,20015 -DNDEBUG)
  echo "building with nvcc into $out"
  nvcc "${flags[@]}" "${inc[@]}" tests/cuda/layers.cu tests/cuda/resnet.cu -o "$out/ctnn_cuda_tests" "${libs[@]}" &
  local p1=$!
  nvcc "${flags[@]}" "${inc[@]}" bench/gpu/train_step_cuda.cu -o "$out/bench_train_step_cuda" "${libs[@]}" &
  local p2=$!
  wait $p1 && wait $p2 || return 1
  BIN=$out
}

section "ctnn binaries"
runnable=1
for b in ctnn_cuda_tests bench_train_step_cuda; do
  if [ ! -x "$BIN/$b" ]; then
    echo "$BIN/$b: missing"
    runnable=0
  else
    ldd "$BIN/$b" | grep -E 'cudnn|cublas|not found|GLIBC' | sed "s|^|$b: |"
    if ldd "$BIN/$b" 2>&1 | grep -q -E 'not found'; then runnable=0; fi
  fi
done
# A binary that the dynamic loader cannot start (missing library, older glibc) exits with 127 or
# says so; anything else is a real result and is reported by the runs below.
if [ "$runnable" = 1 ]; then
  "$BIN/ctnn_cuda_tests" --list-test-cases >"$LOGS/probe.log" 2>&1
  probe_rc=$?
  if [ "$probe_rc" = 127 ] || grep -q -E "error while loading shared libraries|GLIBC|version .* not found" "$LOGS/probe.log"; then
    echo "the carried binaries do not start here (exit status $probe_rc):"
    cat "$LOGS/probe.log"
    runnable=0
  fi
fi
if [ "$runnable" = 0 ]; then build_here || echo "no runnable ctnn binaries"; fi

section "CUDA tests (layer parity and ResNet-18 step against the CPU backend)"
if [ -x "$BIN/ctnn_cuda_tests" ]; then
  "$BIN/ctnn_cuda_tests" 2>&1 | tee "$LOGS/cuda_tests.log"
  test_rc=${PIPESTATUS[0]}
else
  test_rc=127
fi
echo "CUDA tests exit status: $test_rc"

section "ctnn ResNet-18 training step (batch $BATCH)"
if [ -x "$BIN/bench_train_step_cuda" ]; then
  "$BIN/bench_train_step_cuda" --batch "$BATCH" 2>&1 | tee "$LOGS/bench_ctnn.log"
fi

section "PyTorch ResNet-18 training step (batch $BATCH)"
"$PY" bench/gpu/pytorch_step.py --batch "$BATCH" 2>&1 | tee "$LOGS/bench_torch.log"

section "summary"
"$PY" - "$LOGS" "$BATCH" "$test_rc" <<'PYEOF' | tee "$LOGS/table.md"
import os, sys
logs, batch, test_rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = {}
for name in ("bench_ctnn.log", "bench_torch.log"):
    path = os.path.join(logs, name)
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            p = line.split()
            if len(p) == 3 and p[0] == "RESULT":
                r[p[1]] = float(p[2])
def f(k):
    return f"{r[k]:.0f}" if k in r else "-"
def ratio(a, b):
    return f"{r[a] / r[b]:.2f}" if a in r and b in r and r[b] > 0 else "-"
print(f"ResNet-18 CIFAR-10 training step (forward, cross-entropy, backward, SGD), batch {batch}, img/s (median)")
print()
print("| precision | ctnn | PyTorch | ctnn / PyTorch |")
print("|---|---:|---:|---:|")
print(f"| fp32, TF32 off | {f('ctnn_fp32')} | {f('torch_fp32')} | {ratio('ctnn_fp32', 'torch_fp32')} |")
print(f"| fp32, TF32 allowed | {f('ctnn_tf32')} | {f('torch_tf32')} | {ratio('ctnn_tf32', 'torch_tf32')} |")
print(f"| fp32, TF32 off, ctnn step as one CUDA graph | {f('ctnn_fp32_graph')} | {f('torch_fp32')} | "
      f"{ratio('ctnn_fp32_graph', 'torch_fp32')} |")
print(f"| fp32, TF32 allowed, ctnn step as one CUDA graph | {f('ctnn_tf32_graph')} | {f('torch_tf32')} | "
      f"{ratio('ctnn_tf32_graph', 'torch_tf32')} |")
best = max((k for k in ("ctnn_fp32", "ctnn_tf32", "ctnn_fp32_graph", "ctnn_tf32_graph") if k in r),
           key=lambda k: r[k], default="ctnn_fp32")
print(f"| PyTorch channels_last + bf16 autocast (ctnn: its fastest, {best}) | {f(best)} | {f('torch_bf16_cl')} | "
      f"{ratio(best, 'torch_bf16_cl')} |")
print()
tests_log = os.path.join(logs, "cuda_tests.log")
skipped = os.path.exists(tests_log) and "skipping" in open(tests_log, errors="replace").read()
print("CUDA tests:", "SKIPPED (no GPU)" if skipped else "passed" if test_rc == 0 else f"FAILED (exit status {test_rc})")
PYEOF
echo "logs: $LOGS"
exit "$test_rc"
