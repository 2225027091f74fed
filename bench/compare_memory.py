#!/usr/bin/env python3
"""Peak resident memory of a ResNet-18 CIFAR training step, ctnn beside PyTorch, one process each.

For each batch size, runs build/.../bench/bench_memory (ctnn: the memory plan's bytes and the peak
RSS) and the same step in PyTorch (Debian's python3-torch: forward, cross-entropy, backward, SGD with
momentum 0.9 and weight decay 5e-4, NCHW float32) in a fresh process, and prints one table.
Peak RSS is the whole process's (getrusage), so it includes each runtime's own code and libraries;
the "baseline" columns are each process's RSS before the network is built.

usage: /usr/bin/python3 bench/compare_memory.py [--build build/release] [--threads 2] [--batches 32 64 128]
"""
import argparse
import json
import os
import subprocess
import sys

TORCH_STEP = r"""
import json, resource, sys, torch, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[2]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
sys.path.insert(0, sys.argv[3])
from compare_pytorch import torch_resnet18  # the same network as the speed comparison
b = int(sys.argv[1])
net = torch_resnet18()
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
x = torch.randn(b, 3, 32, 32); y = torch.randint(0, 10, (b,))
for _ in range(3):
    opt.zero_grad(); F.cross_entropy(net(x), y).backward(); opt.step()
print(json.dumps({"batch": b, "baseline_rss": base, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def mb(n):
    return f"{n / 1e6:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128])
    a = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("compare_memory.py: needs PyTorch (Debian's python3-torch): run it with /usr/bin/python3")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    exe = os.path.join(a.build, "bench", "bench_memory")
    print("| batch | ctnn planned (MB) | ctnn peak RSS (MB) | PyTorch peak RSS (MB) | ctnn / PyTorch |")
    print("|---:|---:|---:|---:|---:|")
    for b in a.batches:
        c = json.loads(subprocess.run([exe, "--batch", str(b)], env=env, check=True, capture_output=True, text=True).stdout)
        t = json.loads(subprocess.run([sys.executable, "-c", TORCH_STEP, str(b), str(a.threads), os.path.dirname(os.path.abspath(__file__))], env=env, check=True,
                                      capture_output=True, text=True).stdout)
        print(f"| {b} | {mb(c['planned'])} | {mb(c['peak_rss'])} | {mb(t['peak_rss'])} | {c['peak_rss'] / t['peak_rss']:.2f} |",
              flush=True)
        print("  ctnn plan: " + ", ".join(f"{k} {mb(c[k])}" for k in ("parameters", "gradients", "optimizer_state",
              "activations", "activation_gradients", "workspace")) + f"; PyTorch before the network: {mb(t['baseline_rss'])} MB",
              file=sys.stderr)


if __name__ == "__main__":
    main()
