#!/usr/bin/env python3
"""ResNet-18 (CIFAR stem, 10 classes) training-step throughput in PyTorch, the same step as
bench/gpu/train_step_cuda.cu: forward, CrossEntropyLoss, backward, SGD(lr 0.1, momentum 0.9,
Nesterov, weight decay 5e-4). The model is defined here (torchvision's BasicBlock layout with a 3x3
stem and no max-pool), so torchvision is not needed.

Configurations (cudnn.benchmark on in all, as ctnn's per-layer algorithm search):
  torch_fp32       float32, TF32 off for convolutions and matmuls (what ctnn's default computes)
  torch_tf32       float32 with TF32 allowed (PyTorch's default for cuDNN convolutions)
  torch_bf16_cl    channels_last + bf16 autocast (the fast mixed-precision recipe)

For each: warm-up steps, then `repeats` timed runs of `steps` steps (CUDA events), median printed as
  RESULT <name> <img/s>
"""
import argparse
import statistics
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, width, stride), BasicBlock(width, width, 1)]
            cin = width
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def measure(name, batch, steps, repeats, warmup, tf32, channels_last, bf16):
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    dev = torch.device("cuda")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = ResNet18().to(dev).to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    crit = nn.CrossEntropyLoss()
    x = torch.randn(batch, 3, 32, 32, device=dev).to(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = crit(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    rates = []
    for _ in range(repeats):
        start.record()
        for _ in range(steps):
            loss = step()
        stop.record()
        stop.synchronize()
        rates.append(steps * batch / (start.elapsed_time(stop) * 1e-3))
    median = statistics.median(rates)
    print(f"{name}: batch {batch}, {repeats} x {steps} steps: median {median:.0f} img/s "
          f"(min {min(rates):.0f}, max {max(rates):.0f}), {1e3 * batch / median:.2f} ms/step; "
          f"last loss {loss.item():.4f}")
    print(f"RESULT {name} {median:.1f}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=10)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("pytorch_step.py: no GPU, nothing to measure")
        return
    print(f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}) "
          f"on {torch.cuda.get_device_name()}")
    args = (a.batch, a.steps, a.repeats, a.warmup)
    measure("torch_fp32", *args, tf32=False, channels_last=False, bf16=False)
    measure("torch_tf32", *args, tf32=True, channels_last=False, bf16=False)
    measure("torch_bf16_cl", *args, tf32=True, channels_last=True, bf16=True)


if __name__ == "__main__":
    main()
