#!/usr/bin/env python3
"""ctnn's ONNX files against the real tools: onnx.checker (full check, with shape inference) and
ONNX Runtime's logits against ctnn's (relative error <= 1e-4) at batch 1 and 3, for the files the
test interop/onnx_export writes into DIR. Exit code 77 (CTest: skipped) when onnx or onnxruntime
cannot be imported (scripts/install_python_deps.sh installs them with pip).

usage: onnx_check.py DIR
"""
import os
import sys

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:
    print(f"{e}: install onnx and onnxruntime (scripts/install_python_deps.sh): skipping")
    sys.exit(77)


def main(d):
    worst = 0.0
    for stem, shape in (("mixed", (3, 16, 16)), ("resnet18", (3, 32, 32))):
        path = os.path.join(d, stem + ".onnx")
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version == 17, model.opset_import
        dim = model.graph.input[0].type.tensor_type.shape.dim[0]
        assert dim.dim_param == "batch", "the batch dimension must be dynamic"
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for batch in (1, 3):
            x = np.fromfile(os.path.join(d, f"{stem}_in_b{batch}.f32"), dtype="<f4").reshape((batch,) + shape)
            want = np.fromfile(os.path.join(d, f"{stem}_out_b{batch}.f32"), dtype="<f4")
            got = sess.run(None, {"input": x})[0].reshape(-1)
            err = float(np.abs(got - want).max() / np.abs(want).max())
            if batch > 1 and np.abs(want.reshape(batch, -1) - want.reshape(batch, -1)[0]).max() < 1e-6 * np.abs(want).max():
                print(f"FAIL: the fixture's logits do not depend on the input ({stem}): a check of nothing")
                return 1
            print(f"{stem} batch {batch}: {len(model.graph.node)} nodes, relative error {err:.3g}")
            worst = max(worst, err)
            if not err <= 1e-4:
                print(f"FAIL: ONNX Runtime's logits differ from ctnn's by {err}")
                return 1
    print(f"onnx {onnx.__version__} checker and ONNX Runtime {ort.__version__} agree with ctnn (worst {worst:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
