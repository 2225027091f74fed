#!/usr/bin/env python3
"""Fixture for tests/interop/torch_logits.cpp: a CIFAR ResNet-18 written here in PyTorch with the
module names of the pytorch-cifar repository (conv1, bn1, layer1..4 of BasicBlocks with conv1,
bn1, conv2, bn2 and a shortcut Sequential, linear), random weights and batch-norm statistics, saved
as a state_dict; its eval-mode logits on a fixed input; and the state_dict converted to safetensors
with scripts/pt_to_safetensors.py. Exit code 77 (CTest: skipped) when torch cannot be imported.

usage: torch_resnet.py OUT_DIR SOURCE_DIR
"""
import os
import subprocess
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("torch is not installed (Debian: python3-torch; scripts/test.sh installs it): skipping")
    sys.exit(77)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths, cin = [64, 128, 256, 512], 64
        for i, w in enumerate(widths):
            setattr(self, f"layer{i + 1}", nn.Sequential(Block(cin, w, 1 if i == 0 else 2), Block(w, w, 1)))
            cin = w
        self.linear = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main(out, source):
    torch.manual_seed(7)
    torch.set_num_threads(2)
    model = ResNet18()
    with torch.no_grad():  # statistics and affine parameters away from their defaults
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
    os.makedirs(out, exist_ok=True)
    torch.save({"net": model.state_dict(), "acc": 0.0, "epoch": 0}, os.path.join(out, "resnet18.pt"))
    x.numpy().astype("<f4").tofile(os.path.join(out, "input.f32"))
    logits.numpy().astype("<f4").tofile(os.path.join(out, "logits.f32"))
    for dtype in ("F32", "BF16"):
        subprocess.run([sys.executable, os.path.join(source, "scripts", "pt_to_safetensors.py"),
                        os.path.join(out, "resnet18.pt"), os.path.join(out, f"resnet18_{dtype}.safetensors"),
                        "--dtype", dtype], check=True)
    print(f"wrote the fixture to {out} (torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
