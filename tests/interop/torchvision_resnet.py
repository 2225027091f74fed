#!/usr/bin/env python3
"""Fixture for tests/interop/torchvision_logits.cpp: torchvision's resnet18, resnet34 and resnet50
(untrained, weights=None: nothing is downloaded), batch-norm statistics and affine parameters moved
away from their defaults, in eval mode; for each, its logits on a fixed 2 x 3 x 64 x 64 input and
its state_dict converted to safetensors by scripts/pt_to_safetensors.py. Exit code 77 (CTest:
skipped) without torch or torchvision.

usage: torchvision_resnet.py OUT_DIR SOURCE_DIR
"""
import os
import subprocess
import sys

try:
    import torch
    import torchvision
except ImportError:
    print("torch or torchvision is not installed (Debian: python3-torch python3-torchvision; scripts/test.sh "
          "installs them): skipping")
    sys.exit(77)


def main(out, source):
    torch.manual_seed(11)
    torch.set_num_threads(2)
    os.makedirs(out, exist_ok=True)
    x = torch.randn(2, 3, 64, 64)
    x.numpy().astype("<f4").tofile(os.path.join(out, "tv_input.f32"))
    for name in ("resnet18", "resnet34", "resnet50"):
        model = getattr(torchvision.models, name)(weights=None)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        model.eval()
        with torch.no_grad():
            model(x).numpy().astype("<f4").tofile(os.path.join(out, f"tv_{name}_logits.f32"))
        pt = os.path.join(out, f"tv_{name}.pt")
        torch.save(model.state_dict(), pt)
        subprocess.run([sys.executable, os.path.join(source, "scripts", "pt_to_safetensors.py"), pt,
                        os.path.join(out, f"tv_{name}.safetensors")], check=True)
        os.remove(pt)
    print(f"wrote the torchvision fixture to {out} (torch {torch.__version__}, torchvision {torchvision.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
