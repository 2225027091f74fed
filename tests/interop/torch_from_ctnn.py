#!/usr/bin/env python3
"""ctnn -> PyTorch: the safetensors file that tests/interop/torch_logits.cpp saved from a ctnn
ResNet-18 (pytorch-cifar names) loads into the PyTorch model of torch_resnet.py with a strict
load_state_dict, and PyTorch's eval-mode logits on the fixture's input match ctnn's (relative error
<= 1e-4). Reads the file with its own few lines (no safetensors package). Exit code 77 (CTest:
skipped) without torch or without the files.

usage: torch_from_ctnn.py DIR
"""
import json
import os
import struct
import sys

try:
    import numpy as np
    import torch
except ImportError:
    print("torch is not installed (Debian: python3-torch; scripts/test.sh installs it): skipping")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_resnet import ResNet18  # noqa: E402

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        a = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(a.reshape(e["shape"]).copy())
    return out


def main(d):
    path, logits_path = os.path.join(d, "ctnn_resnet18.safetensors"), os.path.join(d, "ctnn_logits.f32")
    if not (os.path.exists(path) and os.path.exists(logits_path)):
        print(f"{path} or {logits_path} is missing (interop/torch_logits did not run): skipping")
        return 77
    torch.set_num_threads(2)
    model = ResNet18()
    model.load_state_dict(read_safetensors(path), strict=True)  # raises on any missing or unexpected key
    model.eval()
    x = torch.from_numpy(np.fromfile(os.path.join(d, "input.f32"), dtype="<f4").reshape(4, 3, 32, 32))
    with torch.no_grad():
        want = model(x).numpy()
    got = np.fromfile(logits_path, dtype="<f4").reshape(want.shape)
    err = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
    print(f"ctnn -> PyTorch: strict load_state_dict, relative error of the logits {err:.3g}")
    if not err <= 1e-4:
        print("the logits differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
