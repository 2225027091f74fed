#!/usr/bin/env python3
"""ResNet-18 (CIFAR stem, 10 classes) training-step throughput in PyTorch, the same step as
bench/gpu/train_step_cuda.cu: forward, CrossEntropyLoss, backward, SGD(lr 0.1, momentum 0.9,
Nesterov, weight decay 5e-4) on one fixed batch. The model is defined here (torchvision's
BasicBlock layout with a 3x3 stem and no max-pool), so torchvision is not needed.

Configurations (cudnn.benchmark on in all, as ctnn's per-layer algorithm search):
  torch_fp32          float32 with TF32 off through the current precision flags
                      (torch.backends.cudnn.conv.fp32_precision = "ieee",
                      torch.backends.cuda.matmul.fp32_precision = "ieee"; printed), which is what
                      ctnn's default computes
  torch_bf16_cl       channels_last + bf16 autocast, eager (the usual fast recipe; float32 work
                      that remains may use TF32, "tf32")
  torch_bf16_cl_compile  the same through torch.compile (compiled once per batch size; the compile
                      time is printed, not timed)

For each: warm-up steps, then `repeats` timed runs of `steps` steps (CUDA events), the median and
the peak of PyTorch's allocated memory during the timed steps printed as
  RESULT <name> <batch> <img/s> <peak MiB>
"""
import argparse
import statistics
import sys
import time

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


def set_fp32_precision(precision):
    """Sets and prints the float32 precision of cuDNN convolutions and matmuls ("ieee": no TF32,
    "tf32"). Older PyTorch without the precision flags gets the legacy allow_tf32 flags instead."""
    conv = getattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision", None)
    matmul = getattr(torch.backends.cuda.matmul, "fp32_precision", None)
    if conv is not None and matmul is not None:
        torch.backends.cudnn.conv.fp32_precision = precision
        torch.backends.cuda.matmul.fp32_precision = precision
        print(f"  torch.backends.cudnn.conv.fp32_precision = {torch.backends.cudnn.conv.fp32_precision!r}, "
              f"torch.backends.cuda.matmul.fp32_precision = {torch.backends.cuda.matmul.fp32_precision!r}")
    else:
        allow = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = allow
        torch.backends.cuda.matmul.allow_tf32 = allow
        print(f"  this PyTorch has no fp32_precision flags: legacy allow_tf32 = {allow} "
              f"(cudnn {torch.backends.cudnn.allow_tf32}, matmul {torch.backends.cuda.matmul.allow_tf32})")


def measure(name, batch, steps, repeats, warmup, channels_last, bf16, compile_model):
    print(f"{name}:")
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    # fp32: no TF32 anywhere. bf16 autocast: convolutions and matmuls run in bf16; what float32
    # work remains may use TF32, PyTorch's default for convolutions.
    set_fp32_precision("tf32" if bf16 else "ieee")
    dev = torch.device("cuda")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = ResNet18().to(dev).to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    crit = nn.CrossEntropyLoss()
    x = torch.randn(batch, 3, 32, 32, device=dev).to(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=dev)
    forward = torch.compile(model) if compile_model else model

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = crit(forward(x), y)
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    step()
    torch.cuda.synchronize()
    if compile_model:
        print(f"  first step (compilation) {time.perf_counter() - t0:.1f} s")
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
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
    peak = torch.cuda.max_memory_allocated() / 2**20
    print(f"  batch {batch}, {repeats} x {steps} steps: median {median:.0f} img/s "
          f"(min {min(rates):.0f}, max {max(rates):.0f}), {1e3 * batch / median:.3f} ms/step; "
          f"peak {peak:.0f} MiB; last loss {loss.item():.4f}")
    print(f"RESULT {name} {batch} {median:.1f} {peak:.1f}")
    sys.stdout.flush()
    del model, opt, forward
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true", help="leave out torch_bf16_cl_compile")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("pytorch_step.py: no GPU, nothing to measure")
        return
    print(f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}) "
          f"on {torch.cuda.get_device_name()}")
    args = (a.batch, a.steps, a.repeats, a.warmup)
    measure("torch_fp32", *args, channels_last=False, bf16=False, compile_model=False)
    measure("torch_bf16_cl", *args, channels_last=True, bf16=True, compile_model=False)
    if not a.no_compile:
        try:
            measure("torch_bf16_cl_compile", *args, channels_last=True, bf16=True, compile_model=True)
        except Exception as e:  # keep the other rows: say why this one is missing
            print(f"torch_bf16_cl_compile: failed: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
