#!/usr/bin/env bash
# Builds the CIFAR-10 example in Release and trains ResNet-18:
#   - on CIFAR-10 when the binary files are in data/cifar-10-batches-bin (or $CIFAR10_DIR),
#     with the standard recipe (200 epochs, cosine; pass other options after --, e.g. -- --epochs 30);
#   - otherwise a short run on the built-in synthetic set, said plainly.
# Ends with history.csv and history.png (loss and error curves) in runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh python3-matplotlib
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target cifar10_resnet18
exe=build/release/examples/cifar10_resnet18/cifar10_resnet18
mkdir -p runs
[[ "${1:-}" == "--" ]] && shift
data="${CIFAR10_DIR:-data/cifar-10-batches-bin}"
if [[ -f "$data/data_batch_1.bin" ]]; then
  echo "== training ResNet-18 on CIFAR-10 from $data"
  "$exe" --data "$data" --log runs/history.csv --checkpoint runs/cifar10_resnet18.ckpt "$@"
else
  echo "== no CIFAR-10 in $data (get it with scripts/download_cifar10.sh data)."
  echo "== Running a SHORT demonstration on SYNTHETIC images instead (not CIFAR-10 accuracy)."
  "$exe" --synthetic 1024 --epochs 4 --batch 64 --lr 0.05 --log runs/history.csv \
    --checkpoint runs/synthetic_resnet18.ckpt "$@"
fi
# Debian's python3-matplotlib is for Debian's Python (/usr/bin/python3), which need not be the first
# python3 on PATH: plot with whichever Python can import matplotlib.
plot_python=""
for py in /usr/bin/python3 python3; do
  if command -v "$py" >/dev/null && "$py" -c "import matplotlib" 2>/dev/null; then
    plot_python="$py"
    break
  fi
done
[[ -n "$plot_python" ]] || { echo "train_cifar10.sh: no Python with matplotlib found (tried /usr/bin/python3, python3)" >&2; exit 1; }
"$plot_python" scripts/plot_history.py runs/history.csv runs/history.png
echo "== history: runs/history.csv, curves: runs/history.png"
