#!/usr/bin/env bash
# Installs the Python packages the interop tests check ctnn's files with (onnx, onnxruntime, numpy)
# for the first python3 on PATH, when they are missing. A failure (no network, no wheel for this
# Python) is reported and not fatal: the tests that need them then skip with a message.
set -uo pipefail
python="${PYTHON:-python3}"
if "$python" -c "import onnx, onnxruntime, numpy" 2>/dev/null; then exit 0; fi
echo "ctnn: installing onnx, onnxruntime and numpy for $("$python" -c 'import sys; print(sys.executable)')"
if ! "$python" -m pip install --quiet --disable-pip-version-check onnx onnxruntime numpy; then
  echo "ctnn: could not install onnx/onnxruntime with pip; the ONNX interop tests will be skipped" >&2
fi
exit 0
